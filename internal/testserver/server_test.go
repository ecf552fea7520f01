package testserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsfleet/wsfleet/internal/testkit"
)

func startServer(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := Start(o)
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// textOfSize is valid UTF-8 of exactly n bytes, with multi-byte runes throughout
// (so that frame and read boundaries fall inside runes).
func textOfSize(n int) []byte {
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		r := []rune("aé✓😀")[i%4]
		if len(b)+utf8.RuneLen(r) > n {
			r = 'z'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

func binaryOfSize(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestStartURLAndClose(t *testing.T) {
	s := startServer(t, Options{})
	if !strings.HasPrefix(s.URL(), "ws://127.0.0.1:") || strings.HasSuffix(s.URL(), ":0") {
		t.Fatalf("URL %q", s.URL())
	}
	if s.URL() != "ws://"+s.Addr() {
		t.Fatalf("URL %q, Addr %q", s.URL(), s.Addr())
	}
	c := dial(t, s, "/echo")
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	c.expectEOF()
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestEchoSizes(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, "/")
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 64 << 10, 1 << 20} {
		for _, op := range []byte{opText, opBinary} {
			payload := binaryOfSize(n)
			if op == opText {
				payload = textOfSize(n)
			}
			c.writeFrame(true, op, payload)
			gotOp, got := c.readMessage()
			if gotOp != op || !bytes.Equal(got, payload) {
				t.Fatalf("size %d op %d: echo op %d, %d bytes, equal %v", n, op, gotOp, len(got), bytes.Equal(got, payload))
			}
		}
	}
}

// TestEchoSplitReads sends frames a few bytes at a time, so that headers, mask keys
// and multi-byte runes are cut across reads on the server.
func TestEchoSplitReads(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, "/echo")
	msgs := [][]byte{textOfSize(3), textOfSize(200), textOfSize(70000)}
	for _, m := range msgs {
		wire := c.appendFrame(nil, true, opText, m)
		for _, cut := range []int{1, 2, 3, 5, 7, 11, 13} {
			if len(wire) <= cut {
				break
			}
			c.writeRaw(wire[:cut])
			wire = wire[cut:]
			time.Sleep(2 * time.Millisecond)
		}
		c.writeRaw(wire)
		if op, got := c.readMessage(); op != opText || !bytes.Equal(got, m) {
			t.Fatalf("%d bytes: echo op %d, %d bytes", len(m), op, len(got))
		}
	}
	// Many frames in one write: one read on the server, replies batched.
	var wire []byte
	for i := 0; i < 500; i++ {
		wire = c.appendFrame(wire, true, opBinary, binaryOfSize(i%300))
	}
	c.writeRaw(wire)
	for i := 0; i < 500; i++ {
		if op, got := c.readMessage(); op != opBinary || !bytes.Equal(got, binaryOfSize(i%300)) {
			t.Fatalf("message %d: op %d, %d bytes", i, op, len(got))
		}
	}
}

func TestFragmentedEcho(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, "/echo")
	msg := textOfSize(100000)
	// Fragments cut through runes, with a ping between them.
	parts := [][]byte{msg[:1], msg[1:40001], msg[40001:]}
	c.writeFrame(false, opText, parts[0])
	c.writeFrame(false, opCont, parts[1])
	c.writeFrame(true, opPing, []byte("mid"))
	c.writeFrame(true, opCont, parts[2])

	want := []frame{{false, opText, parts[0]}, {false, opCont, parts[1]}, {true, opPong, []byte("mid")}, {true, opCont, parts[2]}}
	for i, w := range want {
		f := c.mustReadFrame()
		if f.fin != w.fin || f.op != w.op || !bytes.Equal(f.payload, w.payload) {
			t.Fatalf("frame %d: fin %v op %d len %d, want fin %v op %d len %d", i, f.fin, f.op, len(f.payload), w.fin, w.op, len(w.payload))
		}
	}
	// Empty fragments are fine too.
	c.writeFrame(false, opBinary, nil)
	c.writeFrame(true, opCont, []byte{1, 2, 3})
	if op, got := c.readMessage(); op != opBinary || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("got op %d %v", op, got)
	}
}

