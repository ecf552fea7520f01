#!/usr/bin/env bash
# compare.sh — client cost of wsbench, k6 and a plain gorilla/websocket loop on the same
# closed-loop echo scenario (docs/benchmarks.md, "Load testing").
#
# For each connection count in NS and each of REPEATS rounds, the three clients run one after
# another (the order rotates every round, so that load from other work on the machine falls
# on them alike), each against a fresh `wsbench serve` in its own process on a fresh loopback
# port. Every client holds N connections and echoes SIZE-byte text messages in a closed loop
# (one in flight per connection) for DUR seconds. /usr/bin/time -v gives the client's CPU
# (user+sys) and max RSS; messages are each tool's own count (wsbench: received_total of its
# JSON; k6: ws_msgs_received; gorillaecho: its echo count) and the server's count printed at
# exit. One line per run goes to OUT/runs.tsv; a table of medians to OUT/medians.txt.
#
#   bench/k6/compare.sh                      # NS="200 1000" REPEATS=3 DUR=20 SIZE=128
#   NS=200 REPEATS=1 DUR=5 bench/k6/compare.sh
#
# Environment: NS, REPEATS, DUR (s), SIZE (bytes), PORT (first port tried, 18700), OUT (a new
# temporary directory), WSBENCH, GORILLAECHO (binaries; built when unset), K6 (k6 binary;
# default k6 on PATH — install with `GOFLAGS= go install go.k6.io/k6@latest`).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

NS=${NS:-"200 1000"}
REPEATS=${REPEATS:-3}
DUR=${DUR:-20}
SIZE=${SIZE:-128}
PORT=${PORT:-18700}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/wscompare-XXXXXX")}
mkdir -p "$OUT"

if [ -z "${WSBENCH:-}" ]; then
	WSBENCH=$OUT/wsbench
	(cd "$root" && go build -o "$WSBENCH" ./cmd/wsbench) || exit 1
fi
if [ -z "${GORILLAECHO:-}" ]; then
	GORILLAECHO=$OUT/gorillaecho
	(cd "$root/bench" && go build -o "$GORILLAECHO" ./cmd/gorillaecho) || exit 1
fi
K6=${K6:-$(command -v k6)}
[ -x "$K6" ] || { echo "compare: no k6 (GOFLAGS= go install go.k6.io/k6@latest, or K6=path)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "compare: needs GNU time (/usr/bin/time)" >&2; exit 1; }
export K6_NO_USAGE_REPORT=true

srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null | head -1)" ]; }
port=$((PORT - 1))

# start_server: a fresh reference server on the next free port (its TIME_WAIT sockets would
# keep a restarted server off the same port for a minute).
start_server() {
	port=$((port + 1))
	while port_busy $port; do port=$((port + 1)); done
	: >"$OUT/srv.out"
	timeout $((DUR * 4 + 120)) "$WSBENCH" serve -addr 127.0.0.1:$port >"$OUT/srv.out" 2>"$OUT/srv.err" &
	srv=$!
	for _ in $(seq 50); do grep -q LISTENING "$OUT/srv.out" && return 0; sleep 0.1; done
	echo "compare: server did not start: $(cat "$OUT/srv.err")" >&2
	exit 1
}
stop_server() {
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	srv=
	smsgs=$(sed -n 's/.*messages in [0-9]* out \([0-9]*\).*/\1/p' "$OUT/srv.err")
}

tv() { awk -F': ' -v k="$2" '$0 ~ k {print $2}' "$1"; }

