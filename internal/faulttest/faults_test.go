package faulttest

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// perProcess is the most connections one worker process carries in -fleet runs: with its
// toxiproxy (two descriptors per link) that stays well under 20,000 open files per process.
const perProcess = 2500

// size is the round's connection count: ci in make test, -fleet N by hand (capped by limit
// when the fault would need more bandwidth than one machine has).
func size(ci, limit int) (conns, procs int) {
	if *fleetSize <= 0 {
		return ci, 1
	}
	conns = *fleetSize
	if limit > 0 {
		conns = min(conns, limit)
	}
	return conns, (conns + perProcess - 1) / perProcess
}

// pace is the per-connection message interval: 200 ms in CI, 2 s at fleet size.
func pace() time.Duration {
	if *fleetSize > 0 {
		return 2 * time.Second
	}
	return 200 * time.Millisecond
}

func needPeers(t *testing.T) {
	t.Helper()
	if _, err := ToxiproxyBinary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err) // CI installs the peers (make test runs .ci/install-peers): missing is a failure
		}
		t.Skip(err)
	}
	if testing.Short() {
		t.Skip("fault rounds take tens of seconds; not in -short")
	}
}

func run(t *testing.T, p Plan) (*Result, []*GroupReport) {
	t.Helper()
	res, reports, err := Run(p)
	if err != nil {
		t.Fatalf("%s/%s: %v", p.Fault, p.Server, err)
	}
	t.Logf("%s/%s: %d conns in %d procs, %.1fs: inject %.0f ms, detect %v, quiet→close %v, reconnect %v, back %v, rtt %v, handshakes peak %.0f mean %.1f /100ms; sent %d received %d attributed %d silent %d; losses %v classes %v; errors %q; heap %d→%d KiB (peak %d)",
		res.Fault, res.Server, res.Conns, res.Procs, res.Wall, res.InjectMs, res.Detect, res.Quiet, res.Reconnect, res.Back, res.RTT,
		res.HandshakePeak, res.HandshakeMean, res.Sent, res.Received, res.Attributed, res.Silent,
		res.ClosesPerConn, res.ErrorClasses, res.ErrorSamples, res.HeapBefore>>10, res.HeapAfter>>10, res.HeapPeak>>10)
	for _, s := range res.Stalls {
		t.Logf("not drained: %s", s)
	}
	appendResult(t, res)
	// What every round must show, whatever the fault.
	if res.Silent != 0 {
		t.Errorf("%d messages lost silently (accepted by Send, never echoed, on an epoch that ended without an error)", res.Silent)
	}
	if res.Corrupt != 0 || res.Reordered != 0 {
		t.Errorf("%d messages came back altered, %d out of order", res.Corrupt, res.Reordered)
	}
	for _, l := range res.Leaks {
		t.Error(l)
	}
	return res, reports
}

// appendResult writes the result to -results once the test's checks have run, with their verdict.
func appendResult(t *testing.T, res *Result) {
	if *resultsFile == "" {
		return
	}
	t.Cleanup(func() {
		res.Verdict = "pass"
		if t.Failed() {
			res.Verdict = "fail"
		}
		if err := res.Append(*resultsFile); err != nil {
			t.Error(err)
		}
	})
}

// oneLossEach checks that every connection saw exactly one loss, of the given class.
func oneLossEach(t *testing.T, res *Result, class string) {
	t.Helper()
	if res.ClosesPerConn["1"] != res.Conns {
		t.Errorf("losses per connection %v, want exactly one for each of %d", res.ClosesPerConn, res.Conns)
	}
	if res.ErrorClasses[class] != res.Conns {
		t.Errorf("loss classes %v, want %s for all %d (errors: %q)", res.ErrorClasses, class, res.Conns, res.ErrorSamples)
	}
}

