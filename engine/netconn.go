package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// NetConn returns a net.Conn over c, for protocol clients written against net.Conn (SSH,
// MQTT, net/rpc, …) to run over a WebSocket. c must be in passive delivery (no Handler, Mode
// Passive), and the adapter must be its only reader. Do not give c a ReconnectPolicy: a
// byte stream does not survive a reconnection, and Read would go on with the new one.
//
//   - Read returns the bytes of the received messages, of either type, in order: a message
//     larger than the buffer is returned over several Reads, and a Read never spans two
//     messages. Empty messages are skipped. The server's close with 1000 reads as io.EOF; any
//     other end of the connection as its error (a *CloseError, ErrTimeout, …).
//   - Write sends p as one message of type typ (Text or Binary), waiting for room as Send does.
//   - SetDeadline, SetReadDeadline and SetWriteDeadline work as net.Conn's: a passed deadline
//     fails pending and later calls with an error for which errors.Is(err,
//     os.ErrDeadlineExceeded) holds and Timeout() is true, and a later deadline revives them.
//   - Close closes the WebSocket with 1000 (waiting up to CloseTimeout for the server's
//     answer); pending and later Reads and Writes fail with net.ErrClosed.
//   - LocalAddr and RemoteAddr are the socket's (through a proxy, RemoteAddr is the proxy's).
//
// Reading is not flow control: the engine reads the socket whether or not the adapter is read
// (gnet cannot pause a socket), and messages wait in the connection's inbox (InboxSize) until
// Read takes them; when it is full the connection's SlowConsumer policy applies. A protocol
// that leaves the connection unread for long needs a large enough InboxSize.
func NetConn(c *Conn, typ MessageType) net.Conn {
	return &netConn{c: c, typ: typ, rd: newDeadline(), wd: newDeadline()}
}

type netConn struct {
	c   *Conn
	typ MessageType

	rmu  sync.Mutex // one Read at a time: it owns msg and rest
	msg  Message
	rest []byte // msg.Data not read yet

	rd, wd *deadline
	closed atomic.Bool
	once   sync.Once
	err    error // Close's result
}

func (n *netConn) Read(p []byte) (int, error) {
	n.rmu.Lock()
	defer n.rmu.Unlock()
	for len(n.rest) == 0 {
		n.msg.Release()
		n.msg, n.rest = Message{}, nil
		if err := n.rd.check(n); err != nil {
			return 0, err
		}
		m, err := n.c.Recv(n.rd)
		if err != nil {
			if derr := n.rd.check(n); derr != nil {
				return 0, derr
			}
			var ce *CloseError
			if errors.As(err, &ce) && ce.Remote && ce.Code == CloseNormal {
				return 0, io.EOF
			}
			if n.closed.Load() {
				return 0, net.ErrClosed
			}
			return 0, err
		}
		n.msg, n.rest = m, m.Data
	}
	k := copy(p, n.rest)
	n.rest = n.rest[k:]
	return k, nil
}

func (n *netConn) Write(p []byte) (int, error) {
	if err := n.wd.check(n); err != nil {
		return 0, err
	}
	if err := n.c.SendContext(n.wd, n.typ, p); err != nil {
		if derr := n.wd.check(n); derr != nil {
			return 0, derr
		}
		if n.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, err
	}
	return len(p), nil
}

// Close closes the WebSocket with 1000; pending Reads and Writes end at once.
func (n *netConn) Close() error {
	n.once.Do(func() {
		n.closed.Store(true)
		n.rd.expire()
		n.wd.expire()
		n.err = n.c.Close()
		n.rmu.Lock()
		n.msg.Release()
		n.msg, n.rest = Message{}, nil
		n.rmu.Unlock()
	})
	if n.err != nil && !errors.Is(n.err, ErrClosed) {
		return n.err
	}
	return nil
}

func (n *netConn) LocalAddr() net.Addr  { return n.c.LocalAddr() }
func (n *netConn) RemoteAddr() net.Addr { return n.c.RemoteAddr() }

func (n *netConn) SetDeadline(t time.Time) error {
	if n.closed.Load() {
		return net.ErrClosed
	}
	n.rd.set(t)
	n.wd.set(t)
	return nil
}

func (n *netConn) SetReadDeadline(t time.Time) error {
	if n.closed.Load() {
		return net.ErrClosed
	}
	n.rd.set(t)
	return nil
}

func (n *netConn) SetWriteDeadline(t time.Time) error {
	if n.closed.Load() {
		return net.ErrClosed
	}
	n.wd.set(t)
	return nil
}

// deadline is one direction's deadline: a channel closed when it passes, which Recv and
// SendContext wait on through deadline's context methods (so a Read allocates nothing for it).
// Setting a later deadline after one passed makes a new channel.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	passed chan struct{}
}

func newDeadline() *deadline { return &deadline{passed: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	select {
	case <-d.passed:
		d.passed = make(chan struct{}) // open again until t
	default:
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.passed)
		return
	}
	ch := d.passed
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.passed == ch {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	})
}

// expire makes the deadline pass for good (Close).
func (d *deadline) expire() { d.set(time.Unix(1, 0)) }

// check returns the error for a passed deadline: net.ErrClosed after Close.
func (d *deadline) check(n *netConn) error {
	select {
	case <-d.Done():
		if n.closed.Load() {
			return net.ErrClosed
		}
		return os.ErrDeadlineExceeded
	default:
		return nil
	}
}

// deadline is the context.Context of the Recv or SendContext it bounds.
func (d *deadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d *deadline) Value(any) any               { return nil }
func (d *deadline) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passed
}
func (d *deadline) Err() error {
	select {
	case <-d.Done():
		return os.ErrDeadlineExceeded
	default:
		return nil
	}
}

var _ context.Context = (*deadline)(nil)
