package transport

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// endHandler is a gnet client handler whose OnClose goes through a SocketEnd, as the
// engine's does, and records whether the close arrived inside a write.
type endHandler struct {
	gnet.BuiltinEventEngine
	end     SocketEnd
	opened  chan gnet.Conn
	closed  chan error
	mu      sync.Mutex
	insideW bool // OnClose ran while the write was in progress
}

func (h *endHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	h.opened <- c
	return nil, gnet.None
}

func (h *endHandler) OnClose(_ gnet.Conn, err error) gnet.Action {
	if !h.end.CloseArrived(err) {
		h.mu.Lock()
		h.insideW = true
		h.mu.Unlock()
		return gnet.None
	}
	h.end.MarkGone()
	h.closed <- err
	return gnet.None
}

// writeAfterReset runs on the loop: the server resets the connection, then the loop writes
// to it, bracketed as the engine brackets its writes.
type writeAfterReset struct {
	h      *endHandler
	gc     gnet.Conn
	server net.Conn
	result chan error
}

func (r writeAfterReset) Run(context.Context) error {
	_ = r.server.(*net.TCPConn).SetLinger(0)
	r.server.Close() // an RST, delivered before Close returns on loopback
	time.Sleep(20 * time.Millisecond)
	r.h.end.Writing()
	_, err := r.gc.Write([]byte("after the reset"))
	r.h.end.Wrote()
	if err == nil {
		err = errors.New("the write succeeded")
	}
	deferred, ok := r.h.end.TakeDeferred()
	if !ok {
		r.result <- errors.New("no close arrived inside the write")
		return nil
	}
	r.h.closed <- deferred
	r.result <- nil
	return nil
}

// TestGnetClosesInsideWrite states the gnet fact SocketEnd exists for: a failed Conn.Write
// calls OnClose before Write returns, on the loop, with the write's error. If a gnet release
// stops doing so, this test fails and SocketEnd (and the engine's deferred close) can go.
func TestGnetClosesInsideWrite(t *testing.T) {
	h := &endHandler{opened: make(chan gnet.Conn, 1), closed: make(chan error, 2)}
	client, err := NewClient(h, ClientOptions{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.EnrollContext(nc, nil); err != nil {
		t.Fatal(err)
	}
	gc := <-h.opened
	result := make(chan error, 1)
	if err := gc.EventLoop().Execute(context.Background(), writeAfterReset{h: h, gc: gc, server: server, result: result}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write on the loop did not return")
	}
	h.mu.Lock()
	inside := h.insideW
	h.mu.Unlock()
	if !inside || !h.end.Gone() {
		t.Fatalf("OnClose inside the write: %v, socket gone: %v", inside, h.end.Gone())
	}
	got := <-h.closed
	if !errors.Is(got, syscall.ECONNRESET) && !errors.Is(got, syscall.EPIPE) {
		t.Errorf("the deferred close carries %v, want the write's ECONNRESET or EPIPE", got)
	}
	if _, ok := h.end.TakeDeferred(); ok {
		t.Error("TakeDeferred handed the close back twice")
	}
	select {
	case err := <-h.closed:
		t.Errorf("OnClose finished a second time: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestSocketEndOutsideWrite: a close outside any write is finished by the caller at once.
func TestSocketEndOutsideWrite(t *testing.T) {
	var e SocketEnd
	if !e.CloseArrived(errors.New("eof")) {
		t.Fatal("a close outside a write was deferred")
	}
	if e.Gone() {
		t.Fatal("CloseArrived outside a write marked the socket gone: the caller does, under its lock")
	}
	if _, ok := e.TakeDeferred(); ok {
		t.Fatal("nothing was deferred")
	}
}
