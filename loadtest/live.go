package loadtest

import (
	"fmt"
	"net/http"
	"sync"
)

// Live keeps running totals of a run's per-second points and serves them in the Prometheus
// text exposition format (a hand-written handler: a dozen lines do not justify a dependency).
type Live struct {
	mu                     sync.Mutex
	sent, received, errors int64
	last                   Point
	labels                 string
}

// NewLive makes a collector whose metrics carry the given scenario and shard as labels.
func NewLive(scenario Scenario, shard Shard) *Live {
	shard = shard.norm()
	return &Live{labels: fmt.Sprintf(`scenario=%q,shard="%d/%d"`, scenario, shard.Index, shard.Count)}
}

// Observe adds a point; use it as Config.OnPoint.
func (l *Live) Observe(p Point) {
	l.mu.Lock()
	l.sent += p.Sent
	l.received += p.Received
	l.errors += p.Errors
	l.last = p
	l.mu.Unlock()
}

// ServeHTTP writes the metrics.
func (l *Live) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	l.mu.Lock()
	sent, recv, errs, p := l.sent, l.received, l.errors, l.last
	l.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	put := func(name, typ, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s{%s} %g\n", name, help, name, typ, name, l.labels, v)
	}
	put("wsbench_messages_sent_total", "counter", "Messages sent (dials attempted for connect).", float64(sent))
	put("wsbench_messages_received_total", "counter", "Replies received (successful dials for connect).", float64(recv))
	put("wsbench_errors_total", "counter", "Errors of every kind.", float64(errs))
	put("wsbench_connections_open", "gauge", "Connections open now (successful dials so far for connect).", float64(p.Open))
	put("wsbench_latency_p50_seconds", "gauge", "Median latency over the last second.", p.P50Ms/1000)
	put("wsbench_latency_p99_seconds", "gauge", "99th percentile latency over the last second.", p.P99Ms/1000)
	put("wsbench_latency_max_seconds", "gauge", "Maximum latency over the last second.", p.MaxMs/1000)
	put("wsbench_sender_lag_max_seconds", "gauge", "Open model: the latest send behind schedule over the last second.", p.LagMaxMs/1000)
	put("wsbench_elapsed_seconds", "gauge", "Time since the run started.", p.T)
}
