package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

var echoSizes = []int{0, 1, 125, 126, 127, 65535, 65536, 200_000, 1 << 20}

func TestPassiveEcho(t *testing.T) {
	checkNoLeaks(t)
	eng := newEngine(t)
	url := refServer(t, testserver.Options{})
	c, err := eng.Dial(context.Background(), url+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != engine.StateOpen {
		t.Fatalf("state %v", c.State())
	}
	echoOver(t, c, echoSizes)
	for _, bad := range []engine.MessageType{engine.Ping, engine.Pong, 8, 0x81, 0x3} {
		if err := c.Send(bad, []byte("x")); !errors.Is(err, engine.ErrMessageType) {
			t.Errorf("Send with type %#x: %v, want an error", byte(bad), err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.State() != engine.StateClosed {
		t.Fatalf("state after Close: %v", c.State())
	}
	var ce *engine.CloseError
	if _, err := c.Recv(context.Background()); !errors.As(err, &ce) || ce.Code != 1000 || ce.Remote {
		t.Fatalf("Recv after Close: %v", err)
	}
	if err := c.Send(engine.Text, []byte("late")); err == nil {
		t.Fatal("Send after Close succeeded")
	}
}

type echoHandler struct {
	opened  chan *engine.Conn
	got     chan []byte
	closed  chan error
	echoing bool
}

func newEchoHandler() *echoHandler {
	return &echoHandler{opened: make(chan *engine.Conn, 1), got: make(chan []byte, 64), closed: make(chan error, 1)}
}

func (h *echoHandler) OnOpen(c *engine.Conn) { h.opened <- c }
func (h *echoHandler) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	h.got <- append([]byte(nil), data...)
}
func (h *echoHandler) OnClose(c *engine.Conn, err error) { h.closed <- err }

func TestHandlerDelivery(t *testing.T) {
	checkNoLeaks(t)
	eng := newEngine(t)
	url := refServer(t, testserver.Options{})
	h := newEchoHandler()
	c, err := eng.Dial(context.Background(), url+"/echo", &engine.DialOptions{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	<-h.opened
	for _, n := range echoSizes {
		p := testkit.Payload(n, false)
		if err := c.Send(engine.Binary, p); err != nil {
			t.Fatal(err)
		}
		if got := <-h.got; !bytes.Equal(got, p) {
			t.Fatalf("%d: echo differs", n)
		}
	}
	if _, err := c.Recv(context.Background()); !errors.Is(err, engine.ErrWrongMode) {
		t.Fatalf("Recv on a Handler connection: %v", err)
	}
	c.Close()
	var ce *engine.CloseError
	if err := <-h.closed; !errors.As(err, &ce) || ce.Code != 1000 {
		t.Fatalf("OnClose got %v", err)
	}
}

func TestActiveAndOnceModes(t *testing.T) {
	checkNoLeaks(t)
	eng := newEngine(t)
	url := refServer(t, testserver.Options{})
	owner := make(chan engine.Event, 16)
	a, err := eng.Dial(context.Background(), url+"/echo", &engine.DialOptions{Mode: engine.Active, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	b, err := eng.Dial(context.Background(), url+"/echo", &engine.DialOptions{Mode: engine.Once, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	// One channel owns both.
	a.Send(engine.Text, []byte("a1"))
	b.Send(engine.Text, []byte("b1"))
	seen := map[*engine.Conn]string{}
	for i := 0; i < 2; i++ {
		ev := <-owner
		seen[ev.Conn] = string(ev.Message.Data)
		ev.Message.Release()
	}
	if seen[a] != "a1" || seen[b] != "b1" {
		t.Fatalf("owner saw %v", seen)
	}
	// b is passive now: its next echo waits for Recv.
	b.Send(engine.Text, []byte("b2"))
	m, err := b.Recv(context.Background())
	if err != nil || string(m.Data) != "b2" {
		t.Fatalf("passive after once: %q %v", m.Data, err)
	}
	m.Release()
	if b.Mode() != engine.Passive {
		t.Fatalf("mode %v after once", b.Mode())
	}
	// Queued while passive, handed over by SetMode(Once).
	b.Send(engine.Text, []byte("b3"))
	b.Send(engine.Text, []byte("b4"))
	time.Sleep(50 * time.Millisecond)
	if err := b.SetMode(engine.Once); err != nil {
		t.Fatal(err)
	}
	ev := <-owner
	if ev.Conn != b || string(ev.Message.Data) != "b3" {
		t.Fatalf("once after SetMode: %+v", ev)
	}
	m, _ = b.Recv(context.Background())
	if string(m.Data) != "b4" {
		t.Fatalf("b4: %q", m.Data)
	}
	// SetOwner moves a to another channel.
	other := make(chan engine.Event, 4)
	a.SetOwner(other)
	a.Send(engine.Binary, []byte{1, 2})
	if ev := <-other; !bytes.Equal(ev.Message.Data, []byte{1, 2}) {
		t.Fatalf("new owner got %+v", ev)
	}
	// The end of an active connection is an Event with Err, then nothing.
	a.Close()
	ev = <-other
	var ce *engine.CloseError
	if !errors.As(ev.Err, &ce) || ce.Code != 1000 {
		t.Fatalf("final event %+v", ev)
	}
	b.Close()
}

func TestServerInitiatedClose(t *testing.T) {
	eng := newEngine(t)
	url := refServer(t, testserver.Options{})
	c, err := eng.Dial(context.Background(), url+"/close?code=4001&reason=bye", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Recv(context.Background())
	var ce *engine.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" || !ce.Remote {
		t.Fatalf("got %v", err)
	}
	if err.Error() != `websocket: closed by server with 4001 "bye"` {
		t.Errorf("message %q", err)
	}
}

func TestRecvTimeouts(t *testing.T) {
	eng := newEngine(t)
	url := refServer(t, testserver.Options{})
	c, err := eng.Dial(context.Background(), url+"/echo", &engine.DialOptions{RecvTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Recv(context.Background())
	if !errors.Is(err, engine.ErrTimeout) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("RecvTimeout: %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = c.Recv(ctx)
	if !errors.Is(err, engine.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("ctx deadline: %v after %v", err, time.Since(start))
	}
	// The connection still works after timeouts.
	c.Send(engine.Text, []byte("still here"))
	m, err := c.Recv(context.Background())
	if err != nil || string(m.Data) != "still here" {
		t.Fatalf("%q %v", m.Data, err)
	}
}

func TestConcurrentSenders(t *testing.T) {
	eng := newEngine(t)
	url := refServer(t, testserver.Options{})
	c, err := eng.Dial(context.Background(), url+"/echo", &engine.DialOptions{InboxSize: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const senders, each = 8, 500
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := c.Send(engine.Binary, []byte{byte(g), byte(i), byte(i >> 8)}); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	next := make([]int, senders)
	for n := 0; n < senders*each; n++ {
		m, err := c.Recv(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		g, i := int(m.Data[0]), int(m.Data[1])|int(m.Data[2])<<8
		if i != next[g] {
			t.Fatalf("sender %d: got %d, want %d (frames interleaved or lost)", g, i, next[g])
		}
		next[g]++
		m.Release()
	}
}

func TestStatsAndAddrs(t *testing.T) {
	eng := newEngine(t)
	url := refServer(t, testserver.Options{})
	c, err := eng.Dial(context.Background(), url+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr() == nil || c.LocalAddr() == nil || c.RemoteAddr().String() == c.LocalAddr().String() {
		t.Fatalf("addrs %v %v", c.RemoteAddr(), c.LocalAddr())
	}
	if c.ResponseHeader().Get("Sec-WebSocket-Accept") == "" {
		t.Fatalf("response header %v", c.ResponseHeader())
	}
	c.Send(engine.Text, []byte("x"))
	m, _ := c.Recv(context.Background())
	m.Release()
	s := eng.Stats()
	if s.Open != 1 || s.MessagesIn != 1 || s.MessagesOut != 1 || s.Upgrades != 1 {
		t.Fatalf("stats %+v", s)
	}
	c.Close()
	waitStats(t, eng, func(s engine.Stats) bool { return s.Open == 0 && s.Closed == 1 })
}

func TestEngineCloseEndsConnections(t *testing.T) {
	checkNoLeaks(t)
	eng, err := engine.New(engine.Options{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	url := refServer(t, testserver.Options{})
	var conns []*engine.Conn
	for i := 0; i < 20; i++ {
		c, err := eng.Dial(context.Background(), url+"/echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		if _, err := c.Recv(context.Background()); err == nil {
			t.Fatal("Recv after engine Close succeeded")
		}
	}
	if _, err := eng.Dial(context.Background(), url, nil); !errors.Is(err, engine.ErrEngineClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
}

var _ = atomic.Int64{}

// TestCloseNow: the socket is closed without a close frame, the Handler hears ErrClosed,
// and nothing reconnects.
func TestCloseNow(t *testing.T) {
	got := make(chan error, 1)
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			got <- err
			return
		}
		f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
		if err == nil {
			err = fmt.Errorf("the server received a frame (opcode %d) instead of the connection dropping", f.Op)
		} else if errors.Is(err, io.EOF) {
			err = nil
		}
		got <- err
	})
	eng := newEngine(t)
	h := &closeNotify{closed: make(chan error, 1)}
	c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{
		Handler:   h,
		Reconnect: &engine.ReconnectPolicy{MaxAttempts: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := <-h.closed; !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("OnClose: %v, want ErrClosed", err)
	}
	time.Sleep(300 * time.Millisecond) // a reconnection would have started by now
	if c.State() != engine.StateClosed || !errors.Is(c.Err(), engine.ErrClosed) {
		t.Fatalf("state %v, Err %v", c.State(), c.Err())
	}
	c.CloseNow() // a closed connection: nothing happens
}
