package engine_test

import (
	"context"
	"crypto/tls"
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
// heap+stack and RSS per connection at 5,000 connections (the server in its own process),
// over ws:// and wss://. It logs the figures; run it with -v.
func TestIdleMemoryPerConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 connections: skipped under -short")
	}
	t.Run("ws", func(t *testing.T) {
		idleMemory(t, externalServer(t)+"/echo", &engine.DialOptions{Handler: discardHandler{}})
	})
	t.Run("wss", func(t *testing.T) {
		certFile, keyFile, roots := peerTLSCert(t)
		base := startPeer(t, "node", "--tls", certFile, keyFile)
		idleMemory(t, base+"/echo", &engine.DialOptions{Handler: discardHandler{}, TLSConfig: &tls.Config{RootCAs: roots}})
	})
}

// idleMemory dials 5,000 idle connections with one *DialOptions, as a fleet would (the
// connections share its resolved copy), and logs what each costs.
func idleMemory(t *testing.T, url string, opts *engine.DialOptions) {
	const n = 5000
	eng := newEngine(t)
	// One connection first, so that pools, loops and the timer wheel exist before the baseline.
	first, err := eng.Dial(context.Background(), url, opts)
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
			c, err := eng.Dial(context.Background(), url, opts)
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
