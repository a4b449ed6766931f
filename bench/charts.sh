#!/usr/bin/env bash
# Chart endpoint benchmark with wrk: cached, conditional (304) and uncached chart requests per second and
# latency percentiles, against the ceiling: the same figure bytes served as a static file by the same api process
# (`/viewer/sample-figure.json` is the lap-times figure of session 9472, byte for byte; the script checks it).
#
# Sets everything up itself: release binaries; a fresh MariaDB database filled by `worker backfill --session 9472`
# from the recorded fixtures through the local Open F1 server; the api on that database with Redis as its cache.
# Usage: bench/charts.sh [SECONDS_PER_CASE]     Needs: wrk (apt-get install wrk), MariaDB, Redis, root for MariaDB.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 1; }

# shellcheck source=scripts/common.sh
source scripts/common.sh

cargo build --release --locked -q -p api -p worker -p openf1-server
binaries="$PWD/target/release"
database="f1_bench_$$"; user="f1_bench_$$"; password="bench-$$"
api_port=$(free_port); openf1_port=$(free_port)
work=$(mktemp -d)
pids=()
cleanup() {
  cleanup_run "$database" "$user" "${pids[@]}"
  rm -rf "$work"
}
trap cleanup EXIT
create_database_with_user "$database" "$user" "$password"

export DATABASE_URL="mysql://$user:$password@127.0.0.1:3306/$database" REDIS_URL="redis://127.0.0.1:6379"
export CACHE_PREFIX="f1bench$$" RUST_LOG=warn
"$binaries/openf1-server" --fixtures tests/fixtures/openf1 --listen "127.0.0.1:$openf1_port" >/dev/null 2>&1 &
pids+=($!)
until curl -fsS "http://127.0.0.1:$openf1_port/" >/dev/null 2>&1; do sleep 0.1; done
OPENF1_BASE_URL="http://127.0.0.1:$openf1_port/v1" OPENF1_MAX_REQUESTS_PER_SECOND=500 \
  OPENF1_MAX_REQUESTS_PER_MINUTE=30000 WORKER_METRICS_ADDRESS=127.0.0.1:0 \
  sh -c "'$binaries/worker' migrate && '$binaries/worker' backfill --session 9472" >/dev/null
API_LISTEN_ADDRESS="127.0.0.1:$api_port" API_METRICS_ADDRESS=127.0.0.1:0 API_RUN_MIGRATIONS=false "$binaries/api" >"$work/api.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$api_port"
until curl -fsS "$base/healthz" >/dev/null 2>&1; do sleep 0.1; done

chart="$base/v1/sessions/9472/charts/lap-times"
static="$base/viewer/sample-figure.json"
curl -fsS "$chart" -o "$work/chart.json"
curl -fsS "$static" -o "$work/static.json"
cmp -s "$work/chart.json" "$work/static.json" || echo "warning: the sample figure differs from the chart endpoint's bytes" >&2
etag=$(curl -fsSI "$chart" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')

# Every request of the uncached case asks for a distinct lap range (lap_min=A&lap_max=B, 1 <= A <= B <= 57) with one
# of the 20 drivers left out: 33,060 keys, so each request misses the cache and builds the figure from the database
# (19 drivers instead of 20); threads take disjoint keys.
cat > "$work/uncached.lua" <<'LUA'
local thread_count = 0
function setup(thread) thread:set("id", thread_count); thread_count = thread_count + 1 end
function init(args)
  ranges, counter, step = {}, 0, tonumber(args[1])
  local cars = {1, 2, 3, 4, 10, 11, 14, 16, 18, 20, 22, 23, 24, 27, 31, 44, 55, 63, 77, 81}
  for left_out = 1, #cars do
    local drivers = {}
    for position, car in ipairs(cars) do if position ~= left_out then drivers[#drivers + 1] = car end end
    local selection = table.concat(drivers, ",")
    for first = 1, 57 do
      for last = first, 57 do ranges[#ranges + 1] = first .. "&lap_max=" .. last .. "&drivers=" .. selection end
    end
  end
end
function request()
  local index = (id + step * counter) % #ranges + 1
  counter = counter + 1
  return wrk.format("GET", "/v1/sessions/9472/charts/lap-times?lap_min=" .. ranges[index])
end
LUA

report() { # name, wrk output file
  python3 - "$1" "$2" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
rate = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
requests = re.search(r"(\d+) requests in", text).group(1)
percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", text, re.M))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"| {name} | {float(rate):,.0f} | {percentiles.get('50')} | {percentiles.get('99')} | {requests} | {errors.group(1) if errors else 0} |")
PY
}
run() { # name, wrk arguments...
  local name=$1; shift
  wrk --latency -d "${duration}s" "$@" > "$work/wrk.txt"
  report "$name" "$work/wrk.txt"
}

echo "Chart benchmark, $(nproc) cores, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), ${duration}s per case"
echo "figure: lap-times of session 9472, $(wc -c < "$work/chart.json") bytes"
echo
echo "| case | req/s | p50 | p99 | requests | errors |"
echo "|---|---|---|---|---|---|"
run "static ceiling: same bytes, same server" -t 2 -c "$connections" "$static"
run "cached chart (Redis hit)" -t 2 -c "$connections" "$chart"
run "conditional chart (304 Not Modified)" -t 2 -c "$connections" -H "If-None-Match: $etag" "$chart"
run "uncached chart (distinct lap ranges, 2 connections)" -t 2 -c 2 -s "$work/uncached.lua" "$base" -- 2
echo
echo "The uncached case has 33,060 distinct keys; had it made more requests than that, the rest would be cache hits."
