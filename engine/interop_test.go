package engine_test

// Interop: the engine, through its public API only, against real servers written with other
// libraries — Python's websockets and Node's ws (see peers_test.go for their routes). Every
// case runs against both peers (peerKinds); the two peers run in parallel, each with its own
// engine, and the cases for one peer run one after another.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// interopSizes are the echo sizes: the edges of the 7-bit, 16-bit and 64-bit length forms.
var interopSizes = []int{0, 1, 125, 126, 65535, 65536, 1 << 20}

// interopWait bounds every wait in these tests, so that a hang fails the test instead of the
// whole binary.
const interopWait = 15 * time.Second

func TestInterop(t *testing.T) {
	checkNoLeaks(t)
	for _, kind := range peerKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel() // one peer each: two processes on two cores
			base := startPeer(t, kind)
			eng := newEngine(t)
			for _, tc := range []struct {
				name string
				run  func(t *testing.T, eng *engine.Engine, base string)
			}{
				{"echo/passive", interopEchoPassive},
				{"echo/pipelined", interopEchoPipelined},
				{"echo/handler", interopEchoHandler},
				{"echo/active", interopEchoActive},
				{"subprotocol", interopSubprotocol},
				{"headers", interopHeaders},
				{"server-close/recv", interopServerCloseRecv},
				{"server-close/handler", interopServerCloseHandler},
				{"server-close/active", interopServerCloseActive},
				{"client-close", interopClientClose},
				{"server-ping/passive", interopServerPingPassive},
				{"server-ping/deliver-control", interopServerPingDeliverControl},
				{"server-ping/handler", interopServerPingHandler},
				{"client-ping", interopClientPing},
				{"push/passive", interopPushPassive},
				{"push/fan-in", interopPushFanIn},
				{"keepalive", interopKeepalive},
				{"not-found", interopNotFound},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, eng, base) })
			}
		})
	}
}

// interopPayload is n bytes of data; for text, valid UTF-8 mixing 1- to 4-byte sequences, so
// that message boundaries and read boundaries fall inside multi-byte characters.
func interopPayload(n int, text bool) []byte {
	if text {
		return testkit.UTF8(n)
	}
	return testkit.Bytes(n, uint64(n))
}

func interopSizesFor(t *testing.T) []int {
	if !testing.Short() {
		return interopSizes
	}
	var s []int
	for _, n := range interopSizes {
		if n < 1<<20 {
			s = append(s, n)
		}
	}
	return s
}

// interopDial dials with a bounded context and closes the connection when the test ends.
func interopDial(t *testing.T, eng *engine.Engine, url string, o *engine.DialOptions) *engine.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	defer cancel()
	c, err := eng.Dial(ctx, url, o)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recvMsg takes the next message in passive mode, bounded by interopWait.
func recvMsg(t *testing.T, c *engine.Conn) engine.Message {
	t.Helper()
	m, err := recvErr(c)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

func recvErr(c *engine.Conn) (engine.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	defer cancel()
	return c.Recv(ctx)
}

func expectMsg(t *testing.T, m engine.Message, typ engine.MessageType, want []byte) {
	t.Helper()
	defer m.Release()
	if m.Type != typ || !bytes.Equal(m.Data, want) {
		t.Fatalf("got %v of %d bytes %s, want %v of %d bytes %s",
			m.Type, len(m.Data), short(m.Data), typ, len(want), short(want))
	}
}

func short(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q...", b[:40])
	}
	return fmt.Sprintf("%q", b)
}

// wantClose checks err is the *CloseError described.
func wantClose(t *testing.T, err error, code int, reason string, remote bool) {
	t.Helper()
	var ce *engine.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v (%T), want a *engine.CloseError %d %q", err, err, code, reason)
	}
	if int(ce.Code) != code || ce.Reason != reason || ce.Remote != remote {
		t.Fatalf("got CloseError{Code: %d, Reason: %q, Remote: %v}, want {%d, %q, %v}",
			ce.Code, ce.Reason, ce.Remote, code, reason, remote)
	}
}

