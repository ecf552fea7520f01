#!/usr/bin/env bash
# run-peers.sh — wsfleet side by side with gorilla, gws, gobwas, coder and nbio (make bench-peers).
#
# Builds the servers (wsfleet's reference server `wsbench serve`, and bench/cmd/tlsecho for
# wss and permessage-deflate) and the benchmark binary once, then runs every suite COUNT times
# (default 3), each run going through every library in turn, so that load from other work on
# the machine hits the libraries alike. Raw output goes to bench/results/peers-<stamp>.txt,
# benchstat tables (libraries as columns) to peers-<stamp>.benchstat.txt, charts (SVG) and a
# table of medians to bench/results/charts-<stamp>/.
#
# Environment: COUNT (3), MAXCOUNT (runs of BenchmarkMaxConns, 1), PUSH_MSGS and TLS_PUSH_MSGS
# (messages per push run, 300,000 and 50,000), SUITES (space-separated
# subset of: Idle Handshake Echo Push Compress TLSIdle TLSHandshake TLSEcho TLSPush MaxConns), OUT
# (bench/results), and the benchmarks' own WSF_* knobs (see the *_test.go files).
set -uo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-3}
MAXCOUNT=${MAXCOUNT:-1}
SUITES=${SUITES:-"Idle Handshake Echo Push Compress TLSIdle TLSHandshake TLSEcho TLSPush MaxConns"}
OUT=${OUT:-results}
GO=${GO:-go}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
bin=$(mktemp -d "${TMPDIR:-/tmp}/wsfleet-peers-XXXXXX")
trap 'rm -rf "$bin"' EXIT
mkdir -p "$OUT"
raw="$OUT/peers-$stamp.txt"

echo "building servers and the benchmark binary in $bin"
(cd .. && $GO build -o "$bin/wsbench" ./cmd/wsbench) || exit 1
$GO build -o "$bin/tlsecho" ./cmd/tlsecho || exit 1
$GO test -c -o "$bin/bench.test" . || exit 1
export WSF_WSBENCH_BIN="$bin/wsbench" WSF_TLSECHO_BIN="$bin/tlsecho"

# benchtime per suite: memory suites measure once per run; rates run long enough to settle.
benchtime() {
	case $1 in
	Idle | Compress | TLSIdle | MaxConns) echo 1x ;;
	Push) echo "${PUSH_MSGS:-300000}x" ;;
	TLSPush) echo "${TLS_PUSH_MSGS:-50000}x" ;;
	Echo | TLSEcho) echo 2s ;;
	*) echo 1s ;;
	esac
}

{
	echo "# wsfleet peer benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB, open files $(ulimit -n)"
	if rev=$(git rev-parse --short HEAD 2>/dev/null); then
		git diff --quiet HEAD -- ../engine ../codec ../pool ../loadtest || rev="$rev (engine/codec/pool/loadtest modified in the work tree)"
	else
		rev="${WSFLEET_REV:-unknown} (not a git checkout)"
	fi
	echo "# $($GO version), wsfleet $rev"
	echo "# command: COUNT=$COUNT MAXCOUNT=$MAXCOUNT SUITES='$SUITES' bash bench/run-peers.sh"
} | tee "$raw"

failed=0
for i in $(seq 1 "$COUNT"); do
	for s in $SUITES; do
		if [ "$s" = MaxConns ] && [ "$i" -gt "$MAXCOUNT" ]; then
			continue
		fi
		echo "# run $i/$COUNT suite $s, load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$raw"
		# -test.v prints why a library was skipped (not supported by its public API).
		"$bin/bench.test" -test.run '^$' -test.bench "^Benchmark$s\$" -test.benchtime "$(benchtime "$s")" \
			-test.count 1 -test.timeout 2h -test.v 2>&1 | grep -v -e '^=== RUN' -e '^=== PAUSE' -e '^=== CONT' | tee -a "$raw"
		[ "${PIPESTATUS[0]}" = 0 ] || failed=1
	done
done
echo "# done $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$raw"

BENCHSTAT=$(command -v benchstat || echo "$($GO env GOPATH)/bin/benchstat")
if [ ! -x "$BENCHSTAT" ]; then
	$GO install golang.org/x/perf/cmd/benchstat@latest && BENCHSTAT="$($GO env GOPATH)/bin/benchstat"
fi
if [ -x "$BENCHSTAT" ]; then
	"$BENCHSTAT" -col /lib "$raw" >"$OUT/peers-$stamp.benchstat.txt" 2>&1
	cat "$OUT/peers-$stamp.benchstat.txt"
else
	echo "benchstat not available: tables skipped" >&2
fi

$GO run ./cmd/charts -o "$OUT/charts-$stamp" "$raw" && echo "charts: $OUT/charts-$stamp/ (summary.md: medians)"
echo "raw: $raw"
exit $failed
