package bench

// Idle memory per connection, and the most idle connections one process holds here.
//
// Each run dials n connections to the reference server's /echo (in another process) with
// 64 concurrent dialers, each with its library's receive loop running, waits a second, and
// compares the process's memory with that before the first dial: HeapInuse+StackInuse
// (B/conn-heap) and VmRSS (B/conn-rss), both after a full collection that returns freed pages
// to the OS; B/conn-live is the growth of live objects alone (HeapAlloc+StackInuse), so
// B/conn-heap minus B/conn-live is what partly used spans cost. The library's shared
// machinery (event loops) starts before the first snapshot, so only what grows with
// connections is counted.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdle: B/conn-heap and B/conn-rss at WSF_IDLE_CONNS (default 10,000) connections.
// The figure does not depend on b.N; run with -benchtime 1x.
func BenchmarkIdle(b *testing.B) {
	url := refServer(b) + "/echo"
	n := envInt("WSF_IDLE_CONNS", 10000)
	for _, p := range peers {
		b.Run(fmt.Sprintf("lib=%s/conns=%d", p.name, n), func(b *testing.B) {
			idleRun(b, p, url, n, nil, nil)
		})
	}
}

// BenchmarkMaxConns: as many idle connections as one process may hold here (WSF_MAX_CONNS,
// default 19,000 of the 20,000 descriptors allowed), the time to establish them with 64
// dialers, and the memory per connection at that count.
func BenchmarkMaxConns(b *testing.B) {
	url := refServer(b) + "/echo"
	n := envInt("WSF_MAX_CONNS", 19000)
	for _, p := range peers {
		b.Run(fmt.Sprintf("lib=%s/conns=%d", p.name, n), func(b *testing.B) {
			idleRun(b, p, url, n, nil, nil)
		})
	}
}

// idleRun dials n connections, measures, then closes them. opts, when set, gives connection
// i's dial options (default: plain, messages discarded); warm, when set, runs on the
// connections before measuring (it may skip the benchmark).
func idleRun(b *testing.B, p peer, url string, n int, opts func(i int) *dialOpts, warm func(cl client, conns []wsConn)) {
	cl := p.open(b)
	defer cl.shutdown()
	ctx := context.Background()
	if opts == nil {
		plain := &dialOpts{}
		opts = func(int) *dialOpts { return plain }
	}
	before := snapMem()
	start := time.Now()
	conns, err := dialMany(ctx, n, 64, func(i int) (wsConn, error) { return cl.dial(ctx, url, opts(i)) })
	est := time.Since(start)
	defer func() {
		closeMany(conns)
		settle(200 * time.Millisecond)
	}()
	if errors.Is(err, errUnsupported) {
		b.Skipf("%s: %v", p.name, err)
	}
	if err != nil {
		b.Logf("%s: %d of %d connections: %v", p.name, len(conns), n, err)
		if len(conns) == 0 {
			b.Fatal(err)
		}
	}
	if warm != nil && err == nil {
		warm(cl, conns)
	}
	settle(time.Second)
	after := snapMem()
	heap, rss := before.perConn(after, len(conns))
	b.ReportMetric(float64(len(conns)), "conns")
	b.ReportMetric(est.Seconds(), "s-establish")
	b.ReportMetric(heap, "B/conn-heap")
	b.ReportMetric(rss, "B/conn-rss")
	b.ReportMetric(before.livePerConn(after, len(conns)), "B/conn-live")
	if dir := os.Getenv("WSF_HEAPPROFILE_DIR"); dir != "" {
		name := strings.NewReplacer("/", "_", "=", "-").Replace(b.Name())
		if f, err := os.Create(fmt.Sprintf("%s/%s.heap.pprof", dir, name)); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	// WSF_HOLD_MS keeps the connections open this long after measuring, so that several
	// processes hold theirs at once (bench/hundredk.sh).
	time.Sleep(time.Duration(envInt("WSF_HOLD_MS", 0)) * time.Millisecond)
}
