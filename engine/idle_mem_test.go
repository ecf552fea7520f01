package engine_test

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wsfleet/wsfleet/engine"
)

// TestIdleMemoryPerConnection reports what an idle connection costs the client process:
// heap+stack and RSS per connection at 5,000 connections (the server in its own process).
// It logs the figures; run it with -v. The goal is at most 800 B heap+stack and 1.5 KiB RSS.
func TestIdleMemoryPerConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 connections: skipped under -short")
	}
	const n = 5000
	url := externalServer(t)
	eng := newEngine(t)
	// One connection first, so that pools, loops and the timer wheel exist before the baseline.
	// One *DialOptions for all, as a fleet would: the connections share its resolved copy.
	opts := &engine.DialOptions{Handler: discardHandler{}}
	first, err := eng.Dial(context.Background(), url+"/echo", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	heap0, rss0 := memNow()
	conns := make([]*engine.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := eng.Dial(context.Background(), url+"/echo", opts)
			if err != nil {
				t.Error(err)
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	heap1, rss1 := memNow()
	t.Logf("idle: %d B heap+stack/conn, %d B RSS/conn (%d connections)", (heap1-heap0)/n, (rss1-rss0)/n, n)
	if p := os.Getenv("WSFLEET_IDLE_HEAP_PROFILE"); p != "" {
		f, _ := os.Create(p)
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	runtime.KeepAlive(conns)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// memNow is heap+stack in use after a GC, and the process's resident set.
func memNow() (heapStack, rss int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapStack = int64(ms.HeapInuse + ms.StackInuse)
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb << 10
		}
	}
	return heapStack, rss
}