// waitState polls until the connection reaches st.
func waitState(t *testing.T, c *engine.Conn, st engine.State) {
	t.Helper()
	deadline := time.Now().Add(interopWait)
	for c.State() != st {
		if time.Now().After(deadline) {
			t.Fatalf("state %v, want %v", c.State(), st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// interopHandler records what a Handler sees; the loop goroutine only ever sends on buffered
// channels (it must not block).
type interopHandler struct {
	opens  atomic.Int32
	open   chan *engine.Conn
	msgs   chan engine.Message // Data copied (no pool buffer)
	pings  chan []byte
	closed chan error
	reply  func(c *engine.Conn, typ engine.MessageType, data []byte) // optional, runs on the loop
}

func newInteropHandler() *interopHandler {
	return &interopHandler{
		open:   make(chan *engine.Conn, 4),
		msgs:   make(chan engine.Message, 64),
		pings:  make(chan []byte, 4),
		closed: make(chan error, 4),
	}
}

func (h *interopHandler) OnOpen(c *engine.Conn) {
	h.opens.Add(1)
	h.open <- c
}

func (h *interopHandler) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	h.msgs <- engine.Message{Type: typ, Data: append([]byte(nil), data...)}
	if h.reply != nil {
		h.reply(c, typ, data)
	}
}

func (h *interopHandler) OnPing(c *engine.Conn, data []byte) { h.pings <- append([]byte(nil), data...) }

func (h *interopHandler) OnClose(c *engine.Conn, err error) { h.closed <- err }

func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(interopWait):
		t.Fatalf("no %s within %v", what, interopWait)
		panic("unreachable")
	}
}

// --- echo --------------------------------------------------------------------------------------

func interopEchoPassive(t *testing.T, eng *engine.Engine, base string) {
	c := interopDial(t, eng, base+"/echo", nil)
	for _, typ := range []engine.MessageType{engine.Text, engine.Binary} {
		for _, n := range interopSizesFor(t) {
			p := interopPayload(n, typ == engine.Text)
			if err := c.Send(typ, p); err != nil {
				t.Fatalf("%v %d: Send: %v", typ, n, err)
			}
			m := recvMsg(t, c)
			if m.Type != typ || !bytes.Equal(m.Data, p) {
				t.Fatalf("%v %d B: echo came back as %v of %d B", typ, n, m.Type, len(m.Data))
			}
			m.Release()
		}
	}
}

// interopEchoPipelined sends every size before reading any echo: many frames in flight in
// both directions, in one write batch and across reads.
func interopEchoPipelined(t *testing.T, eng *engine.Engine, base string) {
	c := interopDial(t, eng, base+"/echo", nil)
	type sent struct {
		typ engine.MessageType
		p   []byte
	}
	var all []sent
	for _, n := range interopSizesFor(t) {
		for _, typ := range []engine.MessageType{engine.Text, engine.Binary} {
			s := sent{typ, interopPayload(n, typ == engine.Text)}
			if err := c.Send(s.typ, s.p); err != nil {
				t.Fatal(err)
			}
			all = append(all, s)
		}
	}
	for i, s := range all {
		m := recvMsg(t, c)
		if m.Type != s.typ || !bytes.Equal(m.Data, s.p) {
			t.Fatalf("message %d (%v, %d B): echo came back as %v of %d B", i, s.typ, len(s.p), m.Type, len(m.Data))
		}
		m.Release()
	}
}

func interopEchoHandler(t *testing.T, eng *engine.Engine, base string) {
	h := newInteropHandler()
	c := interopDial(t, eng, base+"/echo", &engine.DialOptions{Handler: h})
	if got := within(t, h.open, "OnOpen"); got != c {
		t.Fatalf("OnOpen got %p, Dial returned %p", got, c)
	}
	for _, typ := range []engine.MessageType{engine.Text, engine.Binary} {
		for _, n := range interopSizesFor(t) {
			p := interopPayload(n, typ == engine.Text)
			if err := c.Send(typ, p); err != nil {
				t.Fatalf("%v %d: Send: %v", typ, n, err)
			}
			m := within(t, h.msgs, "OnMessage")
			if m.Type != typ || !bytes.Equal(m.Data, p) {
				t.Fatalf("%v %d B: echo came back as %v of %d B", typ, n, m.Type, len(m.Data))
			}
		}
	}
	// WebSockex's {:reply, frame, state}: a Send from inside the callback.
	h2 := newInteropHandler()
	h2.reply = func(c *engine.Conn, typ engine.MessageType, data []byte) {
		if n, err := strconv.Atoi(string(data)); err == nil && n < 5 {
			if err := c.Send(engine.Text, []byte(strconv.Itoa(n+1))); err != nil {
				t.Errorf("Send from OnMessage: %v", err)
			}
		}
	}
	c2 := interopDial(t, eng, base+"/echo", &engine.DialOptions{Handler: h2})
	within(t, h2.open, "OnOpen")
	if err := c2.Send(engine.Text, []byte("1")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		m := within(t, h2.msgs, "OnMessage")
		if string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("reply chain: got %q, want %d", m.Data, i)
		}
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	wantClose(t, within(t, h2.closed, "OnClose"), 1000, "", false)
}

func interopEchoActive(t *testing.T, eng *engine.Engine, base string) {
	owner := make(chan engine.Event, 8)
	c := interopDial(t, eng, base+"/echo", &engine.DialOptions{Mode: engine.Active, Owner: owner})
	for _, typ := range []engine.MessageType{engine.Text, engine.Binary} {
		for _, n := range interopSizesFor(t) {
			p := interopPayload(n, typ == engine.Text)
			if err := c.Send(typ, p); err != nil {
				t.Fatal(err)
			}
			ev := within(t, owner, "owner event")
			if ev.Conn != c || ev.Err != nil {
				t.Fatalf("event %+v", ev)
			}
			if ev.Message.Type != typ || !bytes.Equal(ev.Message.Data, p) {
				t.Fatalf("%v %d B: echo came back as %v of %d B", typ, n, ev.Message.Type, len(ev.Message.Data))
			}
			ev.Message.Release()
		}
	}
}

// --- handshake ---------------------------------------------------------------------------------

func interopSubprotocol(t *testing.T, eng *engine.Engine, base string) {
	// The peers support chat.v2 and chat.v1 and pick the first one the client offers.
	for _, tc := range []struct {
		offer []string
		want  string
	}{
		{[]string{"chat.v1", "chat.v2"}, "chat.v1"},
		{[]string{"chat.v2", "chat.v1"}, "chat.v2"},
		{[]string{"nope", "chat.v2"}, "chat.v2"},
		{[]string{"nope"}, ""},
		{nil, ""},
	} {
		c := interopDial(t, eng, base+"/echo", &engine.DialOptions{Protocols: tc.offer})
		if got := c.Subprotocol(); got != tc.want {
			t.Errorf("offer %q: Subprotocol() = %q, want %q", tc.offer, got, tc.want)
		}
		if got := c.ResponseHeader().Get("Sec-WebSocket-Protocol"); got != tc.want {
			t.Errorf("offer %q: response header Sec-WebSocket-Protocol = %q, want %q", tc.offer, got, tc.want)
		}
		if err := c.Send(engine.Text, []byte("proto")); err != nil {
			t.Fatal(err)
		}
		expectMsg(t, recvMsg(t, c), engine.Text, []byte("proto"))
		if err := c.Close(); err != nil {
			t.Errorf("offer %q: Close: %v", tc.offer, err)
		}
	}
}

func interopHeaders(t *testing.T, eng *engine.Engine, base string) {
	hdr := http.Header{}
	hdr.Set("X-Token", "s3cret-42")
	hdr.Set("Origin", "http://example.test")
	hdr.Add("X-Multi", "one")
	hdr.Add("X-Multi", "two")
	c := interopDial(t, eng, base+"/headers", &engine.DialOptions{Header: hdr, Protocols: []string{"chat.v1"}})
	m := recvMsg(t, c)
	if m.Type != engine.Text {
		t.Fatalf("headers came as %v", m.Type)
	}
	var seen map[string]string
	if err := json.Unmarshal(m.Data, &seen); err != nil {
		t.Fatalf("headers JSON %q: %v", m.Data, err)
	}
	m.Release()
	host := strings.TrimPrefix(base, "ws://")
	for name, want := range map[string]string{
		"x-token":                "s3cret-42",
		"origin":                 "http://example.test",
		"x-multi":                "one, two",
		"host":                   host,
		"upgrade":                "websocket",
		"sec-websocket-version":  "13",
		"sec-websocket-protocol": "chat.v1",
	} {
		if got := seen[name]; !strings.EqualFold(got, want) {
			t.Errorf("server saw %s: %q, want %q (all: %v)", name, got, want, seen)
		}
	}
	if k := seen["sec-websocket-key"]; len(k) != 24 {
		t.Errorf("server saw sec-websocket-key %q", k)
	}
	if conn := strings.ToLower(seen["connection"]); !strings.Contains(conn, "upgrade") {
		t.Errorf("server saw connection %q", seen["connection"])
	}
	// /headers echoes afterwards.
	if err := c.Send(engine.Binary, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, recvMsg(t, c), engine.Binary, []byte{0, 1, 2})
}

func interopNotFound(t *testing.T, eng *engine.Engine, base string) {
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	defer cancel()
	c, err := eng.Dial(ctx, base+"/no-such-route", nil)
	if err == nil {
		c.Close()
		t.Fatal("dial of an unknown route succeeded")
	}
	var he *engine.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 404 {
		t.Fatalf("got %v (%T), want a *engine.HandshakeError with status 404", err, err)
	}
	if !strings.Contains(err.Error(), "404") {
		t.Errorf("error %q does not name the status", err)
	}
}

// --- close -------------------------------------------------------------------------------------

func interopServerCloseRecv(t *testing.T, eng *engine.Engine, base string) {
	c := interopDial(t, eng, base+"/close?code=4001&reason=bye", nil)
	_, err := recvErr(c)
	wantClose(t, err, 4001, "bye", true)
	if err.Error() != `websocket: closed by server with 4001 "bye"` {
		t.Errorf("message %q", err)
	}
	// The end is sticky: every later Recv says the same, Send fails, Close is a no-op.
	_, err2 := recvErr(c)
	wantClose(t, err2, 4001, "bye", true)
	waitState(t, c, engine.StateClosed)
	if err := c.Send(engine.Text, []byte("late")); err == nil {
		t.Error("Send after the server's close succeeded")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the server's close: %v", err)
	}
	if err := c.Err(); err == nil {
		t.Error("Err() is nil after the close")
	}

	// Without a code the peers close with 1000 and no reason.
	c = interopDial(t, eng, base+"/close", nil)
	_, err = recvErr(c)
	wantClose(t, err, 1000, "", true)
}

func interopServerCloseHandler(t *testing.T, eng *engine.Engine, base string) {
	h := newInteropHandler()
	c := interopDial(t, eng, base+"/close?code=4001&reason=bye", &engine.DialOptions{Handler: h})
	within(t, h.open, "OnOpen")
	wantClose(t, within(t, h.closed, "OnClose"), 4001, "bye", true)
	waitState(t, c, engine.StateClosed)
	select {
	case err := <-h.closed:
		t.Fatalf("OnClose ran twice (second: %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	if n := h.opens.Load(); n != 1 {
		t.Fatalf("OnOpen ran %d times", n)
	}
}

func interopServerCloseActive(t *testing.T, eng *engine.Engine, base string) {
	owner := make(chan engine.Event, 4)
	c := interopDial(t, eng, base+"/close?code=4001&reason=bye", &engine.DialOptions{Mode: engine.Active, Owner: owner})
	ev := within(t, owner, "final event")
	if ev.Conn != c || ev.Reconnecting {
		t.Fatalf("final event %+v", ev)
	}
	wantClose(t, ev.Err, 4001, "bye", true)
	select {
	case ev := <-owner:
		t.Fatalf("an event after the final one: %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
}

func interopClientClose(t *testing.T, eng *engine.Engine, base string) {
	c := interopDial(t, eng, base+"/echo", nil)
	if err := c.Send(engine.Text, []byte("before close")); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, recvMsg(t, c), engine.Text, []byte("before close"))
	start := time.Now()
	if err := c.CloseWith(4000, "client bye"); err != nil {
		t.Fatalf("CloseWith: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("close handshake took %v", d)
	}
	waitState(t, c, engine.StateClosed)
	_, err := recvErr(c)
	var ce *engine.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 || ce.Remote {
		t.Fatalf("Recv after CloseWith: %v", err)
	}
}

// --- ping / pong -------------------------------------------------------------------------------

func interopServerPingPassive(t *testing.T, eng *engine.Engine, base string) {
	before := eng.Stats().PingsAnswered
	c := interopDial(t, eng, base+"/ping?data=hello", nil)
	// The peer sends "pong:<payload>" only after our automatic pong reached it.
	expectMsg(t, recvMsg(t, c), engine.Text, []byte("pong:hello"))
	if got := eng.Stats().PingsAnswered - before; got != 1 {
		t.Errorf("Stats.PingsAnswered grew by %d, want 1", got)
	}
	if err := c.Send(engine.Text, []byte("after ping")); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, recvMsg(t, c), engine.Text, []byte("after ping"))
}

func interopServerPingDeliverControl(t *testing.T, eng *engine.Engine, base string) {
	c := interopDial(t, eng, base+"/ping?data=hello", &engine.DialOptions{DeliverControl: true})
	expectMsg(t, recvMsg(t, c), engine.Ping, []byte("hello"))
	expectMsg(t, recvMsg(t, c), engine.Text, []byte("pong:hello"))
	// An empty ping payload too.
	c = interopDial(t, eng, base+"/ping", &engine.DialOptions{DeliverControl: true})
	expectMsg(t, recvMsg(t, c), engine.Ping, []byte{})
	expectMsg(t, recvMsg(t, c), engine.Text, []byte("pong:"))
}

func interopServerPingHandler(t *testing.T, eng *engine.Engine, base string) {
	h := newInteropHandler()
	interopDial(t, eng, base+"/ping?data=hello", &engine.DialOptions{Handler: h})
	if p := within(t, h.pings, "OnPing"); string(p) != "hello" {
		t.Fatalf("OnPing got %q", p)
	}
	m := within(t, h.msgs, "OnMessage")
	if m.Type != engine.Text || string(m.Data) != "pong:hello" {
		t.Fatalf("OnMessage got %v %q", m.Type, m.Data)
	}
}

func interopClientPing(t *testing.T, eng *engine.Engine, base string) {
	c := interopDial(t, eng, base+"/echo", &engine.DialOptions{DeliverControl: true})
	if err := c.Ping([]byte("are you there?")); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, recvMsg(t, c), engine.Pong, []byte("are you there?"))
	// An unsolicited pong is ignored by the peer: the connection carries on.
	if err := c.Pong([]byte("unsolicited")); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(engine.Binary, []byte("still open")); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, recvMsg(t, c), engine.Binary, []byte("still open"))
	if err := c.Ping(make([]byte, 126)); err == nil {
		t.Error("a 126-byte ping was accepted")
	}
}

// --- push (server-driven traffic) --------------------------------------------------------------

type pushCase struct{ count, size int }

func interopPushCases(t *testing.T) []pushCase {
	if testing.Short() {
		return []pushCase{{200, 1}, {50, 1000}}
	}
	return []pushCase{{1000, 0}, {500, 1}, {200, 1000}, {16, 200_000}}
}

func interopPushPassive(t *testing.T, eng *engine.Engine, base string) {
	for _, pc := range interopPushCases(t) {
		t.Run(fmt.Sprintf("%dx%d", pc.count, pc.size), func(t *testing.T) {
			before := eng.Stats()
			// The peer pushes as fast as it can; the inbox holds them all, so this test is
			// about interop and not about the slow-consumer policy.
			c := interopDial(t, eng, fmt.Sprintf("%s/push?count=%d&size=%d", base, pc.count, pc.size),
				&engine.DialOptions{InboxSize: pc.count + 1})
			for i := 0; i < pc.count; i++ {
				m := recvMsg(t, c)
				if m.Type != engine.Binary || !bytes.Equal(m.Data, peerPushPayload(i, pc.size)) {
					t.Fatalf("push %d: got %v of %d B %s", i, m.Type, len(m.Data), short(m.Data))
				}
				m.Release()
			}
			_, err := recvErr(c)
			wantClose(t, err, 1000, "done", true)
			after := eng.Stats()
			if got := after.MessagesIn - before.MessagesIn; got != int64(pc.count) {
				t.Errorf("Stats.MessagesIn grew by %d, want %d", got, pc.count)
			}
			if got := after.BytesIn - before.BytesIn; got != int64(pc.count*pc.size) {
				t.Errorf("Stats.BytesIn grew by %d, want %d", got, pc.count*pc.size)
			}
		})
	}
}

// interopPushFanIn: several connections push into one owner channel (hackney's one process
// owning many sockets); every message of every connection arrives, in order per connection,
// followed by exactly one final event each.
func interopPushFanIn(t *testing.T, eng *engine.Engine, base string) {
	const conns, count, size = 4, 250, 300
	owner := make(chan engine.Event, 32)
	idx := map[*engine.Conn]int{}
	for i := 0; i < conns; i++ {
		c := interopDial(t, eng, fmt.Sprintf("%s/push?count=%d&size=%d", base, count, size),
			&engine.DialOptions{Mode: engine.Active, Owner: owner, InboxSize: count + 1})
		idx[c] = i
	}
	next := make([]int, conns)
	ended := make([]bool, conns)
	for done := 0; done < conns; {
		ev := within(t, owner, "owner event")
		i, ok := idx[ev.Conn]
		if !ok {
			t.Fatalf("event for an unknown connection: %+v", ev)
		}
		if ended[i] {
			t.Fatalf("conn %d: an event after its final one: %+v", i, ev)
		}
		if ev.Err != nil {
			wantClose(t, ev.Err, 1000, "done", true)
			if next[i] != count {
				t.Fatalf("conn %d: ended after %d of %d messages", i, next[i], count)
			}
			ended[i] = true
			done++
			continue
		}
		if !bytes.Equal(ev.Message.Data, peerPushPayload(next[i], size)) {
			t.Fatalf("conn %d: message %d differs: %s", i, next[i], short(ev.Message.Data))
		}
		ev.Message.Release()
		next[i]++
	}
}

// --- keepalive ---------------------------------------------------------------------------------

// interopKeepalive: with PingInterval the engine pings an idle connection; the peers' pongs
// count as traffic, so the connection stays open well past PongTimeout (= PingInterval).
func interopKeepalive(t *testing.T, eng *engine.Engine, base string) {
	const interval = 100 * time.Millisecond
	var (
		pingsSent, pongsRecv atomic.Int32
		lastPing             atomic.Int64 // UnixNano of the last keepalive ping
		sameInstant          atomic.Bool  // declared dead right after sending the ping
	)
	trace := func(ev engine.TraceEvent) {
		switch {
		case ev.Kind == engine.TraceFrameSent && ev.Opcode == engine.Ping:
			pingsSent.Add(1)
			lastPing.Store(time.Now().UnixNano())
		case ev.Kind == engine.TraceFrameRecv && ev.Opcode == engine.Pong:
			pongsRecv.Add(1)
		case ev.Kind == engine.TraceForcedClose && errors.Is(ev.Err, engine.ErrTimeout):
			if time.Since(time.Unix(0, lastPing.Load())) < interval/2 {
				sameInstant.Store(true)
			}
		}
	}
	timeoutsBefore := eng.Stats().Timeouts
	c := interopDial(t, eng, base+"/echo", &engine.DialOptions{PingInterval: interval, Trace: trace})
	// Idle for 1.2 s: Recv must end by its own deadline, not by the connection dying.
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	_, err := c.Recv(ctx)
	cancel()
	if c.Err() != nil && sameInstant.Load() {
		// The timer wheel caught up after a late tick: it sent the ping and found it
		// unanswered in the same pass, before the loop could read the pong.
		t.Fatalf("keepalive timed out in the same timer pass that sent its ping (%v)", c.Err())
	}
	if !errors.Is(err, context.DeadlineExceeded) || c.Err() != nil {
		t.Fatalf("idle Recv ended with %v (connection: %v), want only the ctx deadline", err, c.Err())
	}
	if !errors.Is(err, engine.ErrTimeout) {
		t.Errorf("Recv's ctx deadline error %v is not engine.ErrTimeout", err)
	}
	if st := c.State(); st != engine.StateOpen {
		t.Fatalf("after 1.2 s idle with keepalive: state %v", st)
	}
	if n := pingsSent.Load(); n < 4 {
		t.Errorf("only %d keepalive pings in 1.2 s at a %v interval", n, interval)
	}
	if p, q := pingsSent.Load(), pongsRecv.Load(); q < p-1 {
		t.Errorf("%d pings sent but only %d pongs received", p, q)
	}
	if d := eng.Stats().Timeouts - timeoutsBefore; d != 0 {
		t.Errorf("Stats.Timeouts grew by %d", d)
	}
	if err := c.Send(engine.Text, []byte("alive")); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, recvMsg(t, c), engine.Text, []byte("alive"))
}