func TestPingPong(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, "/echo")
	for _, p := range [][]byte{nil, []byte("hello"), binaryOfSize(125)} {
		c.writeFrame(true, opPing, p)
		f := c.mustReadFrame()
		if f.op != opPong || !f.fin || !bytes.Equal(f.payload, p) {
			t.Fatalf("got op %d payload %q", f.op, f.payload)
		}
	}
	// An unsolicited pong gets no answer: the next frame is the echo.
	c.writeFrame(true, opPong, []byte("x"))
	c.writeFrame(true, opText, []byte("after"))
	if op, got := c.readMessage(); op != opText || string(got) != "after" {
		t.Fatalf("got op %d %q", op, got)
	}
}

func TestCloseEcho(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, "/echo")
	c.writeFrame(true, opClose, testkit.ClosePayload(1000, "bye"))
	c.expectClose(1000, "bye")
	c.expectEOF()

	c = dial(t, s, "/echo")
	c.writeFrame(true, opClose, nil)
	c.expectClose(0, "")
	c.expectEOF()
}

func TestProtocolErrors(t *testing.T) {
	s := startServer(t, Options{MaxMessageSize: 1000})
	cases := []struct {
		name string
		wire func(c *testClient) []byte
		code uint16
	}{
		{"unmasked", func(*testClient) []byte { return []byte{0x81, 0x02, 'h', 'i'} }, 1002},
		{"reserved opcode", func(c *testClient) []byte { return c.appendFrame(nil, true, 0x3, nil) }, 1002},
		{"rsv1", func(c *testClient) []byte {
			w := c.appendFrame(nil, true, opText, []byte("a"))
			w[0] |= 0x40
			return w
		}, 1002},
		{"continuation first", func(c *testClient) []byte { return c.appendFrame(nil, true, opCont, []byte("a")) }, 1002},
		{"text inside fragmented", func(c *testClient) []byte {
			return c.appendFrame(c.appendFrame(nil, false, opText, []byte("a")), true, opText, []byte("b"))
		}, 1002},
		{"fragmented ping", func(c *testClient) []byte { return c.appendFrame(nil, false, opPing, nil) }, 1002},
		{"long ping", func(c *testClient) []byte { return c.appendFrame(nil, true, opPing, make([]byte, 126)) }, 1002},
		{"invalid utf8", func(c *testClient) []byte { return c.appendFrame(nil, true, opText, []byte{'a', 0xff}) }, 1007},
		{"utf8 cut at message end", func(c *testClient) []byte { return c.appendFrame(nil, true, opText, []byte{0xc3}) }, 1007},
		{"too big", func(c *testClient) []byte { return c.appendFrame(nil, true, opBinary, make([]byte, 1001)) }, 1009},
		{"too big in fragments", func(c *testClient) []byte {
			return c.appendFrame(c.appendFrame(nil, false, opBinary, make([]byte, 600)), true, opCont, make([]byte, 600))
		}, 1009},
		{"close code 1005", func(c *testClient) []byte { return c.appendFrame(nil, true, opClose, testkit.ClosePayload(1005, "")) }, 1002},
		{"close 1 byte", func(c *testClient) []byte { return c.appendFrame(nil, true, opClose, []byte{3}) }, 1002},
		{"close bad reason", func(c *testClient) []byte {
			return c.appendFrame(nil, true, opClose, testkit.ClosePayload(1000, "\xff"))
		}, 1007},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s, "/echo")
			c.writeRaw(tc.wire(c))
			for {
				f := c.mustReadFrame()
				if f.op == opClose {
					if len(f.payload) < 2 || binary.BigEndian.Uint16(f.payload) != tc.code {
						t.Fatalf("close payload %q, want code %d", f.payload, tc.code)
					}
					break
				}
				if tc.name != "too big in fragments" && tc.name != "text inside fragmented" {
					t.Fatalf("unexpected frame op %d before the close", f.op)
				}
			}
			c.expectEOF()
		})
	}
}

