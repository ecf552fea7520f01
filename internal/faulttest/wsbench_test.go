package faulttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/loadtest"
)

// wsbenchRound runs loadtest.Run (what wsbench run does) and records its figures as a result.
func wsbenchRound(t *testing.T, fault, note, command string, cfg loadtest.Config, during func()) *Result {
	t.Helper()
	base := TakeSnapshot()
	start, load0 := time.Now(), loadAvg()
	done := make(chan struct{})
	go func() { defer close(done); during() }()
	lr, err := loadtest.Run(context.Background(), cfg)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	w := &WsbenchFigures{Command: command, LatencyP50: lr.Latency.P50Ms, LatencyP99: lr.Latency.P99Ms, LatencyMax: lr.Latency.MaxMs,
		Sent: lr.Messages.SentTotal, Received: lr.Messages.ReceivedTotal, Lost: lr.Messages.Lost, Dropped: lr.Connections.Dropped}
	if rc := lr.Reconnect; rc != nil {
		w.Reconnects, w.DownAtEnd, w.LostInGaps = rc.Reconnects, rc.DownAtEnd, rc.LostInGaps
		w.DisconnectedP50, w.DisconnectedP99, w.DisconnectedMax = rc.Disconnected.P50Ms, rc.Disconnected.P99Ms, rc.Disconnected.MaxMs
	}
	var down bool
	for _, p := range lr.Series {
		if p.Down > 0 && !down {
			w.Outages++
		}
		down = p.Down > 0
	}
	res := &Result{Fault: fault, Server: "reference", Note: note, Conns: cfg.Conns, Procs: 1, When: start.UTC().Format(time.RFC3339), Wsbench: w, Load: [2]float64{load0, loadAvg()}}
	res.Wall = time.Since(start).Seconds()
	lc := CheckBack(base, 30*time.Second)
	res.HeapBefore, res.HeapAfter = base.Heap, lc.After.Heap
	if lc.Problem != "" {
		res.Leaks = append(res.Leaks, "test process: "+lc.Problem)
		t.Error(lc.Problem)
	}
	t.Logf("%s: %+v", fault, *w)
	appendResult(t, res)
	return res
}

// TestWsbenchLatency: wsbench's percentiles show 200 ± 100 ms added to every reply.
func TestWsbenchLatency(t *testing.T) {
	needPeers(t)
	conns, _ := size(100, perProcess)
	peer, err := StartRefServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Stop()
	bin, err := ToxiproxyBinary()
	if err != nil {
		t.Fatal(err)
	}
	tp, err := StartToxiproxy(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	listen, err := tp.Proxy("ws", peer.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.AddToxic("ws", Toxic{Name: "slow", Type: "latency", Stream: "downstream", Attributes: map[string]any{"latency": 200, "jitter": 100}}); err != nil {
		t.Fatal(err)
	}
	rate := float64(conns) * 2
	res := wsbenchRound(t, "latency (wsbench)", "latency toxic 200 ms, jitter 100 ms, downstream, under wsbench's open-model echo",
		fmt.Sprintf("wsbench run -c %d -r %g -d 6s -warmup 1s ws://%s/echo", conns, rate, listen),
		loadtest.Config{Scenario: loadtest.Echo, Model: loadtest.Open, Rate: rate, Conns: conns, Duration: 6 * time.Second,
			Warmup: time.Second, Targets: []string{"ws://" + listen + "/echo"}}, func() {})
	w := res.Wsbench
	if w.LatencyP50 < 100 || w.LatencyP50 > 600 || w.LatencyP99 < 250 || w.Lost != 0 || w.Dropped != 0 {
		t.Errorf("wsbench under 200 ± 100 ms: %+v", *w)
	}
}

// TestWsbenchSoakAcrossRestart: a wsbench soak with -reconnect rides through the server
// process being killed and restarted on the same port, as in a deploy.
func TestWsbenchSoakAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault rounds take tens of seconds; not in -short")
	}
	conns, _ := size(300, 0) // in one process: 10,000 descriptors here, 10,000 in the server
	rate := conns * 2
	if *fleetSize > 0 {
		rate = conns / 2
	}
	peer, err := StartRefServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := peer.Addr
	var next *Peer
	policy := &engine.ReconnectPolicy{MinDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: 0.5}
	res := wsbenchRound(t, "server restart (wsbench soak)", "SIGKILL 3 s in, new server on the same port 3 s later, under a wsbench soak with -reconnect min=100ms,max=1s,jitter=0.5",
		fmt.Sprintf("wsbench run -scenario soak -c %d -r %d -d 10s -warmup 1s -ping 1s -reconnect min=100ms,max=1s,jitter=0.5 ws://%s/echo", conns, rate, addr),
		loadtest.Config{Scenario: loadtest.Soak, Rate: float64(rate), Conns: conns, Duration: 10 * time.Second, Warmup: time.Second,
			Ping: time.Second, Reconnect: policy, Targets: []string{"ws://" + addr + "/echo"}},
		func() {
			time.Sleep(3 * time.Second)
			peer.Kill()
			time.Sleep(3 * time.Second)
			for i := 0; i < 50 && next == nil; i++ {
				if next, err = StartRefServer(addr); err != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	if next == nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	next.Stop()
	w := res.Wsbench
	if w.Reconnects != int64(conns) || w.Dropped != int64(conns) || w.DownAtEnd != 0 || w.Outages != 1 {
		t.Errorf("want each of %d connections dropped and back once, one outage: %+v", conns, *w)
	}
	if w.DisconnectedP50 < 2500 || w.Lost != w.LostInGaps {
		t.Errorf("time disconnected or losses: %+v", *w)
	}
}
