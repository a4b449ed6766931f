#!/usr/bin/env bash
# Streaming benchmark of the Open F1 drop-in: peak resident memory of the api and time to first byte while it
# serves a whole SYNTHETIC session of car_data / location (600,000 rows each), on MariaDB and on SQLite.
# Source: api/examples/openf1_stream_bench.rs (it fills a fresh database, starts the release api binary on it and
# measures each request). Usage: bench/openf1-stream.sh [mysql admin URL]   Needs: MariaDB (root over TCP).
set -euo pipefail
cd "$(dirname "$0")/.."
admin_url=${1:-mysql://root@127.0.0.1:3306}
cargo build --release --locked -q -p api --bin api --example openf1_stream_bench
target_dir=${CARGO_TARGET_DIR:-target}
echo "Open F1 drop-in streaming benchmark, $(nproc) cores, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
for engine in "$admin_url" sqlite; do
  echo
  echo "### ${engine%%://*}"
  echo
  "$target_dir/release/examples/openf1_stream_bench" "$target_dir/release/api" "$engine"
done