// ownersOnce checks that each owned connection's owner saw the loss and the return once.
func ownersOnce(t *testing.T, res *Result, reports []*GroupReport, back bool) {
	t.Helper()
	owned := 0
	for _, g := range reports {
		for _, c := range g.Conns {
			if c.Owned {
				owned++
			}
		}
	}
	if owned == 0 {
		t.Fatal("no owned connections in the round")
	}
	if res.OwnerReconnecting["1"] != owned {
		t.Errorf("owners' Reconnecting events per connection %v, want 1 for each of %d", res.OwnerReconnecting, owned)
	}
	want := 0
	if back {
		want = 1
	}
	if res.OwnerReconnected[strconv.Itoa(want)] != owned {
		t.Errorf("owners' Reconnected events per connection %v, want %d for each of %d", res.OwnerReconnected, want, owned)
	}
}

func reopenedOnce(t *testing.T, reports []*GroupReport) {
	t.Helper()
	for _, g := range reports {
		for _, c := range g.Conns {
			if len(c.Opens) != 2 {
				t.Errorf("connection %d opened %d times, want 2 (first dial and one return)", c.ID, len(c.Opens))
				return
			}
		}
	}
}

func reconnectPolicy() *engine.ReconnectPolicy {
	return &engine.ReconnectPolicy{MinDelay: 100 * time.Millisecond, MaxDelay: time.Second, Multiplier: 2, Jitter: 0.5}
}

func blackhole(t *testing.T, server string, ci int) {
	needPeers(t)
	conns, procs := size(ci, 0)
	ping, pong := time.Second, time.Second
	res, reports := run(t, Plan{
		Fault: "blackhole", Server: server, Procs: procs,
		Note: "timeout toxic, timeout 0, both directions; PingInterval 1 s, PongTimeout 1 s; reconnect 100 ms..1 s ×2, jitter 0.5",
		Spec: GroupSpec{Conns: conns, Payload: 64, Interval: pace(), PingInterval: ping, PongTimeout: pong,
			ConnectTimeout: 5 * time.Second, Reconnect: reconnectPolicy(), OwnerShare: 4},
		Toxics: []Toxic{
			{Name: "hole-up", Type: "timeout", Stream: "upstream", Attributes: map[string]any{"timeout": 0}},
			{Name: "hole-down", Type: "timeout", Stream: "downstream", Attributes: map[string]any{"timeout": 0}},
		},
		Settle: 2 * time.Second, ExpectClose: true, ClearOnClosed: true, ExpectReopen: true,
	})
	oneLossEach(t, res, ClassTimeout)
	// The bound of the issue: PingInterval + PongTimeout + one 10 ms tick from the last
	// traffic each connection received (the toxic's start is not that moment: toxiproxy takes
	// its time to put it on every link, over a second when the machine is busy), plus a
	// scheduling allowance for a loaded 2-core machine under -race (the measured maximum is
	// in docs/robustness.md).
	if bound := ping + pong + 10*time.Millisecond + time.Second; res.Quiet.Max > float64(bound/time.Millisecond) {
		t.Errorf("dead peer detected up to %.0f ms after its last traffic, want within %v", res.Quiet.Max, bound)
	}
	reopenedOnce(t, reports)
	ownersOnce(t, res, reports, true)
}

func TestBlackhole(t *testing.T)       { blackhole(t, "reference", 300) }
func TestBlackholePython(t *testing.T) { needPython(t); blackhole(t, "python-websockets", 100) }

func needPython(t *testing.T) {
	t.Helper()
	if *fleetSize > 0 {
		t.Skip("the Python server is a second opinion at CI size only")
	}
}

