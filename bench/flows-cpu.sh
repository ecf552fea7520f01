#!/usr/bin/env bash
# Client CPU per message of wsbench flows against a build of an earlier commit (docs/benchmarks.md, "Flows").
#   bench/flows-cpu.sh BASE_WSBENCH NEW_WSBENCH [ROUNDS] [CONNS] [RATE] [SECONDS]
# One server (BASE_WSBENCH serve, the same for every run) on loopback; per round, alternating:
#   base: the built-in echo of the earlier build (open model, 128-byte text)
#   echo: the built-in echo of this build, now a flow (same flags)
#   json: the hand-written echo-json flow of this build (JSON correlated by an id field,
#         body padded so that a request is 128 bytes)
# Each prints: name, client CPU seconds (user+sys, getrusage of the wsbench process), messages
# sent, CPU µs per message, p50/p99 ms. Run under the benchmark lock:
#   flock /tmp/wsfleet-bench.lock bench/flows-cpu.sh /tmp/wsb-base /tmp/wsb-new
set -euo pipefail
base=$1 new=$2 rounds=${3:-3} conns=${4:-1000} rate=${5:-20000} secs=${6:-10}
out=$(mktemp -d)
mkfifo "$out/stdin"
"$base" serve -addr 127.0.0.1:0 -stdin-eof-exit <"$out/stdin" >"$out/server" 2>/dev/null &
server=$!
exec 4>"$out/stdin"   # the server lives while this is open
for _ in $(seq 100); do grep -q LISTENING "$out/server" && break; sleep 0.1; done
url=$(awk '/LISTENING/ {print $2}' "$out/server")
body=$(printf 'x%.0s' $(seq 97))   # {"id":NNN,"conn":NNN,"body":"…"} = 128 bytes
common=(-c "$conns" -d "${secs}s" -warmup 2s -q)
report() {
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
cpu = r["cpu"]["user_s"] + r["cpu"]["sys_s"]
sent = r["messages"]["sent_total"]
lat = r["latency"] if r["latency"]["count"] else r["metrics"][0]["latency"]
print(f'{sys.argv[1]:5} cpu_s {cpu:6.2f} sent {sent:8d} cpu_us_per_msg {1e6*cpu/max(sent,1):6.2f} p50_ms {lat["p50_ms"]:.3f} p99_ms {lat["p99_ms"]:.3f}')
PY
}
echo "# $(date -u +%FT%TZ) conns=$conns rate=$rate/s secs=$secs rounds=$rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$rounds"); do
  "$base" run "${common[@]}" -model open -r "$rate" -size 128 -json "$out/base.json" "$url/echo" >/dev/null 2>&1 || true
  report base "$out/base.json"
  "$new" run "${common[@]}" -model open -r "$rate" -size 128 -json "$out/echo.json" "$url/echo" >/dev/null 2>&1 || true
  report echo "$out/echo.json"
  "$new" run "${common[@]}" -flow echo-json -set "rate=$rate/s" -set "body=$body" -json "$out/json.json" "$url/echo" >/dev/null 2>&1 || true
  report json "$out/json.json"
done
echo "# end $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
exec 4>&-
wait "$server" || true
rm -rf "$out"
