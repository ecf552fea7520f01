#!/usr/bin/env bash
# compare.sh — wsbench, k6 and Artillery on one Socket.IO v4 chat (docs/benchmarks.md,
# "Socket.IO chat: wsbench, k6 and Artillery"). Not part of make test.
#
# Every run: a fresh socket.io 4 server (loadtest/flows/testdata/node/socketio-chat.js, own
# process, fresh loopback port), then one client holding N connections in rooms of ROOM_SIZE
# (chosen at random among N/ROOM_SIZE rooms, by all three), each emitting "say" with an ack
# every EVERY ms and receiving its room's "said" broadcasts:
#   wsbench   wsbench run -flow socketio-chat (loadtest/flows/socketio-chat.yaml)
#   k6        bench/k6/socketio-chat.js (raw Engine.IO frames over k6/websockets)
#   artillery bench/artillery/socketio-chat.yml (Artillery 2's socketio engine, socket.io-client 4)
# Once the server reports all N joined, plus WARM seconds, the driver samples the client's
# process tree (CPU user+sys from /proc, RSS) and the server's own counts (says, acks,
# deliveries: the same yardstick for every tool), waits DUR seconds and samples again. Each run
# gives: messages in the window (says + acks + deliveries, counted by the server), client
# CPU-seconds per 1,000 of them, client RSS and RSS per connection at the end of the window, and
# the client's own p50/p99 of the say → ack latency. Tools run in turns, the order rotating
# each round, under flock /tmp/wsfleet-bench.lock (one benchmark at a time on this machine).
#
#   bash bench/socketio/compare.sh                        # NS="1000" REPEATS=3 DUR=30
#   NS="500 2000" REPEATS=1 DUR=20 TOOLS="wsbench k6" bash bench/socketio/compare.sh
#   MODE=max NS="2000 4000 8000 16000" bash bench/socketio/compare.sh   # connections until p99 > SLO_MS
#
# Environment: NS, REPEATS, DUR (s), WARM (s, 5), EVERY (ms, 1000), ROOM_SIZE (10), SIZE
# (chat text bytes, 64), RAMP (connections/s, 1000), TOOLS, FLOW (wsbench's: the embedded
# socketio-chat, or a file), SLO_Q (p99 or p50: the percentile MODE=max holds to), SLO_MS (MODE=max: p99 say → ack
# limit, 250), MEMCAP_MB (a client above this RSS is stopped and the run counted as failed,
# 8192), OUT (a new temporary directory), WSBENCH (binary; built when unset), WSBENCH_ARGS
# (more wsbench run flags, e.g. -connect-retries 5), WSBENCH_<label> (a tool named
# wsbench-<label> in TOOLS runs that binary, '-' in the label spelled '_' in the variable:
# bench/socketio/netpoll-experiment.sh), SERVER_WORKERS (socket.io server
# processes on the one port, Node's cluster module with @socket.io/cluster-adapter: 1), K6 (default
# k6 on PATH or ~/go/bin/k6: GOFLAGS= go install go.k6.io/k6@v1.8.1), ARTILLERY (default
# bench/artillery/node_modules/.bin/artillery: cd bench/artillery && npm ci --ignore-scripts).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

NS=${NS:-1000}
REPEATS=${REPEATS:-3}
DUR=${DUR:-30}
WARM=${WARM:-5}
EVERY=${EVERY:-1000}
ROOM_SIZE=${ROOM_SIZE:-10}
SIZE=${SIZE:-64}
RAMP=${RAMP:-1000}
TOOLS=${TOOLS:-"wsbench k6 artillery"}
FLOW=${FLOW:-socketio-chat}
MODE=${MODE:-compare}
SLO_MS=${SLO_MS:-250}
SLO_Q=${SLO_Q:-p99}
MEMCAP_MB=${MEMCAP_MB:-8192}
SERVER_WORKERS=${SERVER_WORKERS:-1}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/wsbench-socketio-XXXXXX")}
mkdir -p "$OUT"
SERVER_JS=$root/loadtest/flows/testdata/node/socketio-chat.js

if [ -z "${WSBENCH:-}" ]; then
	WSBENCH=$OUT/wsbench
	(cd "$root" && go build -o "$WSBENCH" ./cmd/wsbench) || exit 1
