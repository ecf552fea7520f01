package loadtest

import (
	"testing"
	"time"
)

// TestStallOpenShowsClosedHides is the latency correctness test. The reference server holds
// every /stall reply for 300 ms every 1.5 s. In the open model messages keep being due during
// a stall, and each one's latency counts from its intended send time, so about a fifth of
// them wait up to 300 ms and p99 shows it. In the closed model each connection simply stops
// sending while its one message is held, so a stall costs one sample per connection: it
// reaches the maximum but not p99 (coordinated omission, demonstrated).
func TestStallOpenShowsClosedHides(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 5 seconds")
	}
	s := startServer(t)
	url := s.URL() + "/stall?every=1500ms&for=300ms"
	base := Config{Scenario: Echo, Targets: []string{url}, Conns: 10, Duration: 2 * time.Second, Loops: 1}

	closed := base
	closed.Model = Closed
	cres := runOrFail(t, closed)

	open := base
	open.Model = Open
	open.Rate = 1000
	ores := runOrFail(t, open)

	for _, r := range []*Result{cres, ores} {
		if r.Messages.Lost != 0 || r.Connections.Dropped != 0 || r.ErrorsTotal != 0 {
			t.Fatalf("%s model: lost %d, dropped %d, errors %v", r.Model, r.Messages.Lost, r.Connections.Dropped, r.Errors)
		}
	}
	t.Logf("closed: %d msgs p50 %.2fms p99 %.2fms max %.1fms", cres.Latency.Count, cres.Latency.P50Ms, cres.Latency.P99Ms, cres.Latency.MaxMs)
	t.Logf("open:   %d msgs p50 %.2fms p99 %.2fms max %.1fms", ores.Latency.Count, ores.Latency.P50Ms, ores.Latency.P99Ms, ores.Latency.MaxMs)
	// Both runs lived through a stall...
	if cres.Latency.MaxMs < 200 || ores.Latency.MaxMs < 200 {
		t.Fatalf("a run did not meet a stall: closed max %.1fms, open max %.1fms", cres.Latency.MaxMs, ores.Latency.MaxMs)
	}
	// ...the open model's p99 shows it...
	if ores.Latency.P99Ms < 150 {
		t.Errorf("open model p99 %.1fms: the 300 ms stall should show", ores.Latency.P99Ms)
	}
	// ...and the closed model's p99 hides it.
	if cres.Latency.P99Ms > 50 {
		t.Errorf("closed model p99 %.1fms: expected the stall to be hidden (coordinated omission)", cres.Latency.P99Ms)
	}
}
