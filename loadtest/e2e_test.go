package loadtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/testserver"
)

func startServer(t *testing.T) *testserver.Server {
	t.Helper()
	s, err := testserver.Start(testserver.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func runOrFail(t *testing.T, cfg Config) *Result {
	t.Helper()
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		res.WriteText(os.Stderr)
	}
	return res
}

func TestEchoClosedNoLoss(t *testing.T) {
	s := startServer(t)
	res := runOrFail(t, Config{
		Scenario: Echo, Model: Closed, Targets: []string{s.URL() + "/echo"},
		Conns: 20, Duration: time.Second, Warmup: 200 * time.Millisecond, Loops: 1,
	})
	m := res.Messages
	if res.Connections.Opened != 20 || res.Connections.Failed != 0 || res.Connections.Dropped != 0 {
		t.Fatalf("connections: %+v", res.Connections)
	}
	if m.SentTotal == 0 || m.Lost != 0 || m.Duplicates != 0 || m.Reordered != 0 || m.Corrupt != 0 {
		t.Fatalf("messages: %+v", m)
	}
	if m.ReceivedTotal != m.SentTotal || m.Received != m.Sent || res.Latency.Count != m.Received {
		t.Fatalf("counts disagree: %+v, latency count %d", m, res.Latency.Count)
	}
	st := s.Stats()
	if st.MessagesIn != m.SentTotal || st.MessagesOut != m.SentTotal {
		t.Fatalf("server saw %d in / %d out, we sent %d", st.MessagesIn, st.MessagesOut, m.SentTotal)
	}
	if res.ErrorsTotal != 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	if len(res.Series) < 1 {
		t.Fatalf("no series")
	}
}

func TestEchoOpenCountMode(t *testing.T) {
	s := startServer(t)
	res := runOrFail(t, Config{
		Scenario: Echo, Model: Open, Rate: 2000, Messages: 1000, Binary: true, Size: 100,
		Targets: []string{s.URL() + "/echo"}, Conns: 10, Loops: 1,
	})
	m := res.Messages
	if m.SentTotal != 1000 || m.ReceivedTotal != 1000 || m.Lost != 0 || m.Unsent != 0 {
		t.Fatalf("messages: %+v", m)
	}
	if res.SenderLag.Count != 1000 {
		t.Fatalf("sender lag count %d", res.SenderLag.Count)
	}
}

func TestPushNoLoss(t *testing.T) {
	s := startServer(t)
	res := runOrFail(t, Config{
		Scenario: Push, Targets: []string{s.URL() + "/push?interval=10ms&size=64"},
		Conns: 20, Duration: 2 * time.Second, Loops: 1,
	})
	m := res.Messages
	// 100/s each for 2 s; a starved process (load averages of 20-30 on 2 cores here) gets a
	// fraction: the point is that what arrives is neither lost nor duplicated nor reordered
	if res.Connections.Opened != 20 || m.ReceivedTotal < 20*20 {
		t.Fatalf("connections %+v messages %+v", res.Connections, m)
	}
	if m.Lost != 0 || m.Duplicates != 0 || m.Reordered != 0 || m.Corrupt != 0 {
		t.Fatalf("messages: %+v", m)
	}
	if res.Latency.Count != m.Received || res.Latency.P50Ms <= 0 {
		t.Fatalf("latency %+v", res.Latency)
	}
}

// Failures are counted by kind, from the engine's typed errors.
func TestErrorKinds(t *testing.T) {
	s := startServer(t)
	for _, c := range []struct {
		path, kind    string
		failed, drops int64
	}{
		{"/nope", "handshake_404", 3, 0},
		{"/close?code=4001&reason=bye", "close_4001", 0, 3},
		{"/reset?after=3", KindReset, 0, 3},
	} {
		res := runOrFail(t, Config{Scenario: Echo, Targets: []string{s.URL() + c.path}, Conns: 3, Duration: 5 * time.Second, Loops: 1, Drain: 100 * time.Millisecond}) // ends as soon as no connection is left
		if res.Connections.Failed != c.failed || res.Connections.Dropped != c.drops || len(res.Errors) != 1 || res.Errors[0].Kind != c.kind || res.Errors[0].Count != 3 {
			t.Errorf("%s: connections %+v errors %+v; want kind %s", c.path, res.Connections, res.Errors, c.kind)
		}
	}
}
