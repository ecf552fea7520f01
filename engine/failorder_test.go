package engine_test

// A protocol violation that follows a message in the same read: the application still answers
// the message before the engine fails the connection, whatever the delivery path (Autobahn's
// strict verdict for 3.2, 4.1.3, 5.15 and their kind).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// violationAfterMessage serves one connection: a text message, a frame with RSV2 set and a
// ping in one write; it reports the frames the client sends back, up to its close.
func violationAfterMessage(t *testing.T, frames chan<- []testkit.ClientFrame) string {
	return testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		serveViolationAfterMessage(c, br, false, nil, frames)
	})
}

// violationAfterMessageTLS is the same over TLS, each frame in its own TLS record and the
// three records in one TCP write (the engine decrypts record by record, so the violation and
// what follows come out of one read separately).
func violationAfterMessageTLS(t *testing.T, frames chan<- []testkit.ClientFrame) (string, *x509.CertPool) {
	cert, roots := goodCert(t)
	url := testkit.RawServer(t, func(c net.Conn, _ *bufio.Reader) {
		hc := &holdingConn{Conn: c}
		tc := tls.Server(hc, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			return
		}
		br := bufio.NewReader(tc)
		if _, err := testkit.Upgrade(tc, br, ""); err != nil {
			return
		}
		hc.hold = true
		serveViolationAfterMessage(tc, br, true, func() error { return hc.release() }, frames)
	})
	return strings.Replace(url, "ws://", "wss://", 1), roots
}

// holdingConn keeps what is written while hold is set, until release sends it in one write.
type holdingConn struct {
	net.Conn
	hold bool
	held []byte
}

func (h *holdingConn) Write(b []byte) (int, error) {
	if h.hold {
		h.held = append(h.held, b...)
		return len(b), nil
	}
	return h.Conn.Write(b)
}

func (h *holdingConn) release() error {
	h.hold = false
	_, err := h.Conn.Write(h.held)
	h.held = nil
	return err
}

// serveViolationAfterMessage writes the frames (separately when asked; then flush, if set,
// sends them) and collects the client's answer.
func serveViolationAfterMessage(c net.Conn, br *bufio.Reader, separate bool, flush func() error, frames chan<- []testkit.ClientFrame) {
	out := [][]byte{
		testkit.ServerFrame(0x81, []byte("Hello, world!")),
		testkit.ServerFrame(0x81|0x20, []byte("Hello, world!")), // RSV2
		testkit.ServerFrame(0x89, nil),
	}
	if !separate {
		out = [][]byte{bytes.Join(out, nil)}
	}
	for _, b := range out {
		if _, err := c.Write(b); err != nil {
			return
		}
	}
	if flush != nil && flush() != nil {
		return
	}
	var got []testkit.ClientFrame
	for {
		f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
		if err != nil {
			break
		}
		got = append(got, f)
		if f.Op == 0x8 {
			break
		}
	}
	frames <- got
}

func checkEchoThenClose(t *testing.T, got []testkit.ClientFrame) {
	t.Helper()
	if len(got) != 2 || got[0].Op != 0x1 || string(got[0].Payload) != "Hello, world!" || got[1].Op != 0x8 {
		var ops []byte
		for _, f := range got {
			ops = append(ops, f.Op)
		}
		t.Fatalf("client sent opcodes %v, want the echo (1) then a close (8), and no pong", ops)
	}
	if code := testkit.CloseCode(got[1].Payload); code != 1002 {
		t.Errorf("close code %d, want 1002", code)
	}
}

func isProtocolError(err error) bool {
	var pe *engine.ProtocolError
	return errors.As(err, &pe)
}

func TestViolationAfterMessageEchoFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng := newEngine(t)

	t.Run("passive", func(t *testing.T) {
		frames := make(chan []testkit.ClientFrame, 1)
		c, err := eng.Dial(ctx, violationAfterMessage(t, frames), nil)
		if err != nil {
			t.Fatal(err)
		}
		for {
			m, err := c.Recv(ctx)
			if err != nil {
				if !isProtocolError(err) {
					t.Errorf("Recv ended with %v, want the protocol error", err)
				}
				break
			}
			if err := c.Send(m.Type, m.Data); err != nil {
				t.Errorf("echo: %v", err)
			}
			m.Release()
		}
		checkEchoThenClose(t, <-frames)
	})

	t.Run("active", func(t *testing.T) {
		frames := make(chan []testkit.ClientFrame, 1)
		owner := make(chan engine.Event, 16)
		c, err := eng.Dial(ctx, violationAfterMessage(t, frames), &engine.DialOptions{Mode: engine.Active, Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		for ev := range owner {
			if ev.Err != nil {
				if !isProtocolError(ev.Err) {
					t.Errorf("final event %v, want the protocol error", ev.Err)
				}
				break
			}
			if err := c.Send(ev.Message.Type, ev.Message.Data); err != nil {
				t.Errorf("echo: %v", err)
			}
			ev.Message.Release()
		}
		checkEchoThenClose(t, <-frames)
		if !waitErr(c) {
			t.Error("the connection did not end after the failure")
		}
	})

	t.Run("handler", func(t *testing.T) {
		frames := make(chan []testkit.ClientFrame, 1)
		h := &echoOnLoop{end: make(chan error, 1)}
		if _, err := eng.Dial(ctx, violationAfterMessage(t, frames), &engine.DialOptions{Handler: h}); err != nil {
			t.Fatal(err)
		}
		if err := <-h.end; !isProtocolError(err) {
			t.Errorf("OnClose with %v, want the protocol error", err)
		}
		checkEchoThenClose(t, <-frames)
	})

	t.Run("passive over TLS", func(t *testing.T) {
		frames := make(chan []testkit.ClientFrame, 1)
		url, roots := violationAfterMessageTLS(t, frames)
		c, err := eng.Dial(ctx, url, &engine.DialOptions{TLSConfig: &tls.Config{RootCAs: roots}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			m, err := c.Recv(ctx)
			if err != nil {
				if !isProtocolError(err) {
					t.Errorf("Recv ended with %v, want the protocol error", err)
				}
				break
			}
			if err := c.Send(m.Type, m.Data); err != nil {
				t.Errorf("echo: %v", err)
			}
			m.Release()
		}
		checkEchoThenClose(t, <-frames)
	})

	t.Run("passive application that stops reading", func(t *testing.T) {
		// It takes the message and never calls Recv again: the failure completes anyway,
		// after a short grace, without the echo.
		frames := make(chan []testkit.ClientFrame, 1)
		c, err := eng.Dial(ctx, violationAfterMessage(t, frames), nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.Release()
		start := time.Now()
		got := <-frames
		if len(got) != 1 || got[0].Op != 0x8 || testkit.CloseCode(got[0].Payload) != 1002 {
			t.Fatalf("client sent %d frames, want only a close 1002", len(got))
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the failure took %v", d)
		}
	})
}

// waitErr waits for the connection to end for good.
func waitErr(c *engine.Conn) bool {
	deadline := time.Now().Add(5 * time.Second)
	for c.Err() == nil {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

type echoOnLoop struct{ end chan error }

func (h *echoOnLoop) OnOpen(*engine.Conn) {}
func (h *echoOnLoop) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	_ = c.Send(typ, data)
}
func (h *echoOnLoop) OnClose(_ *engine.Conn, err error) { h.end <- err }
