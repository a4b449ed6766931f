#!/usr/bin/env bash
# Fuzzes the api against its OpenAPI document with schemathesis: an ignored Rust test seeds a SQLite database with
# the recorded fixtures, starts the api on a free port and runs `schemathesis run` against /openapi.json with every
# check (no 5xx, responses conform to the spec). Environment: FUZZ_MAX_EXAMPLES (default 50 per operation),
# SCHEMATHESIS (the command, default `schemathesis`), CARGO_TARGET_DIR as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v "${SCHEMATHESIS:-schemathesis}" >/dev/null 2>&1; then
  python3 -m pip install --quiet schemathesis
fi
exec cargo test --workspace --locked --test it -- --ignored --nocapture \
  api_fuzz::schemathesis_finds_no_server_errors_or_spec_violations