func TestPushLayout(t *testing.T) {
	s := startServer(t, Options{})
	before := time.Now().UnixNano()
	c := dial(t, s, "/push?interval=5ms&size=100&count=5")
	var first, last int64
	for i := 0; i < 5; i++ {
		op, p := c.readMessage()
		if op != opBinary || len(p) != 100 {
			t.Fatalf("push %d: op %d, %d bytes", i, op, len(p))
		}
		ts := int64(binary.LittleEndian.Uint64(p[0:8]))
		seq := binary.LittleEndian.Uint64(p[8:16])
		if seq != uint64(i) {
			t.Fatalf("push %d: seq %d", i, seq)
		}
		if ts < before || ts > time.Now().UnixNano() || ts < last {
			t.Fatalf("push %d: timestamp %d out of order (before %d, last %d)", i, ts, before, last)
		}
		if i == 0 {
			first = ts
		}
		last = ts
	}
	// Four intervals of 5ms, less however late the first push was (under 5ms, or
	// the schedule would have moved on to the next tick).
	if span := time.Duration(last - first); span < 15*time.Millisecond {
		t.Fatalf("5 pushes at 5ms intervals took only %v", span)
	}
	// count=5: nothing more; the connection still echoes.
	c.writeFrame(true, opText, []byte("still here"))
	if op, p := c.readMessage(); op != opText || string(p) != "still here" {
		t.Fatalf("after pushes: op %d %q", op, p)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if f, err := c.readFrame(); err == nil {
		t.Fatalf("a sixth push arrived: op %d", f.op)
	}
}

func TestPushManyConnections(t *testing.T) {
	s := startServer(t, Options{})
	const conns, count = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		c := dial(t, s, fmt.Sprintf("/push?interval=2ms&size=%d&count=%d", 16+i*1000, count))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < count; k++ {
				f, err := c.readFrame()
				if err != nil {
					errs <- err
					return
				}
				if len(f.payload) != 16+i*1000 || binary.LittleEndian.Uint64(f.payload[8:]) != uint64(k) {
					errs <- fmt.Errorf("conn %d push %d: %d bytes seq %d", i, k, len(f.payload), binary.LittleEndian.Uint64(f.payload[8:]))
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestCloseRoute(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, "/close?code=4001&reason=bye")
	c.expectClose(4001, "bye")
	c.writeFrame(true, opClose, testkit.ClosePayload(4001, ""))
	c.expectEOF()

	// 1005 means "no status": an empty close payload.
	c = dial(t, s, "/close?code=1005")
	c.expectClose(0, "")

	for _, q := range []string{"code=1004", "code=1005&reason=x", "code=99999", "code=x", "reason=" + strings.Repeat("r", 124)} {
		conn, _, resp := sendRequest(t, s, rawRequest(s.Addr(), "/close?"+q, newKey()))
		if resp.StatusCode != 400 {
			t.Errorf("/close?%s: status %d, want 400", q, resp.StatusCode)
		}
		conn.Close()
	}
}

func TestReset(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, "/reset?after=2")
	for i := 0; i < 2; i++ {
		c.writeFrame(true, opBinary, []byte{byte(i)})
		if op, p := c.readMessage(); op != opBinary || !bytes.Equal(p, []byte{byte(i)}) {
			t.Fatalf("echo %d: op %d %v", i, op, p)
		}
	}
	_, err := c.readFrame()
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after 2 echoes: err %v, want connection reset", err)
	}

	c = dial(t, s, "/reset")
	if _, err := c.readFrame(); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after=0: err %v, want connection reset", err)
	}
}

