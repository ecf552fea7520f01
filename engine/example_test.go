package engine_test

// Runnable examples, one per entry of the README's API table. Each starts wsfleet's reference
// server in-process, so that
// `go test` runs it and checks its output.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

// startServer starts the reference server: /echo, /close, /push, /reset, /stall.
func startServer(o testserver.Options) *testserver.Server {
	s, err := testserver.Start(o)
	if err != nil {
		log.Fatal(err)
	}
	return s
}

// The quick start: dial, send, receive, close. engine.Dial uses a
// default engine that starts on first use.
func Example() {
	s := startServer(testserver.Options{})
	defer s.Close()
	ctx := context.Background()

	c, err := engine.Dial(ctx, s.URL()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Send(engine.Text, []byte("Hello, world!")); err != nil {
		log.Fatal(err)
	}
	msg, err := c.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", msg.Type, msg.Data)
	msg.Release() // msg.Data lives in a pooled buffer
	if err := c.Close(); err != nil {
		log.Fatal(err)
	}
	// Output: text: Hello, world!
}

// Dial options: connect and receive timeouts, request headers and subprotocols.
func ExampleDial() {
	s := startServer(testserver.Options{Subprotocols: []string{"chat.v1"}})
	defer s.Close()

	c, err := engine.Dial(context.Background(), s.URL()+"/echo", &engine.DialOptions{
		ConnectTimeout: 2 * time.Second,        // TCP connect and upgrade together (default 8 s)
		RecvTimeout:    500 * time.Millisecond, // each Recv (default: none)
		Header:         http.Header{"Authorization": {"Bearer t0ken"}},
		Protocols:      []string{"chat.v2", "chat.v1"}, // in order of preference
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("state:", c.State())
	fmt.Println("subprotocol:", c.Subprotocol())
	fmt.Println("response header:", c.ResponseHeader().Get("Sec-WebSocket-Protocol"))
	// Output:
	// state: open
	// subprotocol: chat.v1
	// response header: chat.v1
}

// An engine of one's own: loops, connections and counters.
func ExampleEngine_Dial() {
	s := startServer(testserver.Options{})
	defer s.Close()
	ctx := context.Background()

	eng, err := engine.New(engine.Options{Loops: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	c, err := eng.Dial(ctx, s.URL()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, word := range []string{"one", "two", "three"} {
		if err := c.Send(engine.Text, []byte(word)); err != nil {
			log.Fatal(err)
		}
		msg, err := c.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		msg.Release()
	}
	st := eng.Stats()
	fmt.Printf("open %d, upgrades %d, messages out %d, in %d\n", st.Open, st.Upgrades, st.MessagesOut, st.MessagesIn)
	// Output: open 1, upgrades 1, messages out 3, in 3
}

// A fleet: one Dialer checks the options once and its connections share them; each Dial
// gives its connection its own Value, which the Handler finds with c.Value.
func ExampleDialer() {
	s := startServer(testserver.Options{})
	defer s.Close()

	eng, err := engine.New(engine.Options{Loops: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	h := &countingHandler{opened: make(chan string, 3)}
	d, err := eng.NewDialer(&engine.DialOptions{Handler: h})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := d.Dial(context.Background(), s.URL()+"/echo", name); err != nil {
			log.Fatal(err)
		}
	}
	var names []string
	for range 3 {
		names = append(names, <-h.opened)
	}
	sort.Strings(names)
	fmt.Println("opened:", names)
	// Output: opened: [a b c]
}

// countingHandler reports each connection's Value when it opens.
type countingHandler struct{ opened chan string }

func (h *countingHandler) OnOpen(c *engine.Conn)                              { h.opened <- c.Value().(string) }
func (h *countingHandler) OnMessage(*engine.Conn, engine.MessageType, []byte) {}
func (h *countingHandler) OnClose(*engine.Conn, error)                        {}

// Text, binary and ping sends.
// Pings are answered by the server with pongs, which the engine does not deliver unless
// DialOptions.DeliverControl asks for them (see the Message example).
func ExampleConn_Send() {
	s := startServer(testserver.Options{})
	defer s.Close()
	ctx := context.Background()

	c, err := engine.Dial(ctx, s.URL()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(engine.Text, []byte("some text")); err != nil {
		log.Fatal(err)
	}
	if err := c.Send(engine.Binary, []byte{0xCA, 0xFE}); err != nil {
		log.Fatal(err)
	}
	if err := c.Ping([]byte("are you there?")); err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		msg, err := c.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %q\n", msg.Type, msg.Data)
		msg.Release()
	}
	// Output:
	// text "some text"
	// binary "\xca\xfe"
}

// Passive receive without a timeout: Recv waits for the next message.
func ExampleConn_Recv() {
	s := startServer(testserver.Options{})
	defer s.Close()
	ctx := context.Background()

	c, err := engine.Dial(ctx, s.URL()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, word := range []string{"first", "second"} {
		if err := c.Send(engine.Text, []byte(word)); err != nil {
			log.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		msg, err := c.Recv(ctx) // blocks: no RecvTimeout, no ctx deadline
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(msg.Data))
		msg.Release()
	}
	// Output:
	// first
	// second
}

// Passive receive with a timeout. Either
// DialOptions.RecvTimeout or a ctx deadline bounds Recv; both give an error for which
// errors.Is(err, engine.ErrTimeout) holds, and the connection stays usable.
func ExampleConn_Recv_timeout() {
	s := startServer(testserver.Options{})
	defer s.Close()

	c, err := engine.Dial(context.Background(), s.URL()+"/echo", &engine.DialOptions{RecvTimeout: 50 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Recv(context.Background()) // nothing was sent: RecvTimeout passes
	if errors.Is(err, engine.ErrTimeout) {
		fmt.Println("RecvTimeout: timed out")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c.Recv(ctx) // the ctx deadline comes first and wins
	if errors.Is(err, engine.ErrTimeout) && errors.Is(err, context.DeadlineExceeded) {
		fmt.Println("ctx deadline: timed out")
	}

	if err := c.Send(engine.Text, []byte("still open")); err != nil {
		log.Fatal(err)
	}
	msg, err := c.Recv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg.Data))
	msg.Release()
	// Output:
	// RecvTimeout: timed out
	// ctx deadline: timed out
	// still open
}

// Message types: with
// DeliverControl, pings and pongs arrive as messages too (pings are answered by the engine
// regardless). The reference server never pings first, so this example pings it and receives
// its pong; the interop tests (interop_test.go) show a server's ping delivered as engine.Ping.
func ExampleMessage() {
	s := startServer(testserver.Options{})
	defer s.Close()
	ctx := context.Background()

	c, err := engine.Dial(ctx, s.URL()+"/echo", &engine.DialOptions{DeliverControl: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Send(engine.Text, []byte("hello"))
	c.Send(engine.Binary, []byte{1, 2, 3})
	c.Ping([]byte("tick"))
	for i := 0; i < 3; i++ {
		msg, err := c.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		switch msg.Type {
		case engine.Text:
			fmt.Printf("text: %s\n", msg.Data)
		case engine.Binary:
			fmt.Printf("binary: %v\n", msg.Data)
		case engine.Ping:
			fmt.Printf("ping: %s (already answered)\n", msg.Data)
		case engine.Pong:
			fmt.Printf("pong: %s\n", msg.Data)
		}
		msg.Release()
	}
	// Output:
	// text: hello
	// binary: [1 2 3]
	// pong: tick
}

// Active mode: every message comes to the owner channel as an Event; the last event of a
// connection carries Err.
func ExampleEvent() {
	s := startServer(testserver.Options{})
	defer s.Close()

	owner := make(chan engine.Event, 16)
	c, err := engine.Dial(context.Background(), s.URL()+"/echo", &engine.DialOptions{Mode: engine.Active, Owner: owner})
	if err != nil {
		log.Fatal(err)
	}
	for _, word := range []string{"a", "b", "c"} {
		c.Send(engine.Text, []byte(word))
	}
	n := 0
	for ev := range owner {
		if ev.Err != nil { // the end: no more events for this connection
			fmt.Println("end:", ev.Err)
			break
		}
		fmt.Printf("event: %s %s\n", ev.Message.Type, ev.Message.Data)
		ev.Message.Release()
		if n++; n == 3 {
			c.Close()
		}
	}
	// Output:
	// event: text a
	// event: text b
	// event: text c
	// end: websocket: closed by client with 1000
}

// Once mode: one message goes to the owner, then the connection is passive until
// SetMode(engine.Once) again.
func ExampleConn_SetMode() {
	s := startServer(testserver.Options{})
	defer s.Close()
	ctx := context.Background()

	owner := make(chan engine.Event, 4)
	c, err := engine.Dial(ctx, s.URL()+"/echo", &engine.DialOptions{Mode: engine.Once, Owner: owner})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Send(engine.Text, []byte("first"))
	c.Send(engine.Text, []byte("second"))

	ev := <-owner
	fmt.Println("owner got:", string(ev.Message.Data), "- mode now:", c.Mode())
	ev.Message.Release()
	msg, err := c.Recv(ctx) // passive now: the second message waits for Recv
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Recv got:", string(msg.Data))
	msg.Release()

	if err := c.SetMode(engine.Once); err != nil {
		log.Fatal(err)
	}
	c.Send(engine.Text, []byte("third"))
	ev = <-owner
	fmt.Println("owner got:", string(ev.Message.Data), "- mode now:", c.Mode())
	ev.Message.Release()
	// Output:
	// owner got: first - mode now: passive
	// Recv got: second
	// owner got: third - mode now: passive
}

// SetOwner hands a connection's events to another channel, and
// SetMode(engine.Active) turns a passive connection active.
func ExampleConn_SetOwner() {
	s := startServer(testserver.Options{})
	defer s.Close()

	c, err := engine.Dial(context.Background(), s.URL()+"/echo", nil) // passive
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	owner := make(chan engine.Event, 4)
	c.SetOwner(owner)
	if err := c.SetMode(engine.Active); err != nil {
		log.Fatal(err)
	}
	c.Send(engine.Text, []byte("to the new owner"))
	ev := <-owner
	fmt.Println(ev.Conn == c, string(ev.Message.Data))
	ev.Message.Release()
	// Output: true to the new owner
}

// The two ends of the TCP connection.
func ExampleConn_RemoteAddr() {
	s := startServer(testserver.Options{})
	defer s.Close()

	c, err := engine.Dial(context.Background(), s.URL()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	remote := c.RemoteAddr().(*net.TCPAddr)
	local := c.LocalAddr().(*net.TCPAddr)
	fmt.Println("server is the one dialed:", remote.String() == s.Addr())
	fmt.Println("both on loopback:", remote.IP.IsLoopback() && local.IP.IsLoopback())
	// Output:
	// server is the one dialed: true
	// both on loopback: true
}

// A normal close (1000). Close waits for the server's close frame (bounded by
// CloseTimeout); afterwards Recv reports how the connection ended, and Close again does nothing.
func ExampleConn_Close() {
	s := startServer(testserver.Options{})
	defer s.Close()

	c, err := engine.Dial(context.Background(), s.URL()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Close:", c.Close())
	_, err = c.Recv(context.Background())
	fmt.Println("Recv:", err)
	fmt.Println("Close again:", c.Close())
	// Output:
	// Close: <nil>
	// Recv: websocket: closed by client with 1000
	// Close again: <nil>
}

// A close with a code and a reason.
func ExampleConn_CloseWith() {
	s := startServer(testserver.Options{})
	defer s.Close()

	c, err := engine.Dial(context.Background(), s.URL()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.CloseWith(engine.CloseNormal, "Goodbye"); err != nil {
		log.Fatal(err)
	}
	_, err = c.Recv(context.Background())
	var ce *engine.CloseError
	if errors.As(err, &ce) {
		fmt.Printf("code %d, reason %q, closed by the server first: %v\n", ce.Code, ce.Reason, ce.Remote)
	}
	// Output: code 1000, reason "Goodbye", closed by the server first: false
}

// Drop the connection without the close handshake (the server sees the TCP
// connection end). CloseNow does not wait; Recv reports ErrClosed once the loop has closed it.
func ExampleConn_CloseNow() {
	s := startServer(testserver.Options{})
	defer s.Close()

	c, err := engine.Dial(context.Background(), s.URL()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	c.CloseNow()
	_, err = c.Recv(context.Background())
	fmt.Println("Recv:", err, errors.Is(err, engine.ErrClosed))
	// Output:
	// Recv: websocket: connection closed true
}

// A chat client with two users. The reference server has no broadcast route, so /echo stands
// in for the chat server here: each user's line comes back on that user's own connection. One
// owner channel carries the events of both connections, read by one goroutine.
func Example_chat() {
	s := startServer(testserver.Options{})
	defer s.Close()

	owner := make(chan engine.Event, 8)
	user := map[string]*engine.Conn{}
	name := map[*engine.Conn]string{}
	for _, who := range []string{"alice", "bob"} {
		c, err := engine.Dial(context.Background(), s.URL()+"/echo?room=lobby", &engine.DialOptions{
			Mode:   engine.Active,
			Owner:  owner,
			Header: http.Header{"X-User": {who}},
		})
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		user[who], name[c] = c, who
	}
	for _, line := range []struct{ who, text string }{
		{"alice", "hi bob"},
		{"bob", "hi alice, how are you?"},
		{"alice", "fine, bye"},
	} {
		if err := user[line.who].Send(engine.Text, []byte(line.text)); err != nil {
			log.Fatal(err)
		}
		ev := <-owner
		fmt.Printf("%s> %s\n", name[ev.Conn], ev.Message.Data)
		ev.Message.Release()
	}
	// Output:
	// alice> hi bob
	// bob> hi alice, how are you?
	// alice> fine, bye
}

// {error, {http_error, 404}}: a refused upgrade is a *HandshakeError with the status, headers
// and the start of the body.
func ExampleHandshakeError() {
	s := startServer(testserver.Options{})
	defer s.Close()

	_, err := engine.Dial(context.Background(), s.URL()+"/no-such-path", nil)
	var he *engine.HandshakeError
	if errors.As(err, &he) {
		fmt.Println("status:", he.StatusCode)
		fmt.Println("error:", err)
	}
	// Output:
	// status: 404
	// error: websocket: upgrade rejected: 404 Not Found
}

// {error, {closed, Code, Reason}}: a connection that the server closed reports its close frame
// as a *CloseError, which errors.As finds.
func ExampleCloseError() {
	s := startServer(testserver.Options{})
	defer s.Close()

	c, err := engine.Dial(context.Background(), s.URL()+"/close?code=4001&reason=bye", nil)
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Recv(context.Background())
	var ce *engine.CloseError
	if errors.As(err, &ce) {
		fmt.Printf("code %d, reason %q, closed by the server first: %v\n", ce.Code, ce.Reason, ce.Remote)
	}
	fmt.Println(err)
	// Output:
	// code 4001, reason "bye", closed by the server first: true
	// websocket: closed by server with 4001 "bye"
}

// echoBot is a Handler: OnOpen, OnMessage and OnClose run on the engine's event loop with
// data borrowed from its read buffer, so they must not block; c.Send from a callback never
// waits. Close waits for the close handshake, so
// call it from another goroutine, never from a callback.
type echoBot struct {
	n      int           // state: touched only by the callbacks, which run one at a time
	done   chan struct{} // closed after the third reply
	closed chan struct{} // closed by OnClose
}

func (b *echoBot) OnOpen(c *engine.Conn) {
	fmt.Println("connected")
	c.Send(engine.Text, []byte("message 1"))
}

func (b *echoBot) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	fmt.Printf("received %s\n", data) // data is valid only until OnMessage returns
	b.n++
	if b.n < 3 {
		c.Send(engine.Text, fmt.Appendf(nil, "message %d", b.n+1)) // the reply
		return
	}
	close(b.done)
}

func (b *echoBot) OnClose(c *engine.Conn, err error) {
	var ce *engine.CloseError
	if errors.As(err, &ce) {
		fmt.Println("disconnected with", int(ce.Code))
	}
	close(b.closed)
}

func ExampleHandler() {
	s := startServer(testserver.Options{})
	defer s.Close()

	bot := &echoBot{done: make(chan struct{}), closed: make(chan struct{})}
	c, err := engine.Dial(context.Background(), s.URL()+"/echo", &engine.DialOptions{Handler: bot})
	if err != nil {
		log.Fatal(err)
	}
	<-bot.done
	c.Close()
	<-bot.closed
	// Output:
	// connected
	// received message 1
	// received message 2
	// received message 3
	// disconnected with 1000
}

// Reconnection: the
// reference server's /reset?after=2 echoes two messages and then resets the TCP connection.
// Under a ReconnectPolicy the same *Conn redials (with backoff and jitter), and its owner sees
// an Event with Reconnecting set, then one with Reconnected set.
func ExampleReconnectPolicy() {
	s := startServer(testserver.Options{})
	defer s.Close()

	owner := make(chan engine.Event, 8)
	c, err := engine.Dial(context.Background(), s.URL()+"/reset?after=2", &engine.DialOptions{
		Mode:      engine.Active,
		Owner:     owner,
		Reconnect: &engine.ReconnectPolicy{MinDelay: 10 * time.Millisecond, MaxDelay: time.Second, MaxAttempts: 10},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	send := func(s string) {
		if err := c.Send(engine.Text, []byte(s)); err != nil {
			log.Fatal(err)
		}
	}
	send("one")
	send("two")
	for echoes := 0; echoes < 3; {
		ev := <-owner
		switch {
		case ev.Reconnecting: // Err says why it dropped (here: connection reset by peer)
			fmt.Println("dropped, reconnecting")
		case ev.Reconnected:
			fmt.Println("reconnected")
			send("three")
		case ev.Err != nil: // the end for good: MaxAttempts dials failed
			log.Fatal(ev.Err)
		default:
			fmt.Println("echo:", string(ev.Message.Data))
			ev.Message.Release()
			echoes++
		}
	}
	// Output:
	// echo: one
	// echo: two
	// dropped, reconnecting
	// reconnected
	// echo: three
}

// A TraceFunc sees a connection's life — connect, upgrade, each
// frame sent and received, pings answered, forced closes. It runs on the loop or the sending
// goroutine, so it must be quick and safe for concurrent use.
func ExampleTraceFunc() {
	s := startServer(testserver.Options{})
	defer s.Close()
	ctx := context.Background()

	var mu sync.Mutex
	var seen []string
	trace := func(ev engine.TraceEvent) {
		line := ev.Kind.String()
		if ev.Kind == engine.TraceFrameSent || ev.Kind == engine.TraceFrameRecv {
			line += fmt.Sprintf(" %s %d bytes", ev.Opcode, ev.Length)
		}
		mu.Lock()
		seen = append(seen, line)
		mu.Unlock()
	}
	c, err := engine.Dial(ctx, s.URL()+"/echo", &engine.DialOptions{Trace: trace})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Send(engine.Text, []byte("traced"))
	msg, err := c.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	msg.Release()

	mu.Lock()
	sort.Strings(seen) // the sender and the loop trace concurrently: print in a stable order
	for _, line := range seen {
		fmt.Println(line)
	}
	mu.Unlock()
	// Output:
	// connect
	// frame-recv text 6 bytes
	// frame-sent text 6 bytes
	// upgraded
}
