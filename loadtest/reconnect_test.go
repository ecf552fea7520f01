package loadtest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

// TestSoakRidesThroughRestart: a soak with Reconnect keeps going while its server is stopped
// (in a stall window, holding the echoes of the last 0.5 s) and started again on the same
// port; every connection comes back, the report counts the returns, the time each connection
// was down and the messages lost in the gap, and the HTML marks the outage.
func TestSoakRidesThroughRestart(t *testing.T) {
	t.Run("open", func(t *testing.T) { rideThroughRestart(t, Config{Scenario: Soak, Rate: 200}) })
	t.Run("closed", func(t *testing.T) { rideThroughRestart(t, Config{Scenario: Echo, Model: Closed}) })
}

func rideThroughRestart(t *testing.T, cfg Config) {
	s := startServer(t)
	addr := s.Addr()
	const conns = 20
	restarted := make(chan *testserver.Server, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		_ = s.Close()
		time.Sleep(time.Second)
		var s2 *testserver.Server
		var err error
		for i := 0; i < 50; i++ { // the port may take a moment to be free again
			if s2, err = testserver.Start(testserver.Options{Addr: addr, Loops: 1}); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Error(err)
		}
		restarted <- s2
	}()
	cfg.Targets = []string{s.URL() + "/stall?every=1s&for=900ms"}
	cfg.Conns, cfg.Duration, cfg.Warmup, cfg.Loops, cfg.Ping = conns, 5*time.Second, 500*time.Millisecond, 1, time.Second
	cfg.Drain = 3 * time.Second
	cfg.Reconnect = &engine.ReconnectPolicy{MinDelay: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond, Jitter: 0.5}
	res := runOrFail(t, cfg)
	if s2 := <-restarted; s2 != nil {
		defer s2.Close()
	}
	rc := res.Reconnect
	if rc == nil {
		t.Fatal("no reconnect counts in the result")
	}
	if rc.Reconnects != conns || rc.Conns != conns || rc.DownAtEnd != 0 {
		t.Errorf("reconnects %+v: want %d returns of %d connections, none down at the end", rc, conns, conns)
	}
	// Down from the server's stop to its restart (1 s) at least, and back within the policy's delays.
	if d := rc.Disconnected; d.Count != conns || d.MinMs < 900 || d.MaxMs > 5000 {
		t.Errorf("time disconnected per connection: %+v", d)
	}
	if res.Connections.Dropped != conns {
		t.Errorf("dropped %d, want %d (each connection once)", res.Connections.Dropped, conns)
	}
	// Every message that never came back was lost in a drop's gap, and some were: the
	// server held their echoes when it stopped.
	if m := res.Messages; rc.LostInGaps == 0 || m.Lost != rc.LostInGaps || m.Duplicates != 0 || m.Corrupt != 0 {
		t.Errorf("lost %d, lost in the gaps %d, duplicates %d, corrupt %d", m.Lost, rc.LostInGaps, m.Duplicates, m.Corrupt)
	}
	var down, back int64
	for _, p := range res.Series {
		down = max(down, p.Down)
		back += p.Reconnects
	}
	if down == 0 || back != conns {
		t.Errorf("series: at most %d down in a second, %d returns; want some down and %d returns", down, back, conns)
	}
	var text, page bytes.Buffer
	res.WriteText(&text)
	if !strings.Contains(text.String(), "reconnects   20 returns") || !strings.Contains(text.String(), "lost in the gaps") {
		t.Errorf("text report lacks the reconnect lines:\n%s", text.String())
	}
	if err := res.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `class="outage"`) || !strings.Contains(page.String(), "redialing") {
		t.Error("the HTML report does not mark the outage")
	}
	merged, err := MergeResults([]*Result{res, res})
	if err != nil {
		t.Fatal(err)
	}
	if m := merged.Reconnect; m == nil || m.Reconnects != 2*conns || m.Disconnected.Count != 2*conns {
		t.Errorf("merged reconnect counts: %+v", m)
	}
}

func TestReconnectOnlyForEchoAndSoak(t *testing.T) {
	cfg := Config{Scenario: Push, Targets: []string{"ws://127.0.0.1:1/push"}, Reconnect: &engine.ReconnectPolicy{}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "echo and soak") {
		t.Fatalf("push with Reconnect: %v", err)
	}
}
