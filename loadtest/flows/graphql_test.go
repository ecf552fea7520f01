package flows_test

import (
	"testing"
	"time"
)

// TestGraphQL runs the graphql-subscribe and graphql-query flows against the real graphql-ws
// server (testdata/node/graphql-server.js), over ws://, wss:// and with permessage-deflate:
// connection_init/ack, one subscription per connection whose nexts are counted and timed from
// the server's timestamp, ping/pong round trips, complete; and queries and mutations matched
// to their results by operation id, timed at least the server's delay.
func TestGraphQL(t *testing.T) {
	cert := newTestCert(t)
	const delayMs = 30
	for _, v := range nodeVariants(cert) {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			const conns = 6
			srv := startNode(t, "graphql-server", append([]string{"--delay", "30"}, v.args...)...)
			url := srv.wsURL("/graphql")

			t.Run("subscribe", func(t *testing.T) {
				res := flowRun{
					name: "graphql-subscribe", url: url, conns: conns, duration: 8 * time.Second, compress: v.compress,
					set: map[string]string{"query": "subscription { ticks(everyMs: 50) { seq ts } }", "hold": "2s", "ping_every": "250ms"},
				}.run(t)
				st := srv.statsWhen(t, func(m map[string]any) bool { return m["completes"].(float64) >= conns })
				if n := count(res, "init"); n != conns {
					t.Errorf("%d connection_acks, want %d", n, conns)
				}
				if statInt(t, st, "subscribes") != conns || statInt(t, st, "completes") != conns {
					t.Errorf("server: %d subscribes and %d completes, want %d each (one subscription per connection, completed by the flow)",
						statInt(t, st, "subscribes"), statInt(t, st, "completes"), conns)
				}
				// The flow closes right after complete: nexts still in flight then are not counted.
				next, sent := count(res, "next"), int64(statInt(t, st, "nexts"))
				if next < conns || next > sent || next < sent/2 {
					t.Errorf("the flow counted %d nexts, the server sent %d (%d connections, one every 50 ms for 2 s)", next, sent, conns)
				}
				if count(res, "errors_received") != 0 || statInt(t, st, "errors") != 0 {
					t.Errorf("error messages: %d received, %d sent", count(res, "errors_received"), statInt(t, st, "errors"))
				}
				// Each ping's pong matched, but those in flight when the flow closes after its loop
				// (a late schedule catches up with a burst of pings at the end).
				if pongs, pings := count(res, "ping"), int64(statInt(t, st, "pings")); pongs < conns || pongs > pings || pongs < pings/2 {
					t.Errorf("%d pongs for %d pings the server saw", pongs, pings)
				}
				nx := latency(t, res, "next")
				t.Logf("nexts %d (server %d), next p50 %.2f ms, ping p50 %.2f ms", next, sent, nx.P50Ms, latency(t, res, "ping").P50Ms)
				between(t, "next p50 (ms)", nx.P50Ms, 0, slowBound)
			})

			t.Run("order", func(t *testing.T) {
				res := flowRun{name: "testdata/graphql-order.yaml", url: url, conns: conns, duration: 10 * time.Second, compress: v.compress}.run(t)
				if n := count(res, "tick"); n != conns*30 {
					t.Errorf("%d nexts in order, want %d", n, conns*30)
				}
				if n := count(res, "complete"); n != conns {
					t.Errorf("%d completes, want %d", n, conns)
				}
			})

			for _, op := range []struct{ name, query, stat string }{
				{"query", "{ now { ts } }", "queries"},
				{"mutation", `mutation { post(channel: \"a\", text: \"hi\") { serverTs } }`, "mutations"},
			} {
				t.Run(op.name, func(t *testing.T) {
					before := statInt(t, srv.stats(t), op.stat)
					res := flowRun{
						name: "graphql-query", url: url, conns: conns, duration: 8 * time.Second, compress: v.compress,
						set: map[string]string{"query": op.query, "every": "200ms"},
					}.run(t)
					done := count(res, "op")
					if served := statInt(t, srv.stats(t), op.stat) - before; done < conns || done > int64(served) {
						t.Errorf("%d results matched by id, the server answered %d", done, served)
					}
					if n := count(res, "timeouts(op)"); n != 0 {
						t.Errorf("%d operations without a result", n)
					}
					if c := count(res, "complete"); c < done {
						t.Errorf("%d completes for %d results", c, done)
					}
					l := latency(t, res, "op")
					t.Logf("%d %ss, p50 %.1f ms (server delay %d ms)", done, op.name, l.P50Ms, delayMs)
					between(t, op.name+" p50 (ms)", l.P50Ms, delayMs-1, delayMs+slowBound)
					between(t, op.name+" min (ms)", l.MinMs, delayMs-1, delayMs+minBound)
				})
			}
		})
	}
}
