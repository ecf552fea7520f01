package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

// closingHandler closes its connection from inside OnMessage, as a flow's close step or a
// WebSockex-style handler does, and records how long Close held the event loop.
type closingHandler struct {
	held   chan time.Duration
	closed chan error
}

func (h *closingHandler) OnOpen(c *engine.Conn) { _ = c.Send(engine.Text, []byte("bye")) }
func (h *closingHandler) OnMessage(c *engine.Conn, _ engine.MessageType, _ []byte) {
	start := time.Now()
	err := c.CloseWith(engine.CloseGoingAway, "done")
	h.held <- time.Since(start)
	if err != nil {
		h.closed <- err
	}
}
func (h *closingHandler) OnClose(_ *engine.Conn, err error) { h.closed <- err }

// TestCloseInsideCallbackDoesNotWait: the server's close frame is read by the loop running the
// callback, so a Close that waited there would stall the loop until CloseTimeout. It must
// return at once, and the handshake must still complete with our code.
func TestCloseInsideCallbackDoesNotWait(t *testing.T) {
	checkNoLeaks(t)
	eng := newEngine(t)
	url := refServer(t, testserver.Options{})
	h := &closingHandler{held: make(chan time.Duration, 1), closed: make(chan error, 2)}
	c, err := eng.Dial(context.Background(), url+"/echo", &engine.DialOptions{Handler: h, CloseTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case held := <-h.held:
		// Far below CloseTimeout: the call did not wait for the server's answer.
		if held > time.Second {
			t.Errorf("CloseWith inside OnMessage held the loop for %v", held)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no message arrived")
	}
	select {
	case err := <-h.closed:
		var ce *engine.CloseError
		if !errors.As(err, &ce) || ce.Code != engine.CloseGoingAway || ce.Remote {
			t.Fatalf("OnClose got %v, want our 1001 close answered", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the close handshake never finished")
	}
	if st := c.State(); st != engine.StateClosed {
		t.Errorf("state %v after OnClose", st)
	}
}
