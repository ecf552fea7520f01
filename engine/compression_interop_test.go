package engine_test

// permessage-deflate against real peers: Python's websockets (context takeover by default,
// server_max_window_bits=12 in its answer) and Node's ws (with and without context
// takeover). Both peers compress every message they send, however small.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// deflateSizes run from empty to 1 MiB, across the frame length forms and past the 32 KiB
// window (so back-references into earlier messages and within a message both occur).
var deflateSizes = []int{0, 1, 2, 127, 128, 129, 1000, 4096, 32767, 32768, 40000, 65535, 65536, 100_000, 1 << 20}

// jsonText is compressible text, different for each seed.
func jsonText(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, `{"seq":%d,"sym":"%c%c%c","px":%d.%02d,"note":"héllo wörld ✓"},`,
			r.IntN(1e6), 'A'+r.IntN(26), 'A'+r.IntN(26), 'A'+r.IntN(26), r.IntN(9999), r.IntN(100))
	}
	out := b.Bytes()
	for len(out) > n { // cut at a rune boundary, pad with ASCII
		out = out[:n]
		for len(out) > 0 && out[len(out)-1] >= 0x80 {
			out = out[:len(out)-1]
		}
	}
	for len(out) < n {
		out = append(out, ' ')
	}
	return out
}

// frameLog counts frame bytes in and out through the connection's trace.
type frameLog struct {
	mu       sync.Mutex
	in, out  int64
	inFrames int
}

func (f *frameLog) trace(ev engine.TraceEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch ev.Kind {
	case engine.TraceFrameRecv:
		if ev.Opcode == engine.Text || ev.Opcode == engine.Binary || ev.Opcode == 0 {
			f.in += int64(ev.Length)
			f.inFrames++
		}
	case engine.TraceFrameSent:
		if ev.Opcode == engine.Text || ev.Opcode == engine.Binary {
			f.out += int64(ev.Length)
		}
	}
}

func (f *frameLog) take() (in, out int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, out = f.in, f.out
	f.in, f.out = 0, 0
	return
}

