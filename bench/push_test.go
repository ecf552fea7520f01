package bench

// Push fan-out: WSF_PUSH_CONNS (default 10,000) connections to the reference server's
// /push, which sends each connection a WSF_PUSH_SIZE-byte (default 64) binary message every
// WSF_PUSH_INTERVAL_MS (default 100) milliseconds, stamped [UnixNano int64 LE][seq uint64 LE]
// when written. The client records receive time minus stamp (same clock: one machine).
// One op is one message received; reported: p50-us, p99-us, p999-us delivery latency,
// msgs/s, cpu-s/1e6msg and allocs/msg of this (client) process.

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPush/lib=X/conns=N.
func BenchmarkPush(b *testing.B) {
	n := envInt("WSF_PUSH_CONNS", 10000)
	interval := envInt("WSF_PUSH_INTERVAL_MS", 100)
	size := envInt("WSF_PUSH_SIZE", 64)
	url := fmt.Sprintf("%s/push?interval=%dms&size=%d", refServer(b), interval, size)
	for _, p := range peers {
		b.Run("lib="+p.name, func(b *testing.B) { pushBench(b, p, url, nil, n) })
	}
}

// pushFleet is a set of connections receiving pushes.
type pushFleet struct {
	cl     client
	conns  []wsConn
	h      hist
	got    atomic.Int64
	target atomic.Int64
	done   chan struct{}
}

func (f *pushFleet) onMsg(data []byte) {
	if len(data) >= 16 {
		sent := int64(binary.LittleEndian.Uint64(data))
		f.h.record((time.Now().UnixNano() - sent) / 1e3)
	}
	if t := f.target.Load(); f.got.Add(1) >= t && t > 0 {
		select {
		case f.done <- struct{}{}:
		default:
		}
	}
}

func pushBench(b *testing.B, p peer, url string, o *dialOpts, n int) {
	var f *pushFleet
	defer func() {
		if f != nil {
			closeMany(f.conns)
			f.cl.shutdown()
			settle(200 * time.Millisecond)
		}
	}()
	b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
		if f == nil {
			f = &pushFleet{cl: p.open(b), done: make(chan struct{}, 1)}
			f.target.Store(-1)
			var opts dialOpts
			if o != nil {
				opts = *o
			}
			opts.onMsg = f.onMsg
			ctx := context.Background()
			conns, err := dialMany(ctx, n, 64, func(int) (wsConn, error) { return f.cl.dial(ctx, url, &opts) })
			f.conns = conns
			if err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
			// Every connection on the push grid; WSF_SETTLE_MS waits longer (dial-time timers expire).
			time.Sleep(time.Duration(envInt("WSF_SETTLE_MS", 2000)) * time.Millisecond)
		}
		select { // a late signal of the previous round
		case <-f.done:
		default:
		}
		f.h.reset()
		f.got.Store(0)
		f.target.Store(int64(b.N))
		stopProfile := cpuProfile(b)
		m := startCost()
		b.ResetTimer()
		select {
		case <-f.done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("%d of %d pushes after 5m", f.got.Load(), b.N)
		}
		b.StopTimer()
		stopProfile()
		f.target.Store(-1)
		m.report(b, int64(b.N))
		b.ReportMetric(f.h.quantile(0.50), "p50-us")
		b.ReportMetric(f.h.quantile(0.99), "p99-us")
		b.ReportMetric(f.h.quantile(0.999), "p999-us")
	})
}