// TestLatency: 200 ± 100 ms on the server's replies, PongTimeout (2 s) well above it: no
// connection is declared dead, and the latency shows in the round trips. The margin is for
// toxiproxy itself, whose delays grow when the machine is busy (a round trip of 1.26 s was
// seen at 10,000 connections under a load average of 36).
func TestLatency(t *testing.T) {
	needPeers(t)
	conns, procs := size(300, 0)
	res, _ := run(t, Plan{
		Fault: "latency", Server: "reference", Procs: procs,
		Note: "latency toxic 200 ms, jitter 100 ms, downstream; PingInterval 500 ms, PongTimeout 2 s",
		Spec: GroupSpec{Conns: conns, Payload: 64, Interval: pace(), PingInterval: 500 * time.Millisecond, PongTimeout: 2 * time.Second,
			ConnectTimeout: 10 * time.Second},
		Toxics: []Toxic{{Name: "slow", Type: "latency", Stream: "downstream", Attributes: map[string]any{"latency": 200, "jitter": 100}}},
		Settle: time.Second, Hold: 8 * time.Second,
	})
	if len(res.ErrorClasses) != 0 {
		t.Errorf("false dead-peer alarms or other losses under latency: %v %q", res.ErrorClasses, res.ErrorSamples)
	}
	if res.RTT.P50 < 100 || res.RTT.P99 < 250 {
		t.Errorf("round trips %+v do not show the 200 ± 100 ms latency", res.RTT)
	}
}

// TestBandwidth: 64 KB/s per connection upstream, senders far faster. Half wait in
// SendContext, half get ErrBackedUp from TrySend; memory stays bounded by MaxPendingBytes.
func TestBandwidth(t *testing.T) {
	needPeers(t)
	conns, procs := size(60, 1000)
	const maxPending = 64 << 10
	res, _ := run(t, Plan{
		Fault: "bandwidth", Server: "reference", Procs: procs,
		Note: "bandwidth toxic 64 KB/s per connection, upstream; senders flood 1 KiB messages; MaxPendingBytes 64 KiB",
		Spec: GroupSpec{Conns: conns, Payload: 1024, Flood: true, FloodWait: true, MaxPendingBytes: maxPending,
			ConnectTimeout: 10 * time.Second},
		Toxics: []Toxic{{Name: "thin", Type: "bandwidth", Stream: "upstream", Attributes: map[string]any{"rate": 64}}},
		Settle: 500 * time.Millisecond, Hold: 5 * time.Second,
	})
	if len(res.ErrorClasses) != 0 {
		t.Errorf("losses under a slow link: %v %q", res.ErrorClasses, res.ErrorSamples)
	}
	if res.BackedUp == 0 {
		t.Error("no TrySend met ErrBackedUp: the senders did not outrun the link")
	}
	// Pending bytes are bounded per connection (TrySend at MaxPendingBytes, SendContext waits
	// there); allow twice that per connection, the test's own ledger (an epoch and a bit per
	// message: under 5 bytes) and 16 MiB for everything else.
	bound := int64(conns)*2*maxPending + 5*int64(res.Sent) + 16<<20
	if grow := int64(res.HeapPeak) - int64(res.HeapBefore); grow > bound {
		t.Errorf("live heap grew by %d KiB under flood, over the bound of %d KiB (%d connections × 2 × MaxPendingBytes + ledger + 16 MiB)", grow>>10, bound>>10, conns)
	}
}

func slicer(t *testing.T, server string, ci int) {
	needPeers(t)
	conns, procs := size(ci, 2500)
	res, _ := run(t, Plan{
		Fault: "slicer", Server: server, Procs: procs,
		Note: "slicer toxic, 1-7 byte segments (average 4, variation 3), 50 µs apart, both directions; messages 20-300 bytes",
		Spec: GroupSpec{Conns: conns, Payload: 300, VarySize: true, Interval: pace() * 2, PingInterval: 5 * time.Second,
			ConnectTimeout: 10 * time.Second},
		Toxics: []Toxic{
			{Name: "cut-up", Type: "slicer", Stream: "upstream", Attributes: map[string]any{"average_size": 4, "size_variation": 3, "delay": 50}},
			{Name: "cut-down", Type: "slicer", Stream: "downstream", Attributes: map[string]any{"average_size": 4, "size_variation": 3, "delay": 50}},
		},
		Settle: 500 * time.Millisecond, Hold: 6 * time.Second,
	})
	if len(res.ErrorClasses) != 0 {
		t.Errorf("losses with sliced segments: %v %q", res.ErrorClasses, res.ErrorSamples)
	}
	if res.Received == 0 || res.Received != res.Sent {
		t.Errorf("sent %d, received intact %d", res.Sent, res.Received)
	}
}

