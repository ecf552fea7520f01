# Application-protocol peers for loadtest/flows (Socket.IO, GraphQL over WebSocket, STOMP, MQTT and
# a JSON market-data feed): sourced by .ci/install-peers, which defines apt_install and say.
#   - Debian's rabbitmq-server (Web STOMP and Web MQTT plugins ship with it) and mosquitto (built
#     with WebSocket listeners), started per test package by loadtest/flows/testdata/brokers/*.sh;
#   - Node's socket.io (with @socket.io/cluster-adapter), graphql-ws, graphql and ws, exactly as pinned in
#     loadtest/flows/testdata/node/package-lock.json (npm ci).
# No system service is started or used: where no policy-rc.d exists, one that refuses to start
# services is put in place for the length of the install.

protocols_node=loadtest/flows/testdata/node

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || [ ! -x /usr/sbin/mosquitto ]; then
	protocols_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && protocols_policy=1
	fi
	protocols_rc=0
	apt_install rabbitmq-server mosquitto || protocols_rc=$?
	[ -n "$protocols_policy" ] && rm -f /usr/sbin/policy-rc.d
	if [ "$protocols_rc" != 0 ]; then
		say "apt-get install rabbitmq-server mosquitto failed ($protocols_rc)"
		exit 1
	fi
fi
if ! grep -q -a 'Opening websockets listen socket' /usr/sbin/mosquitto; then
	say "/usr/sbin/mosquitto is built without WebSocket listeners"
	exit 1
fi
for protocols_plugin in rabbitmq_web_stomp rabbitmq_web_mqtt; do
	if ! compgen -G "/usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/$protocols_plugin-*" >/dev/null; then
		say "RabbitMQ's $protocols_plugin plugin is missing"
		exit 1
	fi
done

# protocols_node_current: every package pinned in the lock file is installed at its pinned version.
protocols_node_current() {
	node -e '
		const dir = process.argv[1];
		const lock = require(`./${dir}/package-lock.json`);
		for (const [path, p] of Object.entries(lock.packages)) {
			if (!path) continue;
			let have;
			try { have = require(`./${dir}/${path}/package.json`).version; } catch (e) { process.exit(1); }
			if (have !== p.version) process.exit(1);
		}' "$protocols_node"
}
if ! protocols_node_current; then
	say "npm ci in $protocols_node"
	protocols_npm_ci() {
		(cd "$protocols_node" && npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null)
	}
	protocols_npm_ci || { sleep 5; protocols_npm_ci; }
	protocols_node_current || { say "$protocols_node: npm ci left packages off their pinned versions"; exit 1; }
fi
say "rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server), mosquitto $(dpkg-query -W -f='${Version}' mosquitto)," \
	"socket.io $(node -p "require('./$protocols_node/node_modules/socket.io/package.json').version")," \
	"graphql-ws $(node -p "require('./$protocols_node/node_modules/graphql-ws/package.json').version")"
