package engine_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// A server that stops reading: TrySend fails with ErrBackedUp once MaxPendingBytes are queued,
// Send waits for room (and gets it when the server reads again), SendContext gives up with its
// context, and nothing grows without bound.
func TestBackpressure(t *testing.T) {
	eng := newEngine(t)
	resume := make(chan struct{})
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		<-resume // not reading: the client's socket buffers fill up
		for {
			if _, err := testkit.ReadClientFrame(br, c, 10*time.Second); err != nil {
				return
			}
		}
	})
	// Cleanups run last-registered first: this one frees the server before rawServer's own
	// cleanup waits for it, even when the test fails before resuming it.
	var resumeOnce sync.Once
	resumeServer := func() { resumeOnce.Do(func() { close(resume) }) }
	t.Cleanup(resumeServer)
	const limit = 256 << 10
	c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{MaxPendingBytes: limit, CloseTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 16<<10)
	sent := 0
	for {
		err := c.TrySend(engine.Binary, payload)
		if errors.Is(err, engine.ErrBackedUp) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent += len(payload)
		if sent > 64<<20 {
			t.Fatal("TrySend never reported the connection backed up")
		}
	}
	t.Logf("backed up after %d KiB (kernel buffers + %d KiB cap)", sent>>10, limit>>10)

	// The kernel may still take more as its buffers grow, so room can reappear for a while:
	// SendContext succeeds then, until the connection is backed up for good.
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err = c.SendContext(ctx, engine.Binary, payload)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil || i == 2000 {
			t.Fatalf("SendContext on a backed-up connection: %v after %d sends", err, i)
		}
	}

	done := make(chan error, 1)
	go func() { done <- c.Send(engine.Binary, payload) }()
	select {
	case err := <-done:
		t.Fatalf("Send did not wait for room: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	resumeServer() // the server reads again: room appears, Send completes
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send still waiting after the server drained the connection")
	}
	if err := c.Close(); err != nil && !errors.Is(err, engine.ErrTimeout) {
		t.Fatal(err)
	}
}

// Close wakes a sender waiting for room.
func TestCloseWakesWaitingSender(t *testing.T) {
	eng := newEngine(t)
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		time.Sleep(3 * time.Second)
	})
	c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{MaxPendingBytes: 64 << 10, CloseTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 16<<10)
	done := make(chan error, 1)
	for attempt := 0; ; attempt++ {
		for c.TrySend(engine.Binary, payload) == nil {
		}
		go func() { done <- c.Send(engine.Binary, payload) }()
		// The kernel's socket buffers may still grow and take the frame: then fill again,
		// until a sender is really waiting when Close comes.
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if attempt == 50 {
				t.Fatal("the socket kept taking data from a server that does not read")
			}
			continue
		case <-time.After(50 * time.Millisecond):
		}
		break
	}
	go c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Send succeeded on a closing connection")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close left a sender waiting")
	}
}

// burstHandler sends from OnMessage until Send refuses, and reports what it got.
type burstHandler struct {
	payload []byte
	result  chan burstResult
}

type burstResult struct {
	sent int
	err  error
}

func (h *burstHandler) OnOpen(*engine.Conn) {}
func (h *burstHandler) OnMessage(c *engine.Conn, _ engine.MessageType, _ []byte) {
	sent := 0
	for sent < 256<<20 {
		if err := c.Send(engine.Binary, h.payload); err != nil {
			h.result <- burstResult{sent, err}
			return
		}
		sent += len(h.payload)
	}
	h.result <- burstResult{sent, nil}
}
func (h *burstHandler) OnClose(*engine.Conn, error) {}

// The Send rule: inside a callback Send never waits and fails with ErrBackedUp once twice
// MaxPendingBytes would be waiting; outside, on the same Handler connection, it waits.
func TestSendInsideCallbackNeverWaits(t *testing.T) {
	eng := newEngine(t)
	release := make(chan struct{})
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		c.Write(testkit.ServerFrame(0x82, []byte("go"))) // one message, then no reading
		<-release
	})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	const limit = 128 << 10
	h := &burstHandler{payload: make([]byte, 16<<10), result: make(chan burstResult, 1)}
	c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{Handler: h, MaxPendingBytes: limit, CloseTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var r burstResult
	select {
	case r = <-h.result:
	case <-time.After(10 * time.Second):
		t.Fatal("Send waited inside OnMessage")
	}
	if !errors.Is(r.err, engine.ErrBackedUp) {
		t.Fatalf("inside the callback after %d bytes: %v, want ErrBackedUp", r.sent, r.err)
	}
	if r.sent < limit {
		t.Errorf("inside the callback only %d bytes went before ErrBackedUp, under MaxPendingBytes %d: callbacks get twice the bound", r.sent, limit)
	}
	// Outside the callback the same connection makes a sender wait (here until its ctx ends).
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	for {
		err := c.SendContext(ctx, engine.Binary, h.payload)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatalf("outside the callback: %v, want a wait that ends with the context", err)
		}
	}
}
