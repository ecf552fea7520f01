package engine_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// hostileCase is one bad input from a server: what it sends after a correct upgrade, and what
// the client must do about it.
type hostileCase struct {
	name      string
	send      func(c net.Conn) // the crafted bytes
	wantCode  int              // close code the client must send (0: none, TCP just drops)
	wantErr   error            // errors.Is target for the error the user sees
	wantText  string           // words the error must contain
	dialOpts  engine.DialOptions
	keepAlive bool // the server keeps reading after sending (for close-timeout and floods)
}

func hostileCases() []hostileCase {
	const fin = 0x80
	gib := []byte{0x82, 127, 0, 0, 0, 0, 0x40, 0, 0, 0} // binary, 1 GiB announced, no payload
	return []hostileCase{
		{name: "masked server frame", send: func(c net.Conn) { c.Write([]byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}) }, wantCode: 1002, wantText: "masked"},
		{name: "RSV1 without an extension", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x40|0x1, []byte("x"))) }, wantCode: 1002, wantText: "reserved"},
		{name: "RSV2 and RSV3", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x30|0x2, []byte("x"))) }, wantCode: 1002, wantText: "reserved"},
		{name: "reserved data opcode 3", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x3, nil)) }, wantCode: 1002, wantText: "opcode"},
		{name: "reserved control opcode 0xB", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0xB, nil)) }, wantCode: 1002, wantText: "opcode"},
		{name: "fragmented ping", send: func(c net.Conn) { c.Write(testkit.ServerFrame(0x9, []byte("a"))) }, wantCode: 1002, wantText: "fragment"},
		{name: "ping of 126 bytes", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x9, make([]byte, 126))) }, wantCode: 1002, wantText: "125"},
		{name: "close code 1005 on the wire", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x8, []byte{0x03, 0xED})) }, wantCode: 1002, wantText: "status code"},
		{name: "close code 999", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x8, []byte{0x03, 0xE7})) }, wantCode: 1002, wantText: "status code"},
		{name: "close code 5000", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x8, []byte{0x13, 0x88})) }, wantCode: 1002, wantText: "status code"},
		{name: "close payload of 1 byte", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x8, []byte{0x03})) }, wantCode: 1002, wantText: "close"},
		{name: "close reason not UTF-8", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x8, []byte{0x03, 0xE8, 0xff, 0xfe})) }, wantCode: 1007, wantText: "UTF-8"},
		{name: "invalid UTF-8 text", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x1, []byte("ok \xc0\xaf"))) }, wantCode: 1007, wantText: "UTF-8"},
		{name: "invalid UTF-8 in the first fragment, rest never sent", send: func(c net.Conn) {
			c.Write(testkit.ServerFrame(0x1, []byte("caf\xed\xa0\x80"))) // a surrogate: fatal before the message ends
		}, wantCode: 1007, wantText: "UTF-8", keepAlive: true},
		{name: "UTF-8 sequence split across fragments, then broken", send: func(c net.Conn) {
			c.Write(testkit.ServerFrame(0x1, []byte("caf\xc3")))
			c.Write(testkit.ServerFrame(0x0, []byte("(")))
		}, wantCode: 1007, wantText: "UTF-8", keepAlive: true},
		{name: "continuation with nothing to continue", send: func(c net.Conn) { c.Write(testkit.ServerFrame(fin|0x0, []byte("x"))) }, wantCode: 1002, wantText: "continuation"},
		{name: "new data frame inside a fragmented message", send: func(c net.Conn) {
			c.Write(testkit.ServerFrame(0x1, []byte("a")))
			c.Write(testkit.ServerFrame(fin|0x1, []byte("b")))
		}, wantCode: 1002, wantText: "before finishing the fragmented"},
		{name: "frame announcing 1 GiB", send: func(c net.Conn) { c.Write(gib) }, wantCode: 1009, wantErr: nil, wantText: "1073741824-byte frame", keepAlive: true},
		{name: "64-bit length with the top bit set", send: func(c net.Conn) {
			c.Write([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1})
		}, wantCode: 1002, wantText: "length", keepAlive: true},
		{name: "TCP reset in the middle of a frame", send: func(c net.Conn) {
			c.Write([]byte{0x82, 126, 0x10, 0x00, 1, 2, 3})
			time.Sleep(20 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}, wantCode: 0, wantErr: engine.ErrAbnormalClose, wantText: "reset"},
		{name: "EOF in the middle of a frame", send: func(c net.Conn) {
			c.Write([]byte{0x81, 10, 'a', 'b'})
			time.Sleep(20 * time.Millisecond)
			c.Close()
		}, wantCode: 0, wantErr: engine.ErrAbnormalClose, wantText: "1006"},
	}
}

