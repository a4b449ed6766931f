#!/usr/bin/env bash
# Benchmark chart endpoints against a running API: cached, conditional (ETag), uncached, and the static
# ceiling (the same figure bytes served as a file). Usage: bench/charts.sh http://127.0.0.1:8080 [9472] [30s]
set -euo pipefail

api_url=${1:?usage: bench/charts.sh API_URL [SESSION_KEY] [DURATION]}
session_key=${2:-9472}
duration=${3:-30s}
connections=${CONNECTIONS:-64}
charts=(${CHARTS:-lap-times position-changes tyre-strategy team-pace})

command -v oha >/dev/null || { echo "oha is required: cargo install oha" >&2; exit 1; }
workdir=$(mktemp -d)
trap 'kill "${static_pid:-}" 2>/dev/null || true; rm -rf "$workdir"' EXIT

report() { # name, oha json file
  python3 - "$1" "$2" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
result = json.load(open(path))
summary, latency = result["summary"], result["latencyPercentiles"]
print(f"{name:45s} {summary['requestsPerSec']:10.0f} req/s  p50 {latency['p50']*1000:7.2f} ms  "
      f"p99 {latency['p99']*1000:7.2f} ms  success {summary['successRate']*100:5.1f}%  "
      f"{summary.get('sizePerRequest') or 0:8.0f} B")
PY
}

run() { # name, extra oha args..., url
  local name=$1; shift
  oha --no-tui --output-format json -z "$duration" -c "$connections" "$@" > "$workdir/result.json"
  report "$name" "$workdir/result.json"
}

# Static ceiling: serve the saved figures from a minimal file server on the same machine.
mkdir -p "$workdir/static"
for chart in "${charts[@]}"; do
  url="$api_url/v1/sessions/$session_key/charts/$chart"
  curl -fsS "$url" -o "$workdir/static/$chart.json"
done
python3 -m http.server 0 --bind 127.0.0.1 --directory "$workdir/static" > "$workdir/static.log" 2>&1 &
static_pid=$!
for _ in $(seq 1 100); do grep -q "Serving HTTP" "$workdir/static.log" && break; sleep 0.05; done
static_port=$(grep -o 'port [0-9]*' "$workdir/static.log" | awk '{print $2}')

for chart in "${charts[@]}"; do
  url="$api_url/v1/sessions/$session_key/charts/$chart"
  curl -fsS "$url" > /dev/null   # fill the cache
  etag=$(curl -fsSI "$url" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
  run "$chart cached" "$url"
  [ -n "$etag" ] && run "$chart conditional (304)" -H "If-None-Match: $etag" "$url"
  # Uncached: requests spread over 450 lap ranges, so misses dominate only until each range is cached once;
  # for a strict uncached figure run the API with caching disabled (or flush the chart keys) and use plain $url.
  run "$chart mostly uncached (450 lap ranges)" --rand-regex-url "$url\?laps=[1-9]-[1-5][0-9]"
  run "$chart static ceiling (python http.server)" "http://127.0.0.1:$static_port/$chart.json"
done
echo "Note: python http.server is a weak ceiling; for a fair one serve $workdir/static from the API's static route."