runone() { # tool n rep
	local tool=$1 n=$2 rep=$3 url tag msgs
	tag=$tool-$n-$rep
	start_server
	url=ws://127.0.0.1:$port/echo
	local la0
	la0=$(cut -d' ' -f1 /proc/loadavg)
	case $tool in
	wsbench)
		/usr/bin/time -v -o "$OUT/$tag.time" "$WSBENCH" run -c "$n" -d "${DUR}s" -warmup 0s -size "$SIZE" -q \
			-json "$OUT/$tag.json" "$url" >"$OUT/$tag.out" 2>"$OUT/$tag.err"
		msgs=$(sed -n 's/.*"received_total": *\([0-9]*\).*/\1/p' "$OUT/$tag.json" | head -1)
		;;
	k6)
		/usr/bin/time -v -o "$OUT/$tag.time" "$K6" run -q --no-usage-report -e URL="$url" -e VUS="$n" -e DURATION="$DUR" \
			-e SIZE="$SIZE" "$here/echo.js" >"$OUT/$tag.out" 2>"$OUT/$tag.err"
		msgs=$(sed -n 's/.*ws_msgs_received[ .]*: *\([0-9]*\).*/\1/p' "$OUT/$tag.out" | head -1)
		;;
	gorilla)
		/usr/bin/time -v -o "$OUT/$tag.time" "$GORILLAECHO" -c "$n" -d "${DUR}s" -size "$SIZE" "$url" \
			>"$OUT/$tag.out" 2>"$OUT/$tag.err"
		msgs=$(sed -n 's/^gorillaecho: echoes \([0-9]*\).*/\1/p' "$OUT/$tag.out")
		;;
	esac
	local la1 user sys rss wall
	la1=$(cut -d' ' -f1 /proc/loadavg)
	stop_server
	user=$(tv "$OUT/$tag.time" "User time")
	sys=$(tv "$OUT/$tag.time" "System time")
	rss=$(tv "$OUT/$tag.time" "Maximum resident")
	wall=$(tv "$OUT/$tag.time" "Elapsed")
	awk -v t="$tool" -v n="$n" -v r="$rep" -v m="${msgs:-0}" -v sm="${smsgs:-0}" -v u="$user" -v s="$sys" \
		-v rss="$rss" -v w="$wall" -v la0="$la0" -v la1="$la1" 'BEGIN {
		cpu = u + s
		printf "%s\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%.1f\t%s\t%s\t%s\n", t, n, r, m, sm, u, s, cpu,
			(m > 0 ? cpu / m * 1e6 : 0), rss, rss / n, w, la0, la1
	}' | tee -a "$OUT/runs.tsv"
}

printf "tool\tconns\trep\tmsgs\tserver_msgs\tuser_s\tsys_s\tcpu_s\tcpu_s_per_M\tmaxrss_kib\tkib_per_conn\twall\tload0\tload1\n" | tee "$OUT/runs.tsv"
tools=(wsbench k6 gorilla)
for n in $NS; do
	for ((rep = 1; rep <= REPEATS; rep++)); do
		k=$(((rep - 1) % 3))
		order=("${tools[@]:$k}" "${tools[@]:0:$k}")
		for tool in "${order[@]}"; do runone "$tool" "$n" "$rep"; done
	done
done

# Medians per tool and N, k6's and gorilla's cost relative to wsbench's, and memory per
# connection both as max RSS / N and as the growth of max RSS between the smallest and the
# largest N (which leaves out what the process holds with no connection).
awk -F'\t' 'NR > 1 {
	key = $1 SUBSEP $2; k = ++c[key]
	cpm[key, k] = $9; msgs[key, k] = $4; kib[key, k] = $11; rss[key, k] = $10; cpu[key, k] = $8
	upm[key, k] = ($4 > 0 ? $6 / $4 * 1e6 : 0)
	ns[$2] = 1
}
function med(arr, key, n,    i, j, t, v) {
	for (i = 1; i <= n; i++) v[i] = arr[key, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
END {
	nn = 0
	for (x in ns) nl[++nn] = x + 0
	for (i = 1; i <= nn; i++) for (j = i + 1; j <= nn; j++) if (nl[j] < nl[i]) { t = nl[i]; nl[i] = nl[j]; nl[j] = t }
	split("wsbench k6 gorilla", tl, " ")
	printf "medians of each cell (CPU: user+sys of the client process; per M: per million echoes received)\n"
	printf "%-8s %6s %4s %10s %7s %12s %11s %10s %10s %13s\n", "tool", "conns", "runs", "echoes", "cpu_s", "user_s_per_M", "cpu_s_per_M", "x_wsbench", "rss_MiB", "rss/conn_KiB"
	for (a = 1; a <= nn; a++) {
		n = nl[a]
		base = med(cpm, "wsbench" SUBSEP n, c["wsbench" SUBSEP n])
		for (i = 1; i <= 3; i++) {
			key = tl[i] SUBSEP n
			if (!c[key]) continue
			m = med(cpm, key, c[key])
			printf "%-8s %6d %4d %10d %7.2f %12.2f %11.2f %10.2f %10.1f %13.1f\n", tl[i], n, c[key], med(msgs, key, c[key]),
				med(cpu, key, c[key]), med(upm, key, c[key]), m, (base > 0 ? m / base : 0), med(rss, key, c[key]) / 1024, med(kib, key, c[key])
		}
	}
	if (nn >= 2) {
		lo = nl[1]; hi = nl[nn]
		printf "max RSS growth per connection from %d to %d connections:", lo, hi
		for (i = 1; i <= 3; i++) {
			a = tl[i] SUBSEP lo; b = tl[i] SUBSEP hi
			if (c[a] && c[b]) printf " %s %.1f KiB;", tl[i], (med(rss, b, c[b]) - med(rss, a, c[a])) / (hi - lo)
		}
		printf "\n"
	}
}' "$OUT/runs.tsv" | tee "$OUT/medians.txt"
echo "runs: $OUT/runs.tsv"
