#!/usr/bin/env bash
# Runs a private Mosquitto (Debian's mosquitto, installed by .ci/peers.d/protocols.sh) in the
# foreground with MQTT over WebSocket listeners on loopback, its config and socket in DIR: no system
# service. Ctrl-C or SIGTERM stops it.
#
#   WS_PORT=9001 loadtest/flows/testdata/brokers/mosquitto.sh [DIR]
#
# Environment:
#   WS_PORT                   ws://127.0.0.1:WS_PORT/ (subprotocol mqtt; any path)
#   WSS_PORT                  wss:// as well, with TLS_CERT and TLS_KEY (PEM files); 0 or unset: none
# Mosquitto 2.0 starts only with at least one non-WebSocket listener, so it also listens on a Unix
# socket in DIR. Mosquitto does not offer permessage-deflate. It prints "READY" once it accepts.
set -euo pipefail
exec </dev/null

dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/wsfleet-mosquitto-XXXXXX")}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
broker=/usr/sbin/mosquitto
[ -x "$broker" ] || { echo "mosquitto.sh: $broker missing (install: bash .ci/peers.d/protocols.sh)" >&2; exit 1; }
ws=${WS_PORT:?mosquitto.sh: set WS_PORT} wss=${WSS_PORT:-0}
if [ "$wss" != 0 ] && { [ -z "${TLS_CERT:-}" ] || [ -z "${TLS_KEY:-}" ]; }; then
	echo "mosquitto.sh: WSS_PORT needs TLS_CERT and TLS_KEY" >&2
	exit 2
fi

{
	echo "user $(id -un)" # as root, Mosquitto would otherwise switch to a 'mosquitto' user that may not read DIR
	echo "allow_anonymous true"
	echo "persistence false"
	echo "log_dest stderr"
	echo "log_type error"
	echo "log_type warning"
	echo "max_queued_messages 100000"
	echo "listener 0 $dir/mqtt.sock"
	echo "listener $ws 127.0.0.1"
	echo "protocol websockets"
	if [ "$wss" != 0 ]; then
		echo "listener $wss 127.0.0.1"
		echo "protocol websockets"
		echo "certfile $TLS_CERT"
		echo "keyfile $TLS_KEY"
	fi
} >"$dir/mosquitto.conf"

pid=
stop() {
	trap - EXIT INT TERM
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
}
trap stop EXIT
trap 'exit 0' INT TERM

"$broker" -c "$dir/mosquitto.conf" 2>"$dir/mosquitto.log" &
pid=$!
for _ in $(seq 1 300); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "mosquitto.sh: mosquitto exited; its log:" >&2
		tail -n 20 "$dir/mosquitto.log" >&2
		exit 1
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$ws") 2>/dev/null && { [ "$wss" = 0 ] || (exec 3<>"/dev/tcp/127.0.0.1/$wss") 2>/dev/null; }; then
		echo READY
		wait "$pid"
		exit $?
	fi
	sleep 0.1
done
echo "mosquitto.sh: not ready after 30 s; log in $dir/mosquitto.log" >&2
exit 1