func TestSlicer(t *testing.T)       { slicer(t, "reference", 100) }
func TestSlicerPython(t *testing.T) { needPython(t); slicer(t, "python-websockets", 50) }

// cut runs limit_data or reset_peer: every connection must report exactly one error, of class.
func cut(t *testing.T, server, fault string, ci int, toxic Toxic, class, note string) *Result {
	needPeers(t)
	conns, procs := size(ci, 0)
	res, _ := run(t, Plan{
		Fault: fault, Server: server, Procs: procs, Note: note,
		Spec:   GroupSpec{Conns: conns, Payload: 300, Interval: pace(), ConnectTimeout: 10 * time.Second, OwnerShare: 4},
		Toxics: []Toxic{toxic},
		Settle: 500 * time.Millisecond, ExpectClose: true,
	})
	oneLossEach(t, res, class)
	for _, e := range res.ErrorSamples {
		if !strings.Contains(e, "1006") {
			t.Errorf("error %q does not name the abnormal close", e)
		}
	}
	return res
}

func limitData(t *testing.T, server string, ci int) {
	// The server's 101 and the first echoes pass, then the link is cut 2,000 bytes in: in the
	// middle of a 304-byte frame, since 2,000 minus the 101's length is no multiple of 304.
	res := cut(t, server, "limit_data", ci,
		Toxic{Name: "cut", Type: "limit_data", Stream: "downstream", Attributes: map[string]any{"bytes": 2000}},
		ClassAbnormal, "limit_data toxic, 2,000 bytes downstream (mid-frame), no reconnect")
	for _, e := range res.ErrorSamples {
		if !strings.Contains(e, "in the middle of a frame") {
			t.Errorf("error %q does not say the stream was cut inside a frame", e)
		}
	}
}

func resetPeer(t *testing.T, server string, ci int) {
	cut(t, server, "reset_peer", ci,
		Toxic{Name: "rst", Type: "reset_peer", Stream: "downstream", Attributes: map[string]any{"timeout": 0}, Dormant: true},
		ClassReset, "reset_peer toxic, timeout 0, downstream (dormant from the start, armed at the fault), no reconnect")
}

func TestLimitData(t *testing.T)       { limitData(t, "reference", 200) }
func TestLimitDataPython(t *testing.T) { needPython(t); limitData(t, "python-websockets", 100) }
func TestResetPeer(t *testing.T)       { resetPeer(t, "reference", 200) }
func TestResetPeerPython(t *testing.T) { needPython(t); resetPeer(t, "python-websockets", 100) }