fi
K6=${K6:-$(command -v k6 || echo "$HOME/go/bin/k6")}
ARTILLERY=${ARTILLERY:-$root/bench/artillery/node_modules/.bin/artillery}
for t in $TOOLS; do
	case $t in
	k6) [ -x "$K6" ] || { echo "compare: no k6 (GOFLAGS= go install go.k6.io/k6@v1.8.1, or K6=path)" >&2; exit 1; } ;;
	artillery) [ -x "$ARTILLERY" ] || { echo "compare: no artillery (cd bench/artillery && npm ci --ignore-scripts)" >&2; exit 1; } ;;
	wsbench) ;;
	wsbench-*)
		v=WSBENCH_${t#wsbench-}
		v=${v//-/_}
		[ -x "${!v:-}" ] || { echo "compare: tool $t needs \$$v, a wsbench binary" >&2; exit 1; }
		;;
	*) echo "compare: unknown tool $t" >&2; exit 2 ;;
	esac
done
[ -d "$root/loadtest/flows/testdata/node/node_modules/socket.io" ] || { echo "compare: run bash .ci/install-peers first" >&2; exit 1; }
export K6_NO_USAGE_REPORT=true ARTILLERY_DISABLE_TELEMETRY=true
hz=$(getconf CLK_TCK)

srv= cli=
cleanup() {
	[ -n "$cli" ] && kill -- "-$cli" 2>/dev/null
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null | head -1)" ]; }
port=$((${PORT:-18800} - 1))

start_server() {
	port=$((port + 1))
	while port_busy $port; do port=$((port + 1)); done
	: >"$OUT/srv.out"
	node "$SERVER_JS" --port "$port" --ignore-stdin --workers "$SERVER_WORKERS" >"$OUT/srv.out" 2>"$OUT/srv.err" &
	srv=$!
	for _ in $(seq 100); do grep -q LISTENING "$OUT/srv.out" && return 0; sleep 0.1; done
	echo "compare: server did not start: $(cat "$OUT/srv.err")" >&2
	exit 1
}
stop_server() {
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	srv=
}
stat_of() { curl -s --max-time 10 "http://127.0.0.1:$port/stats"; }

# tree: the pid and all its descendants.
tree() {
	ps -e -o pid=,ppid= | awk -v r="$1" '{ p[$1] = $2 } END {
		n = 1; s[1] = r; out = r
		for (i = 1; i <= n; i++) for (c in p) if (p[c] == s[i]) { s[++n] = c; out = out " " c }
		print out }'
}
# cpu_ticks and rss_kib of a process tree.
cpu_ticks() {
	local t=0 p f
	for p in $(tree "$1"); do
		f=$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + $(echo "$f" | awk '{ print $12 + $13 }')))
	done
	echo $t
}
rss_kib() {
	local t=0 p r
	for p in $(tree "$1"); do
		r=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		t=$((t + ${r:-0}))
	done
	echo $t
}

# to_ms: a k6 duration (850µs, 1.42ms, 2.1s, 1m2s) in milliseconds.
to_ms() {
	awk -v d="$1" 'BEGIN {
		if (d == "") { print "?"; exit }
		ms = 0
		while (match(d, /^[0-9.]+(µs|us|ms|s|m|h)/)) {
			tok = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
			v = tok + 0; u = tok; sub(/^[0-9.]+/, "", u)
			ms += v * (u == "h" ? 3600000 : u == "m" ? 60000 : u == "s" ? 1000 : u == "ms" ? 1 : 0.001)
		}
		print ms
	}'
}

