#!/usr/bin/env bash
# Fuzzes the api against its OpenAPI document with schemathesis: an ignored Rust test seeds a SQLite database with
# the recorded fixtures, starts the api on a free port and runs `schemathesis run` against /openapi.json with every
# check (no 5xx, responses conform to the spec). Environment: FUZZ_MAX_EXAMPLES (default 50 per operation),
# SCHEMATHESIS (the command, default `schemathesis`), CARGO_TARGET_DIR as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
# schemathesis.toml binds parameters to dictionaries, which needs schemathesis 4.32 or later (the version tested).
installed=$("${SCHEMATHESIS:-schemathesis}" --version 2>/dev/null | awk '{print $NF}' || true)
if ! python3 -c 'import sys; v = tuple(int(part) for part in sys.argv[1].split(".")[:2]); sys.exit(v < (4, 32))' \
  "${installed:-0.0}" 2>/dev/null; then
  python3 -m pip install --quiet --upgrade 'schemathesis>=4.32'
fi
exec cargo test --workspace --locked --test it -- --ignored --nocapture \
  api_fuzz::schemathesis_finds_no_server_errors_or_spec_violations
