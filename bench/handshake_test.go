package bench

// Handshakes per second: dial (TCP connect + upgrade) then close, with one dialer and with
// 64 concurrent dialers. Close is each library's own: wsfleet, gws and coder send a close
// frame (wsfleet and coder wait for the answer), gorilla, gobwas and nbio close the socket.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHandshake/lib=X/dialers=N: one op is one dial+close; reports handshakes/s,
// client CPU per handshake, allocations per handshake and the client's context switches per
// handshake.
func BenchmarkHandshake(b *testing.B) {
	url := refServer(b) + "/echo"
	for _, p := range peers {
		for _, dialers := range []int{1, 64} {
			b.Run(fmt.Sprintf("lib=%s/dialers=%d", p.name, dialers), func(b *testing.B) {
				handshakeRun(b, p, url, &dialOpts{}, dialers)
			})
		}
	}
}

func handshakeRun(b *testing.B, p peer, url string, o *dialOpts, dialers int) {
	cl := p.open(b)
	defer cl.shutdown()
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	m := startCost()
	csw := contextSwitches()
	b.ResetTimer()
	for d := 0; d < dialers; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil && next.Add(1) <= int64(b.N) {
				c, err := cl.dial(ctx, url, o)
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				_ = c.close()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if e := failed.Load(); e != nil {
		b.Fatal(*e)
	}
	el := time.Since(m.start).Seconds()
	b.ReportMetric(float64(b.N)/el, "handshakes/s")
	b.ReportMetric((cpuSeconds()-m.cpu)/float64(b.N)*1e6, "cpu-us/hs")
	b.ReportMetric(float64(mallocs()-m.allocs)/float64(b.N), "allocs/hs")
	b.ReportMetric(float64(contextSwitches()-csw)/float64(b.N), "ctxsw/hs")
	settle(100 * time.Millisecond)
}
