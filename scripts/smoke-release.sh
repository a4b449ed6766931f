#!/usr/bin/env bash
# Runs the release binaries the way docker-compose.yml runs the containers: the same environment and the same
# commands, taken from `docker-compose config`, against the MariaDB and Redis of this machine. The only changes:
# container host names point at 127.0.0.1 (`mysql`, `redis`, listen ports picked free), the database is a fresh
# `f1_smoke_*` one, and OPENF1_BASE_URL points at the local Open F1 server serving the recorded fixtures.
#
# Steps: create the database and both users (the api user via deploy/mysql-init/01-api-user.sh, SELECT only),
# `worker migrate`, `worker backfill --session 9472`, the `worker` daemon and the `api` (SELECT-only user),
# both `healthcheck` subcommands, a few requests, then SIGTERM and a clean exit for both.
# Needs root (or sudo) for `mariadb` over the unix socket, docker-compose and python3-yaml (see validate-deploy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/common.sh
source scripts/common.sh
# The init script uses the MariaDB image's `docker_process_sql` when it exists: here it is our admin client.
docker_process_sql() { admin_sql "$@"; }
export -f as_root admin_sql docker_process_sql
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
wait_for() { # wait_for SECONDS COMMAND...: polls COMMAND until it succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.2; done
}

cargo build --release --locked -p api -p worker -p openf1-server
binaries="$PWD/target/release"

database="f1_smoke_$$"
api_port=$(free_port); api_metrics_port=$(free_port); worker_port=$(free_port); openf1_port=$(free_port)
resolved=$(mktemp); trap 'rm -f "$resolved"' EXIT
# Configured like an operator would, through the compose file's variables: our own database, and rate limits
# suited to the local Open F1 server instead of the public API's 3 req/s and 30 req/min.
DB_NAME="$database" OPENF1_MAX_REQUESTS_PER_SECOND=500 OPENF1_MAX_REQUESTS_PER_MINUTE=30000 \
  docker-compose -f docker-compose.yml config > "$resolved"

pids=()
cleanup() {
  cleanup_run "$database" "f1_worker f1_api" "${pids[@]}"
  rm -f "$resolved"
}
trap cleanup EXIT

# Users as the mysql container creates them: the read-write user by the image, the api user by our init script.
create_database_with_user "$database" f1_worker change-me-worker
F1_API_DB_USER=f1_api F1_API_DB_PASSWORD=change-me-api MARIADB_DATABASE="$database" \
  bash deploy/mysql-init/01-api-user.sh

rewrites=("@mysql:3306=@127.0.0.1:3306" "redis://redis:6379=redis://127.0.0.1:6379"
  "0.0.0.0:8080=127.0.0.1:$api_port" "0.0.0.0:9464=127.0.0.1:$api_metrics_port" "0.0.0.0:9091=127.0.0.1:$worker_port"
  "https://api.openf1.org/v1=http://127.0.0.1:$openf1_port/v1" "https://api.openf1.org/token=http://127.0.0.1:$openf1_port/token")

# run_service SERVICE BINARY [ARGS...]: runs BINARY with SERVICE's resolved environment (and no other variables but
# PATH and HOME), with ARGS or, without ARGS, the service's own command.
run_service() {
  local service=$1 binary=$2; shift 2
  local -a environment=() command=()
  while IFS= read -r -d '' line; do
    case "$line" in
      COMMAND=*) mapfile -t command < <(/usr/bin/python3 -c 'import json,sys; sys.stdout.write("".join(a + "\n" for a in json.loads(sys.argv[1])))' "${line#COMMAND=}") ;;
      *) environment+=("$line") ;;
    esac
  done < <(/usr/bin/python3 scripts/compose-env.py "$service" "${rewrites[@]}" < "$resolved")
  [ $# -gt 0 ] && command=("$@")
  if [ -n "${exec_binary:-}" ]; then
    exec env -i PATH="$PATH" HOME="$HOME" "${environment[@]}" "$binaries/$binary" "${command[@]}"
  fi
  env -i PATH="$PATH" HOME="$HOME" "${environment[@]}" "$binaries/$binary" "${command[@]}"
}
# start_service SERVICE BINARY: like run_service, in the background, as the binary's own process (so that a
# signal sent to $! reaches the binary, as `docker stop` signals a container's PID 1).
start_service() {
  local service=$1 binary=$2
  ( exec_binary=1 run_service "$service" "$binary" ) &
}

echo "smoke: local Open F1 server on :$openf1_port"
"$binaries/openf1-server" --fixtures tests/fixtures/openf1 --listen "127.0.0.1:$openf1_port" >/dev/null 2>&1 &
pids+=($!)
wait_for 20 curl -fsS "http://127.0.0.1:$openf1_port/" || fail "the local Open F1 server did not start"

echo "smoke: migrate (the compose 'migrate' service)"
run_service migrate worker || fail "worker migrate"

echo "smoke: backfill one recorded race with the worker's environment"
run_service worker worker backfill --session 9472 || fail "worker backfill"

echo "smoke: worker daemon"
start_service worker worker > /tmp/smoke-worker.log 2>&1
worker_pid=$!; pids+=("$worker_pid")
wait_for 30 run_service worker worker healthcheck || fail "worker healthcheck (log: /tmp/smoke-worker.log)"

echo "smoke: api with the SELECT-only user"
start_service api api > /tmp/smoke-api.log 2>&1
api_pid=$!; pids+=("$api_pid")
wait_for 30 run_service api api healthcheck || fail "api healthcheck (log: /tmp/smoke-api.log)"
base="http://127.0.0.1:$api_port"
expect_body() { # expect_body PATH PATTERN: GET PATH must succeed with a body matching PATTERN
  local body; body=$(curl -fsS "$base$1") && grep -q -- "$2" <<<"$body"
}
curl -fsS "$base/readyz" >/dev/null || fail "/readyz"
expect_body "/openapi.json" '"openapi"' || fail "/openapi.json"
curl -fsS "$base/docs" >/dev/null || fail "/docs"
expect_body "/v1/sessions/9472" '"session_key":9472' || fail "session 9472"
expect_body "/v1/sessions/9472/laps?driver_number=1&limit=5" '"lap_number"' || fail "laps"
expect_body "/v1/sessions/9472/charts/lap-times" '"layout"' || fail "lap-times chart"
curl -fsS "http://127.0.0.1:$api_metrics_port/metrics" | grep -q 'http' || fail "/metrics on API_METRICS_ADDRESS"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")" = 404 ] || fail "/metrics must not be on the public port"

echo "smoke: SIGTERM stops both cleanly"
kill -TERM "$api_pid" "$worker_pid"
wait "$api_pid" || fail "api exit status $?"
wait "$worker_pid" || fail "worker exit status $?"
pids=("${pids[0]}")
echo "smoke: release binaries OK"