func TestHTTPErrors(t *testing.T) {
	s := startServer(t, Options{})
	host := s.Addr()
	cases := []struct {
		name, req string
		status    int
	}{
		{"unknown path", rawRequest(host, "/nope", newKey()), 404},
		{"plain GET unknown path", "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"plain GET", "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"POST", strings.Replace(rawRequest(host, "/echo", newKey()), "GET", "POST", 1), 400},
		{"HTTP/1.0", strings.Replace(rawRequest(host, "/echo", newKey()), "HTTP/1.1", "HTTP/1.0", 1), 400},
		{"no key", strings.Replace(rawRequest(host, "/echo", newKey()), "Sec-WebSocket-Key", "X-Key", 1), 400},
		{"short key", rawRequest(host, "/echo", "c2hvcnQ="), 400},
		{"no connection", strings.Replace(rawRequest(host, "/echo", newKey()), "Connection: Upgrade", "Connection: keep-alive", 1), 400},
		{"version 8", strings.Replace(rawRequest(host, "/echo", newKey()), "Version: 13", "Version: 8", 1), 426},
		{"bad push size", rawRequest(host, "/push?size=8", newKey()), 400},
		{"bad stall", rawRequest(host, "/stall?every=1s&for=2s", newKey()), 400},
		{"huge head", rawRequest(host, "/echo", newKey(), "X-Big: "+strings.Repeat("b", 9000)), 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, br, resp := sendRequest(t, s, tc.req)
			defer conn.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || len(body) == 0 {
				t.Fatalf("status %d body %q, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatalf("426 without Sec-WebSocket-Version: 13")
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("connection not closed after the error: %v", err)
			}
		})
	}
	if st := s.Stats(); st.Rejected != int64(len(cases)) || st.Upgraded != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSubprotocol(t *testing.T) {
	s := startServer(t, Options{Subprotocols: []string{"v2.wsfleet", "v1.wsfleet"}})
	for _, tc := range []struct{ offer, want string }{
		{"v1.wsfleet, v2.wsfleet", "v2.wsfleet"},
		{"v1.wsfleet", "v1.wsfleet"},
		{"chat", ""},
	} {
		c := dial(t, s, "/echo", "Sec-WebSocket-Protocol: "+tc.offer)
		got, present := c.resp.Header.Get("Sec-WebSocket-Protocol"), len(c.resp.Header.Values("Sec-WebSocket-Protocol")) > 0
		if got != tc.want || present != (tc.want != "") {
			t.Errorf("offer %q: got %q (present %v), want %q", tc.offer, got, present, tc.want)
		}
	}
	if _, err := Start(Options{Subprotocols: []string{"bad name"}}); err == nil {
		t.Fatal("a subprotocol with a space was accepted")
	}
}

// TestRequestAndFramesInOneWrite: bytes after the request head are frames.
func TestRequestAndFramesInOneWrite(t *testing.T) {
	s := startServer(t, Options{})
	c := &testClient{tb: t}
	key := newKey()
	wire := append([]byte(rawRequest(s.Addr(), "/echo", key)), c.appendFrame(nil, true, opText, []byte("early"))...)
	conn, br, resp := sendRequest(t, s, string(wire))
	defer conn.Close()
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c.conn, c.br = conn, br
	if op, p := c.readMessage(); op != opText || string(p) != "early" {
		t.Fatalf("got op %d %q", op, p)
	}
}

func TestStall(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	s := startServer(t, Options{})
	const every, stallFor = 400 * time.Millisecond, 150 * time.Millisecond
	c := dial(t, s, fmt.Sprintf("/stall?every=%v&for=%v", every, stallFor))
	// Send a message every 5 ms for 1.3 s (the server's stalls start at 0.4 s and 0.8 s
	// and 1.2 s after its start) and measure each echo's delay.
	const n = 260
	sent := make([]time.Time, n)
	go func() {
		for i := 0; i < n; i++ {
			sent[i] = time.Now()
			var p [4]byte
			binary.LittleEndian.PutUint32(p[:], uint32(i))
			c.writeFrame(true, opBinary, p[:])
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var maxDelay time.Duration
	delayed := 0
	for i := 0; i < n; i++ {
		op, p := c.readMessage()
		if op != opBinary || binary.LittleEndian.Uint32(p) != uint32(i) {
			t.Fatalf("echo %d: op %d payload %v (order lost)", i, op, p)
		}
		d := time.Since(sent[i])
		maxDelay = max(maxDelay, d)
		if d > 50*time.Millisecond {
			delayed++
		}
	}
	if maxDelay < stallFor*2/3 || maxDelay > stallFor+time.Second {
		t.Fatalf("max echo delay %v, want about %v", maxDelay, stallFor)
	}
	if delayed < 20 {
		t.Fatalf("only %d echoes were delayed over 50ms", delayed)
	}
	t.Logf("max delay %v, %d of %d echoes delayed", maxDelay, delayed, n)
}

func TestManyConnections(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	s := startServer(t, Options{})
	clients := make([]*testClient, n)
	for i := range clients {
		clients[i] = dial(t, s, "/echo")
	}
	if st := s.Stats(); st.Open != int64(n) || st.Upgraded != int64(n) {
		t.Fatalf("stats after dialing: %+v", st)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range clients {
		wg.Add(1)
		go func(i int, c *testClient) {
			defer wg.Done()
			for k := 0; k < 10; k++ {
				msg := []byte(fmt.Sprintf("conn %d message %d %s", i, k, strings.Repeat("x", i%200)))
				wire := c.appendFrame(nil, true, opText, msg)
				if _, err := c.conn.Write(wire); err != nil {
					errs <- err
					return
				}
				f, err := c.readFrame()
				if err != nil || f.op != opText || !bytes.Equal(f.payload, msg) {
					errs <- fmt.Errorf("conn %d message %d: err %v op %d %q", i, k, err, f.op, f.payload)
					return
				}
			}
		}(i, c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.MessagesIn != int64(10*n) || st.MessagesOut != int64(10*n) || st.BytesIn != st.BytesOut {
		t.Fatalf("stats %+v", st)
	}
	for _, c := range clients {
		c.conn.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Open != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Open != 0 || st.Accepted != int64(n) {
		t.Fatalf("after closing all: %+v", st)
	}
}

func TestAddrInUse(t *testing.T) {
	s := startServer(t, Options{})
	if s2, err := Start(Options{Addr: s.Addr()}); err == nil {
		s2.Close()
		t.Fatalf("a second server started on %s", s.Addr())
	}
	if _, err := Start(Options{Addr: "ws://127.0.0.1:0"}); err == nil {
		t.Fatal("a URL was accepted as Addr")
	}
}

func TestLoops(t *testing.T) {
	s := startServer(t, Options{Loops: 3})
	for i := 0; i < 9; i++ {
		c := dial(t, s, "/echo")
		c.writeFrame(true, opText, []byte("x"))
		if _, p := c.readMessage(); string(p) != "x" {
			t.Fatalf("got %q", p)
		}
	}
	if n := len(s.loopList()); n != 3 {
		t.Fatalf("connections spread over %d loops, want 3", n)
	}
}

// TestPushFanout pushes to many connections at once and checks that every push
// arrives in order, and that the server allocates (almost) nothing per push.
func TestPushFanout(t *testing.T) {
	conns, count := 1000, 100
	if testing.Short() {
		conns = 200
	}
	s := startServer(t, Options{})
	var ms0, ms1 runtime.MemStats
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	lat := make([]time.Duration, conns) // worst per connection
	for i := 0; i < conns; i++ {
		c := dial(t, s, fmt.Sprintf("/push?interval=20ms&size=64&count=%d", count))
		wg.Add(1)
		go func(i int, c *testClient) {
			defer wg.Done()
			var f [2 + 64]byte // header of a 64-byte binary frame, then the payload
			for k := 0; k < count; k++ {
				if _, err := io.ReadFull(c.br, f[:]); err != nil {
					errs <- err
					return
				}
				now := time.Now().UnixNano()
				if f[0] != 0x82 || f[1] != 64 || binary.LittleEndian.Uint64(f[10:]) != uint64(k) {
					errs <- fmt.Errorf("conn %d push %d: header % x seq %d", i, k, f[:2], binary.LittleEndian.Uint64(f[10:]))
					return
				}
				lat[i] = max(lat[i], time.Duration(now-int64(binary.LittleEndian.Uint64(f[2:]))))
			}
		}(i, c)
	}
	// Count from here: the client's handshakes allocate, the pushes should not.
	runtime.ReadMemStats(&ms0)
	out0 := s.Stats().MessagesOut
	wg.Wait()
	runtime.ReadMemStats(&ms1)
	window := float64(s.Stats().MessagesOut - out0)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	pushes := conns * count
	allocs := float64(ms1.Mallocs-ms0.Mallocs) / window
	t.Logf("%d pushes to %d connections: %.4f allocs/push (whole process, last %.0f pushes), worst delivery %v",
		pushes, conns, allocs, window, slices.Max(lat))
	if allocs > 0.25 { // well under one: gnet allocates only when a socket is full

		t.Errorf("%.3f allocs per push", allocs)
	}
	// The loop counts a push after writing it, so the client may have read the last one
	// before it is counted.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().MessagesOut < int64(pushes) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); st.MessagesOut != int64(pushes) {
		t.Errorf("MessagesOut %d, want %d", st.MessagesOut, pushes)
	}
}

// TestSlowReaderDropped: a client that sends without reading is closed once the
// server holds outboundLimit bytes for it, instead of being buffered without bound.
func TestSlowReaderDropped(t *testing.T) {
	s := startServer(t, Options{MaxMessageSize: 1 << 20}) // limit: 16 MiB
	c := dial(t, s, "/echo")
	frame := c.appendFrame(nil, true, opBinary, make([]byte, 64<<10))
	var err error
	for i := 0; i < 1000 && err == nil; i++ { // 64 MiB, never reading
		_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err = c.conn.Write(frame)
	}
	if err == nil {
		// Everything went in (the server reads all it can); it must have closed anyway.
		deadline := time.Now().Add(5 * time.Second)
		for s.Stats().Open != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if st := s.Stats(); st.Open != 0 {
		t.Fatalf("the non-reading client is still connected (write err %v): %+v", err, st)
	}
}
