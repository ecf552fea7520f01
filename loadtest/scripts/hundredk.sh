#!/usr/bin/env bash
# hundredk.sh — hold 100,000 WebSocket connections on one host, loopback only.
#
# One process may hold at most RLIMIT_NOFILE files (20,000 on the project's machines), so the
# clients run as SHARDS wsbench processes (`-shard i/SHARDS`, ~16.7k connections each for 6)
# and the other ends as SERVERS `wsbench serve` processes (12.5k each for 8), on ports
# BASEPORT.. of 127.0.0.1. Connections are spread over the source addresses 127.0.0.2-.200
# (-source-ips), so no (source, destination) pair comes near the ~28k ephemeral ports.
# Every shard waits for the same -start-at; connection id k is dialed at k/RAMP s, so all
# shards ramp together at RAMP connections/s; the warm-up covers the ramp, then the
# connections are held HOLD with keepalive pings every PING. Afterwards the shards' JSON
# results are merged (`wsbench merge`) and the figures printed: connections opened, failed,
# dropped, still open at the end; when the last connection opened; memory (max RSS of every
# process, and per connection) and CPU of the clients and of the servers.
#
# Everything it starts is bounded (`timeout`) and killed on exit, by process id.
#
#   loadtest/scripts/hundredk.sh                       # 100k, 6 shards, 8 servers, 5000/s, 60 s held
#   CONNS=20000 SHARDS=2 SERVERS=2 HOLD=20 loadtest/scripts/hundredk.sh
#
# Environment: CONNS (100000), SHARDS (6), SERVERS (8), BASEPORT (18600: the first port tried), RAMP (5000 conn/s),
# HOLD (60, seconds), PING (10s), SOURCE_IPS (127.0.0.2-127.0.0.200), OUT (a new temporary directory;
# the JSON results, reports and logs stay there), WSBENCH (a wsbench binary; default: build
# ./cmd/wsbench into OUT). Needs GNU time (/usr/bin/time) for the clients' max RSS and jq for
# the time-to-establish figure (both optional).
set -uo pipefail
cd "$(dirname "$0")/../.."

CONNS=${CONNS:-100000}
SHARDS=${SHARDS:-6}
SERVERS=${SERVERS:-8}
BASEPORT=${BASEPORT:-18600}
RAMP=${RAMP:-5000}
HOLD=${HOLD:-60}
PING=${PING:-10s}
SOURCE_IPS=${SOURCE_IPS:-127.0.0.2-127.0.0.200}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/hundredk-XXXXXX")}
mkdir -p "$OUT"

per_shard=$(((CONNS + SHARDS - 1) / SHARDS))
per_server=$(((CONNS + SERVERS - 1) / SERVERS))
nofile=$(ulimit -Hn)
if [ "$nofile" != unlimited ]; then
	[ $((per_shard + 200)) -le "$nofile" ] || { echo "hundredk: $per_shard connections per shard exceed the open-file limit $nofile: raise SHARDS" >&2; exit 2; }
	[ $((per_server + 200)) -le "$nofile" ] || { echo "hundredk: $per_server connections per server exceed the open-file limit $nofile: raise SERVERS" >&2; exit 2; }
fi

if [ -z "${WSBENCH:-}" ]; then
	WSBENCH=$OUT/wsbench
	go build -o "$WSBENCH" ./cmd/wsbench || exit 1
fi
TIME=()
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -v)

