#!/usr/bin/env bash
# Runs a private RabbitMQ (Debian's rabbitmq-server, installed by .ci/peers.d/protocols.sh) in the
# foreground with its Web STOMP and Web MQTT plugins, on loopback only, with every file it writes
# kept in DIR: no system service, no shared Erlang cookie, no shared epmd. Ctrl-C or SIGTERM stops it.
#
#   STOMP_PORT=15674 MQTT_PORT=15675 loadtest/flows/testdata/brokers/rabbitmq.sh [DIR]
#
# Environment (ports on 127.0.0.1; 0 or unset leaves that listener out):
#   STOMP_PORT, MQTT_PORT          ws:// listeners: ws://127.0.0.1:STOMP_PORT/ws, ws://127.0.0.1:MQTT_PORT/ws
#   STOMP_TLS_PORT, MQTT_TLS_PORT  wss:// listeners, with TLS_CERT and TLS_KEY (PEM files)
#   DIST_PORT, EPMD_PORT           Erlang distribution and port mapper (default 25680, 25369)
#   NODENAME                       Erlang node name (default wsfleet-<pid>@localhost)
# Web STOMP offers permessage-deflate. It prints "READY" once the listeners accept connections.
set -euo pipefail
exec </dev/null

dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/wsfleet-rabbitmq-XXXXXX")}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
server=/usr/lib/rabbitmq/bin/rabbitmq-server
[ -x "$server" ] || { echo "rabbitmq.sh: $server missing (install: bash .ci/peers.d/protocols.sh)" >&2; exit 1; }

stomp=${STOMP_PORT:-0} mqtt=${MQTT_PORT:-0} stomp_tls=${STOMP_TLS_PORT:-0} mqtt_tls=${MQTT_TLS_PORT:-0}
if [ "$stomp_tls$mqtt_tls" != 00 ] && { [ -z "${TLS_CERT:-}" ] || [ -z "${TLS_KEY:-}" ]; }; then
	echo "rabbitmq.sh: STOMP_TLS_PORT/MQTT_TLS_PORT need TLS_CERT and TLS_KEY" >&2
	exit 2
fi

# listener PLUGIN PORT TLS_PORT: the config lines of one plugin's ws:// and wss:// listeners.
listener() {
	if [ "$2" != 0 ]; then
		printf '%s.tcp.ip = 127.0.0.1\n%s.tcp.port = %s\n' "$1" "$1" "$2"
	fi
	if [ "$3" != 0 ]; then
		printf '%s.ssl.ip = 127.0.0.1\n%s.ssl.port = %s\n' "$1" "$1" "$3"
		printf '%s.ssl.certfile = %s\n%s.ssl.keyfile = %s\n' "$1" "$TLS_CERT" "$1" "$TLS_KEY"
	fi
}
{
	echo "listeners.tcp = none"
	echo "stomp.listeners.tcp = none"
	echo "mqtt.listeners.tcp = none"
	echo "web_stomp.ws_opts.compress = true"
	listener web_stomp "$stomp" "$stomp_tls"
	listener web_mqtt "$mqtt" "$mqtt_tls"
} >"$dir/rabbitmq.conf"
echo '[rabbitmq_web_stomp,rabbitmq_web_mqtt].' >"$dir/enabled_plugins"

export HOME=$dir # the Erlang cookie goes here, not into the caller's home
export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log RABBITMQ_LOGS=-
export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
export RABBITMQ_PID_FILE=$dir/rabbitmq.pid RABBITMQ_NODENAME=${NODENAME:-wsfleet-$$@localhost}
export RABBITMQ_DIST_PORT=${DIST_PORT:-25680} ERL_EPMD_PORT=${EPMD_PORT:-25369} ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

pid=
stop() {
	trap - EXIT INT TERM
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	# The node started its own epmd on EPMD_PORT (a daemon outside this process group).
	epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
}
trap stop EXIT
trap 'exit 0' INT TERM

"$server" >"$dir/server.log" 2>&1 &
pid=$!

# Ready when every configured listener accepts a TCP connection.
ready() {
	local p
	for p in $stomp $mqtt $stomp_tls $mqtt_tls; do
		[ "$p" = 0 ] && continue
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || return 1
	done
}
for _ in $(seq 1 600); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "rabbitmq.sh: the server exited; its log:" >&2
		tail -n 30 "$dir/server.log" >&2
		exit 1
	fi
	if ready; then
		echo READY
		wait "$pid"
		exit $?
	fi
	sleep 0.1
done
echo "rabbitmq.sh: not ready after 60 s; log in $dir/server.log" >&2
exit 1