// robustnessRow is one line of docs/robustness.md, measured by the test that logs it.
type robustnessRow struct {
	input, errText, code, detect, peak string
}

// robustnessMark starts the log line of a row; .ci/robustness collects them from
// `go test -v` into docs/robustness.md (tests never write docs themselves).
const robustnessMark = "robustness-row: "

func recordRobustness(t testing.TB, r robustnessRow) {
	t.Logf("%s| %s | `%s` | %s | %s | %s |", robustnessMark, r.input, strings.ReplaceAll(r.errText, "|", "\\|"), r.code, r.detect, r.peak)
}

// heapWatcher samples the heap while a case runs, for its peak.
type heapWatcher struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func watchHeap() *heapWatcher {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &heapWatcher{base: ms.HeapAlloc, stop: make(chan struct{}), done: make(chan struct{})}
	w.peak.Store(ms.HeapAlloc)
	go func() {
		defer close(w.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > w.peak.Load() {
					w.peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()
	return w
}

// growth stops sampling and returns the peak heap growth over the baseline.
func (w *heapWatcher) growth() uint64 {
	close(w.stop)
	<-w.done
	if p := w.peak.Load(); p > w.base {
		return p - w.base
	}
	return 0
}

func TestHostileFrames(t *testing.T) {
	eng := newEngine(t)
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			gotCode := make(chan int, 1)
			sent := make(chan time.Time, 1)
			url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := testkit.Upgrade(c, br, ""); err != nil {
					return
				}
				sent <- time.Now()
				tc.send(c)
				f, err := testkit.ReadClientFrame(br, c, 3*time.Second)
				if err != nil || f.Op != 0x8 {
					gotCode <- 0
					return
				}
				if !f.Masked {
					t.Error("client frame not masked")
				}
				gotCode <- testkit.CloseCode(f.Payload)
			})
			heap := watchHeap()
			opts := tc.dialOpts
			c, err := eng.Dial(context.Background(), url+"/", &opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Recv(context.Background())
			detected := time.Now()
			growth := heap.growth()
			if err == nil {
				t.Fatal("Recv returned a message, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v is not %v", err, tc.wantErr)
			}
			var pe *engine.ProtocolError
			if tc.wantCode != 0 && tc.wantCode != 1006 {
				if !errors.As(err, &pe) || int(pe.Code) != tc.wantCode {
					t.Errorf("error %v (%T): want a *ProtocolError with code %d", err, err, tc.wantCode)
				}
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.wantText)) {
				t.Errorf("error %q does not mention %q", err, tc.wantText)
			}
			code := <-gotCode
			if code != tc.wantCode {
				t.Errorf("close code on the wire %d, want %d", code, tc.wantCode)
			}
			if growth > 1<<20 {
				t.Errorf("heap grew by %d bytes", growth)
			}
			wire := fmt.Sprint(code)
			if code == 0 {
				wire = "— (TCP gone)"
			}
			recordRobustness(t, robustnessRow{
				input: tc.name, errText: err.Error(), code: wire,
				detect: (detected.Sub(<-sent)).Round(100 * time.Microsecond).String(),
				peak:   fmt.Sprintf("+%d KiB heap", growth>>10),
			})
		})
	}
}

// A server that never answers our close frame: the close timeout ends the connection.
func TestCloseTimeout(t *testing.T) {
	eng := newEngine(t)
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		for {
			if _, err := testkit.ReadClientFrame(br, c, 10*time.Second); err != nil {
				return
			}
		}
	})
	c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{CloseTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Close()
	took := time.Since(start)
	if !errors.Is(err, engine.ErrTimeout) || !strings.Contains(err.Error(), "close timeout") {
		t.Fatalf("Close: %v", err)
	}
	if took < 300*time.Millisecond || took > 600*time.Millisecond {
		t.Errorf("close timeout of 300ms ended after %v", took)
	}
	if c.State() != engine.StateClosed {
		t.Errorf("state %v", c.State())
	}
	recordRobustness(t, robustnessRow{input: "server never answers our close", errText: err.Error(), code: "1000 (ours)", detect: took.Round(time.Millisecond).String(), peak: "—"})
}

