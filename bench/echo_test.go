package bench

// Echo round trips: every connection sends a message, waits for its echo from the
// reference server, and sends the next, from its receive path (one message in flight per
// connection). One op is one round trip; b.N round trips are spread over the connections.
// Reported: msgs/s (round trips per second), cpu-s/1e6msg (this process's user+system CPU per
// million round trips: the server is another process), allocs/msg (runtime Mallocs delta).
//
// The connections are dialed once per sub-benchmark and kept while the framework raises b.N.

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

var echoShapes = []struct{ conns, size int }{{1000, 128}, {100, 4096}}

// BenchmarkEcho/lib=X/conns=N/size=S against the reference server over ws://.
func BenchmarkEcho(b *testing.B) {
	url := refServer(b) + "/echo"
	for _, p := range peers {
		b.Run("lib="+p.name, func(b *testing.B) {
			for _, s := range echoShapes {
				echoBench(b, p, url, nil, s.conns, s.size)
			}
		})
	}
}

// echoFleet is a set of connections that echo; kept across the framework's b.N rounds.
type echoFleet struct {
	cl     client
	conns  []wsConn
	states []*echoState
	active atomic.Int64 // connections not yet done this round
	done   chan struct{}
}

type echoState struct {
	c        wsConn
	payloads [][]byte // sent in turn; one goroutine at a time sends on a connection
	next     int
	left     atomic.Int64
	f        *echoFleet
}

// payload is the message to send next.
func (s *echoState) payload() []byte {
	p := s.payloads[s.next%len(s.payloads)]
	s.next++
	return p
}

// onMsg runs on the connection's receive path: next round trip, or done.
func (s *echoState) onMsg([]byte) {
	if s.left.Add(-1) > 0 {
		if err := s.c.send(s.payload()); err != nil {
			return // the round never ends: the benchmark times out and says so
		}
		return
	}
	if s.f.active.Add(-1) == 0 {
		s.f.done <- struct{}{}
	}
}

// dialEchoFleet dials n connections that send payloads in turn, each starting at a
// different one.
func dialEchoFleet(b *testing.B, p peer, url string, o dialOpts, n int, payloads [][]byte) *echoFleet {
	f := &echoFleet{cl: p.open(b), done: make(chan struct{}, 1)}
	f.states = make([]*echoState, n)
	for i := range f.states {
		f.states[i] = &echoState{payloads: payloads, next: i, f: f}
	}
	ctx := context.Background()
	conns, err := dialMany(ctx, n, 64, func(i int) (wsConn, error) {
		oi := o
		oi.onMsg = f.states[i].onMsg
		c, err := f.cl.dial(ctx, url, &oi)
		if err == nil {
			f.states[i].c = c
		}
		return c, err
	})
	f.conns = conns
	if err != nil {
		f.close()
		b.Fatalf("%s: %v", p.name, err)
	}
	return f
}

func (f *echoFleet) close() {
	closeMany(f.conns)
	f.cl.shutdown()
	settle(200 * time.Millisecond)
}

// round makes total round trips over the fleet and waits for them (at most timeout).
func (f *echoFleet) round(total int, timeout time.Duration) error {
	n := len(f.states)
	per, extra := total/n, total%n
	var active int64
	for i, s := range f.states {
		k := per
		if i < extra {
			k++
		}
		s.left.Store(int64(k))
		if k > 0 {
			active++
		}
	}
	if active == 0 {
		return nil
	}
	f.active.Store(active)
	for _, s := range f.states {
		if s.left.Load() > 0 {
			if err := s.c.send(s.payload()); err != nil {
				return err
			}
		}
	}
	// A connection that stops answering shows as no progress at all: give up after
	// echoStall without any, rather than waiting out the whole timeout.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	left, progressAt := f.left(), start
	for {
		select {
		case <-f.done:
			return nil
		case now := <-tick.C:
			if l := f.left(); l != left {
				left, progressAt = l, now
			}
			if stalled := now.Sub(progressAt) >= echoStall; stalled || now.Sub(start) >= timeout {
				what := fmt.Sprintf("after %v", timeout)
				if stalled {
					what = fmt.Sprintf("with no echo for %v", echoStall)
				}
				return fmt.Errorf("%d of %d connections still echoing %s (%d echoes missing)", f.active.Load(), active, what, left)
			}
		}
	}
}

// echoStall is how long a round may go without a single echo before it fails.
const echoStall = 30 * time.Second

// left is how many echoes the current round still waits for.
func (f *echoFleet) left() int64 {
	var n int64
	for _, s := range f.states {
		n += s.left.Load()
	}
	return n
}

// countingPayload is the uncompressed benchmarks' message: bytes 0, 1, 2, ...
func countingPayload(size int) [][]byte {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	return [][]byte{payload}
}

// echoBench runs the sub-benchmark conns=N/size=S of b with connections dialed with o.
func echoBench(b *testing.B, p peer, url string, o *dialOpts, conns, size int) {
	echoBenchPayloads(b, p, url, o, conns, countingPayload(size))
}

// echoBenchPayloads is echoBench with the messages given (all of one size).
func echoBenchPayloads(b *testing.B, p peer, url string, o *dialOpts, conns int, payloads [][]byte) {
	size := len(payloads[0])
	var opts dialOpts
	if o != nil {
		opts = *o
	}
	var f *echoFleet
	defer func() {
		if f != nil {
			f.close()
		}
	}()
	b.Run(fmt.Sprintf("conns=%d/size=%d", conns, size), func(b *testing.B) {
		if f == nil {
			f = dialEchoFleet(b, p, url, opts, conns, payloads)
			// WSF_SETTLE_MS: wait this long after dialing (dial-time timers expire).
			time.Sleep(time.Duration(envInt("WSF_SETTLE_MS", 0)) * time.Millisecond)
			// Warm up: pools, buffers, goroutine stacks.
			if err := f.round(10*conns, 2*time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		stopProfile := cpuProfile(b)
		m := startCost()
		b.ResetTimer()
		if err := f.round(b.N, 5*time.Minute); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		stopProfile()
		m.report(b, int64(b.N))
		b.SetBytes(int64(size))
	})
}
