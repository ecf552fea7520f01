#!/usr/bin/env bash
# hundredk.sh — 100,000 idle connections across processes (the open-file limit here is 20,000
# per process): SHARDS (6) processes of bench's BenchmarkMaxConns, each with its own reference
# server, CONNS (100000) / SHARDS connections each, all held at once (WSF_HOLD_MS) while every
# shard measures its memory per connection and the time to establish its connections.
#
# usage: [LIB=wsfleet-handler] [SHARDS=6] [CONNS=100000] bash bench/hundredk.sh
set -euo pipefail
cd "$(dirname "$0")"
LIB=${LIB:-wsfleet-handler}
SHARDS=${SHARDS:-6}
CONNS=${CONNS:-100000}
per=$(((CONNS + SHARDS - 1) / SHARDS))
bin=$(mktemp -d "${TMPDIR:-/tmp}/wsfleet-100k-XXXXXX")
trap 'rm -rf "$bin"' EXIT
(cd .. && go build -o "$bin/wsbench" ./cmd/wsbench)
go test -c -o "$bin/bench.test" .
export WSF_WSBENCH_BIN="$bin/wsbench" WSF_MAX_CONNS=$per
# Hold long enough for the slowest shard to finish establishing and measuring.
export WSF_HOLD_MS=${WSF_HOLD_MS:-$((per / 100 * 60 + 20000))}
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'): $SHARDS shards x $per connections, $LIB, wsfleet $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
for i in $(seq 1 "$SHARDS"); do
	"$bin/bench.test" -test.run '^$' -test.bench "^BenchmarkMaxConns/lib=$LIB/" -test.benchtime 1x \
		-test.timeout 30m >"$bin/shard-$i.txt" 2>&1 &
done
# Every 5 s: established TCP connections on this host, halved (both ends are local).
peak=0
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
	n=$(($(ss -Htn state established 2>/dev/null | wc -l) / 2))
	[ "$n" -gt "$peak" ] && peak=$n
	sleep 5
done
wait
end=$(date +%s.%N)
for i in $(seq 1 "$SHARDS"); do grep '^BenchmarkMaxConns' "$bin/shard-$i.txt" || { echo "shard $i failed:"; cat "$bin/shard-$i.txt"; }; done
echo "# most connections open at once (ss, sampled every 5 s): $peak; wall time $(echo "$end - $start" | bc) s"
grep -h '^BenchmarkMaxConns' "$bin"/shard-*.txt | awk '{for (i=3;i<=NF;i++) {if ($(i+1)=="conns") c+=$i; if ($(i+1)=="B/conn-heap") h+=$i*1; if ($(i+1)=="B/conn-rss") r+=$i; if ($(i+1)=="s-establish" && $i>e) e=$i}} END {printf "# total %d connections; mean of shards: %.0f B/conn heap+stack, %.0f B/conn RSS; slowest shard established its connections in %.2f s\n", c, h/NR, r/NR, e}'
