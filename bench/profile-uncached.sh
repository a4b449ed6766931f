#!/usr/bin/env bash
# Instruction counts of uncached lap-times charts (issue 10): repeatable on a noisy shared machine, where seconds
# are not. Builds the release example `examples/uncached_chart_profile.rs`, seeds a fresh MariaDB database with the
# recorded session 9472, then runs the api in process under `valgrind --tool=callgrind` twice: answering 0 and N
# distinct uncached `GET /v1/sessions/9472/charts/lap-times?lap_min=A&lap_max=B&drivers=…` requests (Redis as the
# shared cache). (I(N) - I(0)) / N is the instruction count of one miss, from request bytes to response bytes
# (client side of MariaDB and Redis included; their servers are other processes). Prints the top functions by own (exclusive) instructions.
#
# Usage, from the project's root:  bench/profile-uncached.sh [N=100] [ACCEPT_ENCODING (default none, like wrk)]
# Needs: valgrind, MariaDB root on TEST_DATABASE_ADMIN_URL (default mysql://root@127.0.0.1:3306), Redis on
# TEST_REDIS_URL (default redis://127.0.0.1:6379). Keeps callgrind.out.* in $PROFILE_OUT (default target/profile).
set -euo pipefail
count=${1:-100}; coding=${2:-}
out=${PROFILE_OUT:-target/profile}; mkdir -p "$out"
nice cargo build --release --locked -q --example uncached_chart_profile
bin=target/release/examples/uncached_chart_profile
rm -f "$out"/run.*.txt
url=$("$bin" seed | tail -n 1)
cleanup() {
  "$bin" drop "$url" || true
  for prefix in $(awk '/^prefix/{print $2}' "$out"/run.*.txt 2>/dev/null); do
    redis-cli -u "${TEST_REDIS_URL:-redis://127.0.0.1:6379}" --scan --pattern "$prefix*" \
      | xargs -r redis-cli -u "${TEST_REDIS_URL:-redis://127.0.0.1:6379}" del >/dev/null || true
  done
}
trap cleanup EXIT
instructions() { # N -> total instructions of a run answering N charts
  local file="$out/callgrind.out.$1${coding:+.$coding}"
  valgrind --tool=callgrind --callgrind-out-file="$file" "$bin" run "$url" "$1" $coding >"$out/run.$1.txt" 2>"$out/valgrind.$1.txt"
  awk '/^summary:/{print $2}' "$file"
}
base=$(instructions 0)
total=$(instructions "$count")
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+dirty'), Accept-Encoding: ${coding:-none}"
echo "startup (0 charts): $base instructions; $count charts: $total"
echo "per uncached chart: $(( (total - base) / count )) instructions"
echo
callgrind_annotate "$out/callgrind.out.$count${coding:+.$coding}" 2>/dev/null | sed -n "/file:function/,\$p" | head -n 42 | cut -c1-180