// A ping flood: every ping is answered, memory stays flat, and the connection still works.
func TestPingFlood(t *testing.T) {
	eng := newEngine(t)
	const pings = 50_000
	pongs := make(chan int, 1)
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		go func() {
			p := testkit.ServerFrame(0x89, []byte("flood-ping-payload"))
			batch := make([]byte, 0, len(p)*100)
			for i := 0; i < 100; i++ {
				batch = append(batch, p...)
			}
			for i := 0; i < pings/100; i++ {
				if _, err := c.Write(batch); err != nil {
					return
				}
			}
			c.Write(testkit.ServerFrame(0x81, []byte("after the flood")))
		}()
		n := 0
		for {
			f, err := testkit.ReadClientFrame(br, c, 10*time.Second)
			if err != nil {
				pongs <- n
				return
			}
			if f.Op == 0xA {
				n++
			}
			if f.Op == 0x8 {
				c.Write(testkit.ServerFrame(0x88, f.Payload))
				pongs <- n
				return
			}
		}
	})
	heap := watchHeap()
	start := time.Now()
	c, err := eng.Dial(context.Background(), url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Recv(context.Background())
	if err != nil || string(m.Data) != "after the flood" {
		t.Fatalf("after the flood: %q %v", m.Data, err)
	}
	took := time.Since(start)
	growth := heap.growth()
	c.Close()
	if n := <-pongs; n != pings {
		t.Errorf("%d pongs for %d pings", n, pings)
	}
	if growth > 4<<20 {
		t.Errorf("heap grew by %d bytes during the flood", growth)
	}
	recordRobustness(t, robustnessRow{input: fmt.Sprintf("ping flood (%d pings)", pings), errText: "none: every ping answered, connection usable", code: "—", detect: took.Round(time.Millisecond).String() + " from dial to the message after the flood", peak: fmt.Sprintf("+%d KiB heap", growth>>10)})
}

// A push flood against a passive consumer that never calls Recv: the slow-consumer policy
// ends it with a clear error and close 1008, and memory stays bounded.
func TestPushFloodSlowConsumer(t *testing.T) {
	eng := newEngine(t)
	code := make(chan int, 1)
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		go func() {
			p := testkit.ServerFrame(0x82, make([]byte, 1024))
			for i := 0; i < 100_000; i++ {
				if _, err := c.Write(p); err != nil {
					return
				}
			}
		}()
		for {
			f, err := testkit.ReadClientFrame(br, c, 10*time.Second)
			if err != nil {
				code <- 0
				return
			}
			if f.Op == 0x8 {
				code <- testkit.CloseCode(f.Payload)
				return
			}
		}
	})
	heap := watchHeap()
	start := time.Now()
	c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{InboxSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	var gotErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if gotErr = c.Err(); gotErr != nil {
			break
		}
	}
	took := time.Since(start)
	growth := heap.growth()
	if !errors.Is(gotErr, engine.ErrSlowConsumer) {
		t.Fatalf("err %v, want ErrSlowConsumer", gotErr)
	}
	if got := <-code; got != 1008 {
		t.Errorf("close code %d, want 1008", got)
	}
	// The queued messages are still there for a late Recv; then the error.
	n := 0
	for {
		m, err := c.Recv(context.Background())
		if err != nil {
			if !errors.Is(err, engine.ErrSlowConsumer) {
				t.Errorf("Recv: %v", err)
			}
			break
		}
		m.Release()
		n++
	}
	if n != 64 {
		t.Errorf("%d queued messages, want the inbox's 64", n)
	}
	if growth > 8<<20 {
		t.Errorf("heap grew by %d bytes", growth)
	}
	recordRobustness(t, robustnessRow{input: "push flood, passive consumer never calls Recv (inbox 64)", errText: gotErr.Error(), code: "1008", detect: took.Round(time.Millisecond).String(), peak: fmt.Sprintf("+%d KiB heap", growth>>10)})

	// DropOldest keeps the connection and counts the drops instead.
	before := eng.Stats().DroppedMessages
	c2, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{InboxSize: 64, SlowConsumer: engine.DropOldest})
	if err != nil {
		t.Fatal(err)
	}
	waitStats(t, eng, func(s engine.Stats) bool { return s.DroppedMessages-before > 1000 })
	if c2.Err() != nil {
		t.Fatalf("DropOldest closed the connection: %v", c2.Err())
	}
	c2.Close()
}
