#!/usr/bin/env bash
# Event stream benchmarks (see bench/README.md): the lag from a replay's publication to an SSE client's event at 10x
# speed, and 1,000 concurrent SSE clients on one api process. Needs MariaDB, Redis and mosquitto as for the tests.
# Usage: bench/sse.sh [SECONDS]   (default 60 per benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
export SSE_BENCH_SECONDS="${1:-60}"
export SSE_BENCH_CLIENTS="${SSE_BENCH_CLIENTS:-1000}"
ulimit -n 8192
cargo build --locked -p api
export API_BINARY="$PWD/target/debug/api"
cargo test --locked --test it -- --ignored --nocapture --test-threads 1 sse_bench:: 2>&1 \
  | grep -E "SSE (lag|fan-out)|panicked|test result"
