#!/usr/bin/env bash
# profile.sh — where wsbench's own CPU goes in the Socket.IO chat (docs/benchmarks.md,
# "Socket.IO chat", "Where wsbench's CPU goes"). Not part of make test.
#
# One fresh socket.io server (loadtest/flows/testdata/node/socketio-chat.js), then wsbench's
# socketio-chat flow with N connections in rooms of ROOM_SIZE, a say every EVERY ms each, for
# DUR seconds, with -cpuprofile. After WARM seconds it samples, over WIN seconds: the client's
# CPU (user and system ticks from /proc), the server's message counts (says + acks + broadcasts
# delivered, the yardstick of compare.sh), and the context switches and CPU of every thread of
# the wsbench process, with the system call each sits in when sampled (35 nanosleep, 202
# futex, 232/281 epoll_wait). Extra arguments go to wsbench run (e.g. -loops 1); environment
# such as GOMAXPROCS=1 reaches wsbench. Run it under the bench lock:
#
#   flock /tmp/wsfleet-bench.lock bash bench/socketio/profile.sh OUT_PREFIX [wsbench run flags]
#
# Environment: WSBENCH (binary; built when unset), N (200), ROOM_SIZE (20), EVERY (4000),
# DUR (30), WARM (5), WIN (20). Writes OUT_PREFIX.pprof, .json, .threads and a summary line
# (also appended to OUT_PREFIX.summary).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: profile.sh OUT_PREFIX [wsbench run flags]}
shift
N=${N:-200} ROOM_SIZE=${ROOM_SIZE:-20} EVERY=${EVERY:-4000} DUR=${DUR:-30} WARM=${WARM:-5} WIN=${WIN:-20}
if [ -z "${WSBENCH:-}" ]; then
	WSBENCH=$out.wsbench
	(cd "$root" && go build -o "$WSBENCH" ./cmd/wsbench) || exit 1
fi
port=$((19000 + RANDOM % 900))
while [ -n "$(ss -Htan "( sport = :$port )" | head -1)" ]; do port=$((port + 1)); done
node "$root/loadtest/flows/testdata/node/socketio-chat.js" --port "$port" --ignore-stdin >"$out.srv" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q LISTENING "$out.srv" && break; sleep 0.1; done
url="ws://127.0.0.1:$port/socket.io/?EIO=4&transport=websocket"
"$WSBENCH" run -flow socketio-chat -c "$N" -ramp 500 -d "${DUR}s" -warmup 0s -q -set every="${EVERY}ms" \
	-set rooms=$(((N + ROOM_SIZE - 1) / ROOM_SIZE)) -set text="$(head -c 64 /dev/zero | tr '\0' a)" \
	-cpuprofile "$out.pprof" -json "$out.json" "$@" "$url" >"$out.out" 2>"$out.err" &
cli=$!
sleep "$WARM"
stats() { curl -s --max-time 10 "http://127.0.0.1:$port/stats"; }
threads() {
	for t in /proc/$cli/task/*; do
		echo "${t##*/} $(awk '/ctxt/ { s += $2 } END { print s }' "$t/status") $(awk '{ print $14 + $15 }' "$t/stat")"
	done
}
la0=$(cut -d' ' -f1 /proc/loadavg)
s1=$(stats)
read -r u1 k1 < <(awk '{ print $14, $15 }' "/proc/$cli/stat")
threads >"$out.t1"
sleep "$WIN"
threads >"$out.t2"
read -r u2 k2 < <(awk '{ print $14, $15 }' "/proc/$cli/stat")
s2=$(stats)
la1=$(cut -d' ' -f1 /proc/loadavg)
join "$out.t1" "$out.t2" | while read -r tid a b c d; do
	echo "tid=$tid ctxsw=$((c - a)) cpu_ticks=$((d - b)) syscall=$(cut -d' ' -f1 "/proc/$cli/task/$tid/syscall" 2>/dev/null)"
done | sort -t= -k3 -n -r >"$out.threads"
rm -f "$out.t1" "$out.t2"
wait "$cli"
msgs=$(jq -n --argjson a "$s1" --argjson b "$s2" '($b.says + $b.acks + $b.deliveries) - ($a.says + $a.acks + $a.deliveries)')
hz=$(getconf CLK_TCK)
ctx=$(awk -F'ctxsw=' '{ split($2, f, " "); s += f[1] } END { print s }' "$out.threads")
awk -v u=$((u2 - u1)) -v k=$((k2 - k1)) -v m="$msgs" -v hz="$hz" -v w="$WIN" -v ctx="$ctx" -v la="$la0/$la1" \
	-v args="${GOMAXPROCS:+GOMAXPROCS=$GOMAXPROCS }$*" 'BEGIN {
	printf "wsbench %s: msgs=%d cpu_s=%.2f (user %.2f, sys %.2f) cpu_s_per_1k=%.4f ctxsw_per_s=%d ctxsw_per_msg=%.1f load=%s\n",
		args, m, (u + k) / hz, u / hz, k / hz, (u + k) / hz / m * 1000, ctx / w, ctx / m, la }' | tee -a "$out.summary"
