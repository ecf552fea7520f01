package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

var (
	deflateServerOnce sync.Once
	deflateServerBin  string
	deflateServerErr  error
)

// startDeflateServer runs testdata/deflateserver (an echo server with permessage-deflate,
// goroutine per connection) in its own process, so that only the client is measured; it
// exits when the test ends (stdin EOF).
func startDeflateServer(t testing.TB) string {
	t.Helper()
	deflateServerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wsfleet-deflateserver")
		if err != nil {
			deflateServerErr = err
			return
		}
		deflateServerBin = filepath.Join(dir, "deflateserver")
		out, err := exec.Command("go", "build", "-o", deflateServerBin, "./testdata/deflateserver").CombinedOutput()
		if err != nil {
			deflateServerErr = fmt.Errorf("go build ./testdata/deflateserver: %v\n%s", err, out)
		}
	})
	if deflateServerErr != nil {
		t.Fatal(deflateServerErr)
	}
	return testkit.StartLineServer(t, deflateServerBin)
}

// countHandler counts messages and signals when a target is reached.
type countHandler struct {
	n      atomic.Int64
	target atomic.Int64
	done   chan struct{}
	once   sync.Once
}

func (h *countHandler) OnOpen(*engine.Conn) {}
func (h *countHandler) OnMessage(*engine.Conn, engine.MessageType, []byte) {
	if h.n.Add(1) == h.target.Load() {
		h.once.Do(func() { close(h.done) })
	}
}
func (h *countHandler) OnClose(*engine.Conn, error) {}

func (h *countHandler) expect(t *testing.T, total int64) {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("%d of %d echoes came back", h.n.Load(), total)
	}
}

// deflateRaceEnabled reports whether the test binary was built with -race.
func deflateRaceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// heapNow is heap+stack in use after two collections (sync.Pools emptied).
func heapNow() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// TestCompressionMemoryPerConnection measures what permessage-deflate adds to a connection,
// at 10,000 connections (WSFLEET_DEFLATE_MEM_CONNS overrides): idle after the upgrade, after
// each connection sent one 1 KiB message and received its (compressed) echo, and once the
// histories are full (48 KiB more each way). It logs bytes per connection and checks the
// goals: with context takeover, at most the windows of the directions that keep context plus
// 4 KiB over the uncompressed figure; without, at most 2 KiB over it. Run with -v.
func TestCompressionMemoryPerConnection(t *testing.T) {
	if testing.Short() || deflateRaceEnabled() {
		t.Skip("10,000 connections per configuration: skipped under -short and -race")
	}
	n := 10_000
	if s := os.Getenv("WSFLEET_DEFLATE_MEM_CONNS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	url := startDeflateServer(t) + "/"
	type config struct {
		name   string
		z      *engine.Compression
		window int64 // the bytes of history the goal allows (both directions)
	}
	configs := []config{
		{"uncompressed", nil, 0},
		{"context takeover, windows 15/15", &engine.Compression{}, 2 << 15},
		{"context takeover, windows 12/12", &engine.Compression{ClientMaxWindowBits: 12, ServerMaxWindowBits: 12}, 2 << 12},
		{"client context only (server_no_context_takeover)", &engine.Compression{ServerNoContextTakeover: true}, 1 << 15},
		{"no context takeover", &engine.Compression{ClientNoContextTakeover: true, ServerNoContextTakeover: true}, 0},
	}
	msg := jsonText(1024, 1)
	fill := jsonText(48<<10, 2)
	var plain [3]int64
	var report strings.Builder
	fmt.Fprintf(&report, "| configuration | idle | after 1 KiB each way | histories full |\n|---|---|---|---|\n")
	for _, cfg := range configs {
		eng := newEngine(t)
		h := &countHandler{done: make(chan struct{})}
		opts := &engine.DialOptions{Handler: h, Compression: cfg.z}
		// One connection first, so that loops, pools and the first compressor exist before the baseline.
		first, err := eng.Dial(context.Background(), url, opts)
		if err != nil {
			t.Fatal(err)
		}
		base := heapNow()
		conns := make([]*engine.Conn, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		var failed atomic.Int64
		for i := range conns {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				c, err := eng.Dial(context.Background(), url, opts)
				if err != nil {
					if failed.Add(1) < 3 {
						t.Error(err)
					}
					return
				}
				conns[i] = c
			}(i)
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.FailNow()
		}
		if cfg.z != nil {
			if _, ok := conns[0].Compression(); !ok {
				t.Fatalf("%s: not negotiated", cfg.name)
			}
		}
		idle := (heapNow() - base) / int64(n)

		h.target.Store(int64(n))
		for _, c := range conns {
			if err := c.Send(engine.Text, msg); err != nil {
				t.Fatal(err)
			}
		}
		h.expect(t, int64(n))
		one := (heapNow() - base) / int64(n)

		h.done = make(chan struct{})
		h.once = sync.Once{}
		h.n.Store(0)
		h.target.Store(int64(n))
		for _, c := range conns {
			if err := c.Send(engine.Text, fill); err != nil {
				t.Fatal(err)
			}
		}
		h.expect(t, int64(n))
		full := (heapNow() - base) / int64(n)

		fmt.Fprintf(&report, "| %s | %d B | %d B | %d B |\n", cfg.name, idle, one, full)
		t.Logf("%-50s idle %6d B/conn   after 1 KiB each way %6d B/conn   histories full %6d B/conn", cfg.name, idle, one, full)
		if cfg.z == nil {
			plain = [3]int64{idle, one, full}
		} else {
			for i, got := range []int64{idle, one, full} {
				allowed := plain[i] + 2<<10
				if cfg.window > 0 {
					allowed = plain[i] + cfg.window + 4<<10
				}
				if got > allowed {
					t.Errorf("%s: %d B per connection (stage %d), goal at most %d (uncompressed %d + %d)", cfg.name, got, i, allowed, plain[i], allowed-plain[i])
				}
			}
		}
		for _, c := range conns {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c.Close()
			}()
		}
		wg.Wait()
		first.Close()
		runtime.KeepAlive(conns)
		eng.Close()
	}
	t.Logf("%d connections, heap+stack per connection over the baseline (GOMAXPROCS %d):\n%s", n, runtime.GOMAXPROCS(0), report.String())
}