runone() { # tool n rep
	local tool=$1 n=$2 rep=$3 tag rooms url total
	tag=$tool-$n-$rep
	rooms=$(((n + ROOM_SIZE - 1) / ROOM_SIZE))
	start_server
	url="ws://127.0.0.1:$port/socket.io/?EIO=4&transport=websocket"
	# Long enough to ramp, warm up and measure with room to spare: the client is interrupted
	# (SIGINT: each tool then stops and writes its report) once the window is measured.
	total=$((n / RAMP + 120 + WARM + 3 * DUR + 60))
	local la0
	la0=$(cut -d' ' -f1 /proc/loadavg)
	case $tool in
	wsbench | wsbench-*)
		local bin=$WSBENCH
		if [ "$tool" != wsbench ]; then
			bin=WSBENCH_${tool#wsbench-}
			bin=${bin//-/_}
			bin=${!bin}
		fi
		setsid "$bin" run -flow "$FLOW" -c "$n" -ramp "$RAMP" -d "${total}s" -warmup 0s -q \
			-set every="${EVERY}ms" -set rooms="$rooms" -set text="$(head -c "$SIZE" /dev/zero | tr '\0' a)" \
			${WSBENCH_ARGS:-} -json "$OUT/$tag.json" "$url" >"$OUT/$tag.out" 2>"$OUT/$tag.err" &
		;;
	k6)
		setsid "$K6" run -q --no-usage-report -e URL="$url" -e VUS="$n" -e DURATION="$total" -e EVERY="$EVERY" \
			-e ROOMS="$rooms" -e SIZE="$SIZE" -e RAMP="$RAMP" "$root/bench/k6/socketio-chat.js" >"$OUT/$tag.out" 2>"$OUT/$tag.err" &
		;;
	artillery)
		(cd "$root/bench/artillery" && TARGET="http://127.0.0.1:$port" VUS="$n" RAMP_S=$(((n + RAMP - 1) / RAMP)) \
			LOOPS=$((total * 1000 / EVERY)) EVERY_S=$(awk -v e="$EVERY" 'BEGIN { print e / 1000 }') ROOMS="$rooms" SIZE="$SIZE" \
			exec setsid "$ARTILLERY" run -o "$OUT/$tag.json" socketio-chat.yml) >"$OUT/$tag.out" 2>"$OUT/$tag.err" &
		;;
	esac
	cli=$!
	# Wait for all N to have joined (or give up after the ramp time and a minute).
	local joined=0 deadline=$((SECONDS + n / RAMP + 60)) over=
	while [ $SECONDS -lt $deadline ]; do
		joined=$(stat_of | jq -r '.joins // 0')
		[ "${joined:-0}" -ge "$n" ] && break
		kill -0 "$cli" 2>/dev/null || break
		sleep 1
	done
	sleep "$WARM"
	local c1 s1 c2 s2 rss rssmax=0 t
	c1=$(cpu_ticks "$cli")
	s1=$(stat_of)
	for ((t = 0; t < DUR; t++)); do
		sleep 1
		rss=$(rss_kib "$cli")
		[ "$rss" -gt "$rssmax" ] && rssmax=$rss
		if [ "$rss" -gt $((MEMCAP_MB * 1024)) ]; then over=1; break; fi
	done
	kill -0 "$cli" 2>/dev/null || over=exited # the client ended inside the window: no figures
	c2=$(cpu_ticks "$cli")
	s2=$(stat_of)
	local la1 msgs open
	la1=$(cut -d' ' -f1 /proc/loadavg)
	msgs=$(jq -n --argjson a "${s1:-null}" --argjson b "${s2:-null}" '($b.says + $b.acks + $b.deliveries) - ($a.says + $a.acks + $a.deliveries)' 2>/dev/null)
	open=$(echo "$s2" | jq -r .open)
	# Interrupt the client: each tool stops its run and writes its report (the latencies).
	kill -INT -- "-$cli" 2>/dev/null
	local i
	for ((i = 0; i < 60; i++)); do kill -0 "$cli" 2>/dev/null || break; sleep 1; done
	kill -KILL -- "-$cli" 2>/dev/null
	wait "$cli" 2>/dev/null
	cli=
	stop_server
	local p50 p99
	case $tool in
	wsbench | wsbench-*)
		read -r p50 p99 < <(jq -r '.metrics[] | select(.name == "say") | .latency | "\(.p50_ms) \(.p99_ms)"' "$OUT/$tag.json" 2>/dev/null)
		;;
	k6)
		read -r p50 p99 < <(sed -n 's/.*say_ack[ .]*: avg=[^ ]* *p(50)=\([^ ]*\) *p(99)=\([^ ]*\).*/\1 \2/p' "$OUT/$tag.out" | head -1)
		p50=$(to_ms "$p50") p99=$(to_ms "$p99")
		;;
	artillery)
		# Interrupted, Artillery writes no final report: its last 10-second period's figures.
		read -r p50 p99 < <(awk '/^socketio.response_time:/ { s = 1; next } s && /median:/ { m = $NF } s && /p99:/ { p = $NF; s = 0 }
			END { if (m != "") print m, p }' "$OUT/$tag.out")
		;;
	esac
	awk -v t="$tool" -v n="$n" -v r="$rep" -v o="${open:-0}" -v m="${msgs:-0}" -v c1="$c1" -v c2="$c2" -v hz="$hz" \
		-v rss="$rssmax" -v p50="${p50:-?}" -v p99="${p99:-?}" -v la0="$la0" -v la1="$la1" -v over="${over:-}" 'BEGIN {
		cpu = (c2 - c1) / hz
		printf "%s\t%d\t%d\t%d\t%d\t%.2f\t%.3f\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\n", t, n, r, o, m, cpu,
			(m > 0 ? cpu / m * 1000 : 0), rss, rss / n, p50, p99, la0, la1, (over == "1" ? "memcap" : over)
	}' | tee -a "$OUT/runs.tsv"
}