hold_s=${HOLD%s} # whole seconds, "60" or "60s"
ramp_s=$(((CONNS + RAMP - 1) / RAMP))
warmup_s=$((ramp_s + 5))                 # the ramp, and 5 s for the last dials to finish
bound=$((warmup_s + hold_s + 90))        # every process is killed after this many seconds

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 1
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Servers: wsbench serve on 127.0.0.1:BASEPORT+i. `timeout` bounds each; the script stops
# them with SIGTERM (they print their counts) after reading their memory and CPU.
# A port that still has sockets (TIME_WAIT from an earlier run included) is skipped: the
# reference server does not set SO_REUSEADDR, so it could not bind it for a minute.
port_busy() { [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null | head -1)" ]; }
urls=()
spids=()
port=$((BASEPORT - 1))
for ((i = 0; i < SERVERS; i++)); do
	port=$((port + 1))
	while port_busy $port && [ $port -lt $((BASEPORT + 1000)) ]; do port=$((port + 1)); done
	timeout $((bound + 30)) "$WSBENCH" serve -addr 127.0.0.1:$port >"$OUT/server-$i.out" 2>"$OUT/server-$i.err" &
	pids+=($!)
	spids+=($!)
	urls+=("ws://127.0.0.1:$port/echo")
done
for ((i = 0; i < SERVERS; i++)); do
	for _ in $(seq 50); do grep -q LISTENING "$OUT/server-$i.out" 2>/dev/null && break; sleep 0.1; done
	grep -q LISTENING "$OUT/server-$i.out" || { echo "hundredk: server $i did not start:" >&2; cat "$OUT/server-$i.err" >&2; exit 1; }
done
# the real server processes (timeout forks them)
srv=()
for p in "${spids[@]}"; do
	c=$(pgrep -P "$p" | head -1)
	srv+=("${c:-$p}")
done

at=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
echo "hundredk: $CONNS connections, $SHARDS shards of ~$per_shard, $SERVERS servers (~$per_server each), ramp $RAMP/s (${ramp_s} s), held ${hold_s} s after a ${warmup_s} s warm-up, ping $PING; start $at; load average $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
cpids=()
for ((i = 0; i < SHARDS; i++)); do
	tv=()
	[ ${#TIME[@]} -gt 0 ] && tv=("${TIME[@]}" -o "$OUT/shard-$i.time")
	timeout $bound "${tv[@]}" "$WSBENCH" run -scenario soak -c "$CONNS" -shard "$i/$SHARDS" -start-at "$at" \
		-ramp "$RAMP" -warmup "${warmup_s}s" -d "${hold_s}s" -ping "$PING" -source-ips "$SOURCE_IPS" -q \
		-json "$OUT/shard-$i.json" "${urls[@]}" >"$OUT/shard-$i.txt" 2>"$OUT/shard-$i.err" &
	pids+=($!)
	cpids+=($!)
done

# While the connections are held, record what the servers and the machine look like.
sleep $((5 + warmup_s + hold_s / 2))
{
	echo "mid-hold $(date -u +%H:%M:%S): load average $(cut -d' ' -f1-3 /proc/loadavg); $(grep -E '^(MemAvailable)' /proc/meminfo | tr -s ' ')"
	echo "sockets: $(head -2 /proc/net/sockstat | tail -1)"
} | tee "$OUT/midhold.txt"

fail=0
for ((i = 0; i < SHARDS; i++)); do
	wait "${cpids[$i]}" || { echo "hundredk: shard $i exited with status $? (see $OUT/shard-$i.err)" >&2; fail=1; }
done

# Servers: peak memory and CPU from /proc before stopping them.
srv_rss=0
srv_cpu=0
tck=$(getconf CLK_TCK)
for ((i = 0; i < SERVERS; i++)); do
	p=${srv[$i]}
	hwm=$(awk '/^VmHWM/ {print $2}' /proc/$p/status 2>/dev/null)
	ticks=$(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null)
	srv_rss=$((srv_rss + ${hwm:-0}))
	srv_cpu=$((srv_cpu + ${ticks:-0}))
	kill "$p" 2>/dev/null
done
for p in "${spids[@]}"; do wait "$p" 2>/dev/null; done

echo
echo "== merged result of $SHARDS shards =="
"$WSBENCH" merge -json "$OUT/merged.json" "$OUT"/shard-*.json | tee "$OUT/merged.txt"
echo
echo "== servers =="
cat "$OUT"/server-*.err

cli_rss=0
cli_cpu=0
for ((i = 0; i < SHARDS; i++)); do
	f=$OUT/shard-$i.time
	[ -f "$f" ] || continue
	r=$(awk -F': ' '/Maximum resident/ {print $2}' "$f")
	u=$(awk -F': ' '/User time/ {print $2}' "$f")
	s=$(awk -F': ' '/System time/ {print $2}' "$f")
	cli_rss=$((cli_rss + ${r:-0}))
	cli_cpu=$(echo "$cli_cpu + ${u:-0} + ${s:-0}" | bc)
	echo "shard $i: max RSS ${r} KiB, CPU user ${u} s sys ${s} s"
done

echo
echo "== figures =="
if command -v jq >/dev/null; then
	jq -r --argjson n "$CONNS" '
		"connections  target \(.connections.target), opened \(.connections.opened), failed \(.connections.failed), dropped \(.connections.dropped), held at the end \(.connections.opened - .connections.dropped), peak (sum of shards) \(.connections.peak)",
		"established  all \($n) open after \(([.series[] | select(.open >= $n) | .t] | min) // "never") s from the common start (ramp alone: \($n / .config.ramp) s); connect (intended dial time to upgraded) p50 \(.connect.p50_ms) ms, p99 \(.connect.p99_ms) ms, max \(.connect.max_ms) ms"' \
		"$OUT/merged.json" 2>/dev/null || true
fi
opened=$(jq -r '.connections.opened' "$OUT/merged.json" 2>/dev/null || echo "$CONNS")
[ "${opened:-0}" -gt 0 ] 2>/dev/null || opened=$CONNS
echo "clients      max RSS, sum of $SHARDS shards: $((cli_rss / 1024)) MiB = $(echo "scale=2; $cli_rss / $opened" | bc) KiB per connection; CPU user+sys $cli_cpu s"
echo "servers      max RSS, sum of $SERVERS servers: $((srv_rss / 1024)) MiB = $(echo "scale=2; $srv_rss / $opened" | bc) KiB per connection; CPU user+sys $(echo "scale=2; $srv_cpu / $tck" | bc) s"
echo "results      $OUT"
exit $fail
