#!/usr/bin/env bash
# Fuzzes the api against its OpenAPI document with schemathesis: an ignored Rust test seeds a SQLite database with
# the recorded fixtures, starts the api on a free port and runs `schemathesis run` against /openapi.json with every
# check (no 5xx, responses conform to the spec). With --with-keys, the api requires an API key and rate limits
# (budgets too large to be reached), and schemathesis sends the key (and checks that requests without it get 401).
# Environment: FUZZ_MAX_EXAMPLES (default 50 per operation, 10 with --with-keys), SCHEMATHESIS (the command,
# default `schemathesis`), CARGO_TARGET_DIR as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") test=api_fuzz::schemathesis_finds_no_server_errors_or_spec_violations ;;
  --with-keys) test=api_fuzz::schemathesis_with_api_keys_finds_no_server_errors_or_spec_violations ;;
  *) echo "usage: $0 [--with-keys]" >&2; exit 2 ;;
esac
# schemathesis.toml binds parameters to dictionaries, which needs schemathesis 4.32 or later (the version tested).
installed=$("${SCHEMATHESIS:-schemathesis}" --version 2>/dev/null | awk '{print $NF}' || true)
if ! python3 -c 'import sys; v = tuple(int(part) for part in sys.argv[1].split(".")[:2]); sys.exit(v < (4, 32))' \
  "${installed:-0.0}" 2>/dev/null; then
  python3 -m pip install --quiet --upgrade 'schemathesis>=4.32'
fi
exec cargo test --workspace --locked --test it -- --ignored --nocapture --exact "$test"