// TestServerRestart kills the server process with every connection open and starts a new
// one on the same port 3 s later. Each connection comes back once; each Handler and owner
// sees the loss and the return once; the jitter spreads the reconnection storm.
func TestServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault rounds take tens of seconds; not in -short")
	}
	conns, procs := size(1000, 0)
	res, reports := run(t, Plan{
		Fault: "server restart", Server: "reference", Procs: procs,
		Note: "SIGKILL, new server on the same port 3 s later; reconnect 100 ms..1 s ×2, jitter 0.5",
		Spec: GroupSpec{Conns: conns, Payload: 64, Interval: pace() * 5, ConnectTimeout: 5 * time.Second,
			Reconnect: reconnectPolicy(), OwnerShare: 4},
		Settle: time.Second, KillServer: true, RestartAfter: 3 * time.Second, ExpectClose: true, ExpectReopen: true,
	})
	if res.ClosesPerConn["1"] != res.Conns {
		t.Errorf("losses per connection %v, want one each", res.ClosesPerConn)
	}
	reopenedOnce(t, reports)
	ownersOnce(t, res, reports, true)
	// The figure asked of a fleet: peak handshakes per 100 ms at most twice the mean over the
	// reconnection window. With every retry timer at MaxDelay d scaled by U[1-j, 1+j] (j the
	// Jitter) and their phases spread, the first attempt after the restart falls in [0, (1+j)d)
	// with a density flat up to (1-j)d and falling to zero after it, so peak / mean ≈ 1+j:
	// 1.5 for this policy. Counting noise adds √peak per bucket, which is why the bound is
	// asserted at fleet size (-fleet; 100 per bucket at 1,000 connections puts 1.5 within
	// three standard deviations of 2). At CI size the test holds to what a storm without
	// jitter could not do: no 100 ms takes half of the returns, and they spread over a second.
	total := int64(0)
	for _, b := range res.HandshakeBuckets {
		total += b
	}
	if total < int64(res.Conns) || res.HandshakeWindow < 1000 || float64(res.HandshakePeak) > 0.5*float64(total) {
		t.Errorf("reconnection storm: %d handshakes over %.0f ms, peak %.0f per 100 ms (mean %.1f): want all %d back, spread over at least 1 s, no 100 ms with half of them (per 100 ms: %v; reopened per 100 ms as the clients saw it: %v)",
			total, res.HandshakeWindow, res.HandshakePeak, res.HandshakeMean, res.Conns, res.HandshakeBuckets, res.ReopenBuckets)
	}
	if res.Conns >= 5000 && res.HandshakePeak > 2*res.HandshakeMean {
		t.Errorf("reconnection storm at %d connections: peak %.0f handshakes per 100 ms is %.2f× the mean of %.1f, want at most 2× (server, per 100 ms: %v)",
			res.Conns, res.HandshakePeak, res.HandshakePeak/res.HandshakeMean, res.HandshakeMean, res.HandshakeBuckets)
	}
	t.Logf("reconnection storm: peak %.0f handshakes per 100 ms, %.2f× the mean of %.1f over %.0f ms (server, per 100 ms: %v; clients: %v)",
		res.HandshakePeak, res.HandshakePeak/res.HandshakeMean, res.HandshakeMean, res.HandshakeWindow, res.HandshakeBuckets, res.ReopenBuckets)
}

// TestGiveUp kills the server for good under MaxAttempts 3: every connection gives up, once,
// and says so.
func TestGiveUp(t *testing.T) {
	if testing.Short() {
		t.Skip("fault rounds take tens of seconds; not in -short")
	}
	conns, procs := size(300, 0)
	p := reconnectPolicy()
	p.MaxAttempts = 3
	res, reports := run(t, Plan{
		Fault: "server gone (MaxAttempts 3)", Server: "reference", Procs: procs,
		Note: "SIGKILL, no restart; reconnect 100 ms..1 s ×2, jitter 0.5, MaxAttempts 3",
		Spec: GroupSpec{Conns: conns, Payload: 64, Interval: pace(), ConnectTimeout: 5 * time.Second,
			Reconnect: p, OwnerShare: 4},
		Settle: time.Second, KillServer: true, ExpectClose: true, ExpectFinal: true,
	})
	if res.ClosesPerConn["1"] != res.Conns {
		t.Errorf("losses per connection %v, want one each", res.ClosesPerConn)
	}
	gaveUp := 0
	for _, g := range reports {
		for _, c := range g.Conns {
			if c.Final != "" {
				gaveUp++
			}
			if c.Owned && c.OwnerFinal != 1 {
				t.Errorf("connection %d: owner saw %d final events, want 1", c.ID, c.OwnerFinal)
			}
			if !strings.Contains(c.Final, "gave up") {
				t.Errorf("connection %d ended with %q, which does not say it gave up reconnecting", c.ID, c.Final)
				return
			}
		}
	}
	if gaveUp != res.Conns {
		t.Errorf("%d of %d connections ended for good", gaveUp, res.Conns)
	}
	ownersOnce(t, res, reports, false)
}
