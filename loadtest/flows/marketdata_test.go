package flows_test

import (
	"testing"
	"time"
)

// TestMarketData runs the market-data flow against a JSON feed on Node's ws
// (testdata/node/market-data.js), over ws://, wss:// and with permessage-deflate: subscribe,
// every push of each channel counted under the channel's name and timed from the server's
// stamp, unsubscribe; the counts agree with what the server pushed.
func TestMarketData(t *testing.T) {
	cert := newTestCert(t)
	for _, v := range nodeVariants(cert) {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			const conns = 6
			srv := startNode(t, "market-data", append([]string{"--interval", "50"}, v.args...)...)
			channels := []string{"AAPL", "MSFT", "NVDA"}
			res := flowRun{
				name: "market-data", url: srv.wsURL("/feed"), conns: conns, duration: 8 * time.Second, compress: v.compress,
				set: map[string]string{"ch1": channels[0], "ch2": channels[1], "ch3": channels[2], "hold": "2s"},
			}.run(t)
			st := srv.stats(t)
			if count(res, "subscribe") != conns || count(res, "unsubscribe") != conns ||
				statInt(t, st, "subscribes") != conns || statInt(t, st, "unsubscribes") != conns {
				t.Errorf("subscribe/unsubscribe acknowledged %d/%d, server saw %d/%d, want %d each",
					count(res, "subscribe"), count(res, "unsubscribe"), statInt(t, st, "subscribes"), statInt(t, st, "unsubscribes"), conns)
			}
			var total int64
			for _, ch := range channels {
				n := count(res, ch)
				total += n
				if n < conns {
					t.Errorf("%s: %d pushes on %d connections in 2 s at one per 50 ms", ch, n, conns)
				}
				l := latency(t, res, "push "+ch)
				between(t, ch+" push p50 (ms)", l.P50Ms, 0, slowBound)
			}
			// The server pushed each of these; more may have been in flight at unsubscribe.
			if pushed := int64(statInt(t, st, "pushes")); total > pushed || total < pushed/2 {
				t.Errorf("the flow counted %d pushes, the server sent %d", total, pushed)
			}
			if n := count(res, "errors_received"); n != 0 {
				t.Errorf("%d error messages", n)
			}
			t.Logf("%d pushes (server %d); %s p50 %.2f ms", total, statInt(t, st, "pushes"), channels[0], latency(t, res, "push "+channels[0]).P50Ms)
		})
	}
}