func TestCompressionInterop(t *testing.T) {
	checkNoLeaks(t)
	type variant struct {
		name    string
		peer    string // --compress
		opts    engine.Compression
		want    func(p engine.Compression) bool
		wantStr string
	}
	variants := []variant{
		{"server-on/default", "on", engine.Compression{Threshold: -1},
			func(p engine.Compression) bool { return !p.ClientNoContextTakeover && !p.ServerNoContextTakeover },
			"context takeover both ways"},
		{"server-on/threshold", "on", engine.Compression{},
			func(p engine.Compression) bool { return !p.ClientNoContextTakeover }, "context takeover"},
		{"server-on/client-no-context", "on", engine.Compression{ClientNoContextTakeover: true, Threshold: -1},
			func(p engine.Compression) bool { return p.ClientNoContextTakeover }, "client_no_context_takeover"},
		{"server-on/small-windows", "on", engine.Compression{ClientMaxWindowBits: 9, ServerMaxWindowBits: 10, Threshold: -1, Level: 6},
			func(p engine.Compression) bool { return p.ClientMaxWindowBits <= 9 && p.ServerMaxWindowBits <= 10 }, "windows 9 and 10"},
		{"server-on/ask-no-context", "on", engine.Compression{ServerNoContextTakeover: true, ClientNoContextTakeover: true, Threshold: -1},
			func(p engine.Compression) bool { return p.ServerNoContextTakeover && p.ClientNoContextTakeover }, "no context both ways"},
		{"server-no-context/default", "no-context", engine.Compression{Threshold: -1},
			func(p engine.Compression) bool { return p.ServerNoContextTakeover && p.ClientNoContextTakeover },
			"no context both ways (forced by the server)"},
	}
	for _, kind := range peerKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			bases := map[string]string{
				"on":         startPeer(t, kind, "--compress", "on"),
				"no-context": startPeer(t, kind, "--compress", "no-context"),
			}
			eng := newEngine(t)
			for _, v := range variants {
				t.Run(v.name, func(t *testing.T) {
					log := &frameLog{}
					opts := v.opts
					ctx, cancel := context.WithTimeout(context.Background(), interopWait)
					defer cancel()
					c, err := eng.Dial(ctx, bases[v.peer]+"/echo", &engine.DialOptions{Compression: &opts, Trace: log.trace})
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					p, ok := c.Compression()
					if !ok {
						t.Fatalf("permessage-deflate not negotiated; server said %q", c.ResponseHeader().Get("Sec-WebSocket-Extensions"))
					}
					if !v.want(p) {
						t.Fatalf("negotiated %+v, want %s (server said %q)", p, v.wantStr, c.ResponseHeader().Get("Sec-WebSocket-Extensions"))
					}
					t.Logf("server said %q → %+v", c.ResponseHeader().Get("Sec-WebSocket-Extensions"), p)
					for i, n := range deflateSizes {
						for _, typ := range []engine.MessageType{engine.Text, engine.Binary} {
							var msg []byte
							if typ == engine.Text {
								msg = jsonText(n, uint64(i))
							} else if i%2 == 0 {
								msg = testkit.HalfCompressible(n, uint64(i))
							} else {
								msg = testkit.Bytes(n, uint64(i)) // incompressible
							}
							if err := c.SendContext(ctx, typ, msg); err != nil {
								t.Fatalf("send %d bytes: %v", n, err)
							}
							m, err := c.Recv(ctx)
							if err != nil {
								t.Fatalf("echo of %d bytes %v: %v", n, typ, err)
							}
							if m.Type != typ || !bytes.Equal(m.Data, msg) {
								t.Fatalf("echo of %d bytes %v: got %d bytes %v", n, typ, len(m.Data), m.Type)
							}
							m.Release()
							in, out := log.take()
							if typ == engine.Text && n >= 4096 {
								// JSON-like text shrinks well both ways: proof that each side compressed.
								if in > int64(n)/2 || out > int64(n)/2 {
									t.Errorf("%d bytes of text went out as %d and came back as %d frame bytes: not compressed?", n, out, in)
								}
							}
						}
					}
					// A burst of pipelined messages: compression state must follow the wire order.
					const burst = 200
					msgs := make([][]byte, burst)
					for i := range msgs {
						msgs[i] = jsonText(50+i*37, uint64(1000+i))
						if err := c.SendContext(ctx, engine.Text, msgs[i]); err != nil {
							t.Fatal(err)
						}
					}
					for i := range msgs {
						m, err := c.Recv(ctx)
						if err != nil {
							t.Fatalf("burst message %d: %v", i, err)
						}
						if !bytes.Equal(m.Data, msgs[i]) {
							t.Fatalf("burst message %d differs", i)
						}
						m.Release()
					}
					// Opting out for one message.
					plain := jsonText(10000, 77)
					log.take()
					if err := c.SendUncompressed(engine.Text, plain); err != nil {
						t.Fatal(err)
					}
					m, err := c.Recv(ctx)
					if err != nil || !bytes.Equal(m.Data, plain) {
						t.Fatalf("echo of an uncompressed message: %v", err)
					}
					m.Release()
					if _, out := log.take(); out != int64(len(plain)) {
						t.Errorf("SendUncompressed sent %d frame bytes for %d", out, len(plain))
					}
				})
			}
		})
	}
}

// TestCompressionInteropConcurrentSenders: several goroutines send on one connection with
// context takeover; each message is compressed in wire order, so the peer inflates them all.
func TestCompressionInteropConcurrentSenders(t *testing.T) {
	for _, kind := range peerKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			base := startPeer(t, kind, "--compress", "on")
			eng := newEngine(t)
			ctx, cancel := context.WithTimeout(context.Background(), interopWait)
			defer cancel()
			c, err := eng.Dial(ctx, base+"/echo", &engine.DialOptions{Compression: &engine.Compression{Threshold: -1}, InboxSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			const senders, each = 4, 100
			var wg sync.WaitGroup
			for g := 0; g < senders; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						msg := jsonText(20+(i*97)%3000, uint64(g*each+i))
						if err := c.SendContext(ctx, engine.Text, msg); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			want := map[string]int{}
			for g := 0; g < senders; g++ {
				for i := 0; i < each; i++ {
					want[string(jsonText(20+(i*97)%3000, uint64(g*each+i)))]++
				}
			}
			for k := 0; k < senders*each; k++ {
				m, err := c.Recv(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", k, err)
				}
				if want[string(m.Data)] == 0 {
					t.Fatalf("message %d came back different", k)
				}
				want[string(m.Data)]--
				m.Release()
			}
		})
	}
}