// rotatingEcho answers each echo with the next of a set of distinct messages.
type rotatingEcho struct {
	msgs [][]byte
	i    int
	left int
	done chan struct{}
}

func (h *rotatingEcho) OnOpen(*engine.Conn) {}
func (h *rotatingEcho) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	h.left--
	if h.left <= 0 {
		h.done <- struct{}{}
		return
	}
	h.i++
	_ = c.Send(engine.Text, h.msgs[h.i%len(h.msgs)])
}
func (h *rotatingEcho) OnClose(*engine.Conn, error) {}

// BenchmarkCompressedEcho: one compressed round trip per op through the Handler path
// (compress, send, receive the server's compressed echo, inflate), JSON-like text that the
// history does not hold whole, against deflateserver in its own process so that only the
// client's allocations count.
func BenchmarkCompressedEcho(b *testing.B) {
	for _, mode := range []string{"context", "no-context"} {
		for _, size := range []int{128, 4 << 10, 64 << 10} {
			b.Run(mode+"/"+sizeName(size), func(b *testing.B) {
				eng := newEngine(b)
				url := startDeflateServer(b)
				z := &engine.Compression{Threshold: -1}
				if mode == "no-context" {
					z.ClientNoContextTakeover, z.ServerNoContextTakeover = true, true
				}
				msgs := make([][]byte, max(8, 2*(32<<10)/size+1))
				for i := range msgs {
					msgs[i] = jsonText(size, uint64(100+i))
				}
				h := &rotatingEcho{msgs: msgs, done: make(chan struct{}, 1)}
				c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{Handler: h, Compression: z})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				h.left = 200
				c.Send(engine.Text, msgs[0])
				<-h.done
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				h.left = b.N
				c.Send(engine.Text, msgs[0])
				<-h.done
			})
		}
	}
}