header="tool\tconns\trep\topen\tmsgs\tcpu_s\tcpu_s_per_1k\tmaxrss_kib\tkib_per_conn\tp50\tp99\tload0\tload1\tnote"
printf "%b\n" "$header" | tee "$OUT/runs.tsv"
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') mode=$MODE server_workers=$SERVER_WORKERS NS=$NS REPEATS=$REPEATS DUR=$DUR EVERY=${EVERY}ms ROOM_SIZE=$ROOM_SIZE SIZE=$SIZE RAMP=$RAMP wsfleet $(git -C "$root" rev-parse --short HEAD 2>/dev/null)" >"$OUT/params.txt"
read -r -a tools <<<"$TOOLS"
declare -A broke=()
exec 9>/tmp/wsfleet-bench.lock
for n in $NS; do
	for ((rep = 1; rep <= REPEATS; rep++)); do
		k=$(((rep - 1) % ${#tools[@]}))
		for tool in "${tools[@]:$k}" "${tools[@]:0:$k}"; do
			[ -n "${broke[$tool]:-}" ] && continue
			flock 9
			runone "$tool" "$n" "$rep"
			flock -u 9
			# MODE=max: a tool that did not hold all N open, hit MEMCAP_MB or broke the SLO
			# on its own p99 is not tried with more connections.
			if [ "$MODE" = max ]; then
				tail -1 "$OUT/runs.tsv" | awk -F'\t' -v slo="$SLO_MS" -v q="$SLO_Q" '{ v = (q == "p50" ? $10 : $11)
					exit !($4 < $2 || $14 != "" || v == "?" || v + 0 > slo) }' &&
					broke[$tool]=$n && echo "# $tool broke at $n connections" | tee -a "$OUT/runs.tsv"
			fi
		done
	done
done

# Medians per tool and N, and each tool's cost relative to wsbench's.
awk -F'\t' -v slo="$SLO_MS" -v tools="$TOOLS" 'NR > 1 && !/^#/ && $5 > 0 && $14 == "" {
	key = $1 SUBSEP $2; k = ++c[key]
	cpk[key, k] = $7; msgs[key, k] = $5; kib[key, k] = $9; rss[key, k] = $8; p99[key, k] = $11 + 0
	ns[$2] = 1; tl[$1] = 1
}
function med(arr, key, n,    i, j, t, v) {
	for (i = 1; i <= n; i++) v[i] = arr[key, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
END {
	printf "medians (CPU: user+sys of the client process tree over the window, per 1,000 messages counted by the server)\n"
	printf "%-24s %7s %4s %10s %12s %10s %10s %12s %10s\n", "tool", "conns", "runs", "msgs", "cpu_s_per_1k", "x_wsbench", "rss_MiB", "KiB_per_conn", "p99"
	nn = 0
	for (x in ns) nl[++nn] = x + 0
	for (i = 1; i <= nn; i++) for (j = i + 1; j <= nn; j++) if (nl[j] < nl[i]) { t = nl[i]; nl[i] = nl[j]; nl[j] = t }
	nt = split(tools, order, " ")
	for (a = 1; a <= nn; a++) {
		n = nl[a]
		base = med(cpk, "wsbench" SUBSEP n, c["wsbench" SUBSEP n])
		for (i = 1; i <= nt; i++) {
			key = order[i] SUBSEP n
			if (!c[key]) continue
			m = med(cpk, key, c[key])
			printf "%-24s %7d %4d %10d %12.3f %10.2f %10.1f %12.1f %9.1fms\n", order[i], n, c[key], med(msgs, key, c[key]), m,
				(base > 0 ? m / base : 0), med(rss, key, c[key]) / 1024, med(kib, key, c[key]), med(p99, key, c[key])
		}
	}
}' "$OUT/runs.tsv" | tee "$OUT/medians.txt"
echo "runs: $OUT/runs.tsv"
