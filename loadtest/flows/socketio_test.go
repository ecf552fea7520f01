package flows_test

import (
	"testing"
	"time"
)

// TestSocketIOChat runs the socketio-chat flow against the real socket.io 4 server
// (testdata/node/socketio-chat.js), over ws://, wss:// and with permessage-deflate: Engine.IO
// open, namespace connect, every server ping answered, each say's ack matched by its ack id,
// room broadcasts counted and timed from the sender's stamp — and both latencies at least the
// server's own delay. The cluster variant runs the server as two worker processes joined by
// @socket.io/cluster-adapter (the benchmarks' server for many connections): rooms span the
// workers, and the server's counts are the workers' summed.
func TestSocketIOChat(t *testing.T) {
	cert := newTestCert(t)
	variants := append(nodeVariants(cert), serverVariant{name: "cluster", args: []string{"--workers", "2"}})
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			const (
				conns   = 12
				delayMs = 40
				pingMs  = 400
			)
			srv := startNode(t, "socketio-chat", append([]string{"--delay", "40", "--ping-interval", "400", "--ping-timeout", "5000"}, v.args...)...)
			res := flowRun{
				name: "socketio-chat", url: srv.wsURL("/socket.io/?EIO=4&transport=websocket"),
				conns: conns, duration: 8 * time.Second, compress: v.compress,
				set: map[string]string{"every": "250ms", "rooms": "3"},
			}.run(t)
			st := srv.stats(t)

			if n := count(res, "join"); n != conns || statInt(t, st, "joins") != conns {
				t.Errorf("joins: %d acked to the client, %d by the server; want %d", n, statInt(t, st, "joins"), conns)
			}
			says, acks := count(res, "say"), statInt(t, st, "acks")
			if says < conns {
				t.Errorf("only %d says acked in 8 s (%d connections, one every 250 ms)", says, conns)
			}
			// Every ack the client matched was sent by the server; the server may have sent a
			// few more as the run ended.
			if says > int64(acks) || int64(acks)-says > conns*2 {
				t.Errorf("the client matched %d acks, the server sent %d", says, acks)
			}
			if n := count(res, "timeouts(say)"); n != 0 {
				t.Errorf("%d says never acked", n)
			}
			// Pings: the server sent some, and the flow answered each (but those in flight at the end).
			pings, pongs := statInt(t, st, "pings"), statInt(t, st, "pongs")
			if pings < conns || pongs < pings-conns || count(res, "pings") < int64(pongs) {
				t.Errorf("server pings %d, pongs %d; the flow counted %d pings", pings, pongs, count(res, "pings"))
			}
			if n := st["disconnects"].(map[string]any)["ping timeout"]; n != nil {
				t.Errorf("%v connections closed for an unanswered ping", n)
			}
			// Broadcasts: what the server delivered reached the flow (but those in flight at the end).
			said, deliveries := count(res, "said"), int64(statInt(t, st, "deliveries"))
			if said > deliveries || said < deliveries-conns*conns {
				t.Errorf("the flow counted %d broadcasts, the server delivered %d", said, deliveries)
			}
			say, fanout := latency(t, res, "say"), latency(t, res, "fanout")
			t.Logf("says %d (server acks %d), broadcasts %d (server %d), pings %d/%d; say p50 %.1f ms, fanout p50 %.1f ms (server delay %d ms)",
				says, acks, said, deliveries, pongs, pings, say.P50Ms, fanout.P50Ms, delayMs)
			between(t, "say p50 (ms)", say.P50Ms, delayMs-1, delayMs+slowBound)
			between(t, "say min (ms)", say.MinMs, delayMs-1, delayMs+minBound)
			between(t, "fanout p50 (ms)", fanout.P50Ms, delayMs-1, delayMs+slowBound)
		})
	}
}
