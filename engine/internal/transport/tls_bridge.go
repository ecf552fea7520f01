package transport

import (
	"net"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/pool"
)

// TLS on the event loop, with the standard crypto/tls and no fork of it. The handshake runs
// on the dialing goroutine over the blocking socket. Then the tls.Conn is kept, sitting on a
// TLSBridge: its Read serves the ciphertext OnTraffic received and otherwise says "would
// block" with a temporary net.Error (ErrWouldBlock: crypto/tls keeps a partial record and
// does not make such an error sticky); its Write goes to the socket, from a sender's
// goroutine (WriteNow, the rest kept for the loop) or on the loop (through gnet).

// Socket is the bridge's view of the connection's socket once the loop carries it. The
// bridge's Write runs under the connection's lock, which also guards Gone.
type Socket interface {
	// Gone says that gnet is closing the socket: nothing may be written to it.
	Gone() bool
	// LoopWrite writes p on the loop through gnet, which writes now or keeps the rest, in order.
	LoopWrite(p []byte)
	// Fd is the socket's descriptor, for WriteNow.
	Fd() int
}

// TLSBridge is the net.Conn under a connection's tls.Conn.
type TLSBridge struct {
	nc     net.Conn // the blocking socket, during the handshake only
	sock   Socket
	in     []byte // ciphertext received, not yet taken by crypto/tls
	cur    RecordCursor
	direct bool // writes come from a sender's goroutine: write the socket, leave the rest for the loop
	local  net.Addr
	remote net.Addr
	// pending is ciphertext a sender's write left for the loop (under the connection's lock).
	pending *bytebufferpool.ByteBuffer
	// Notified is set once close_notify was sent.
	Notified bool
}

// NewTLSBridge bridges the blocking socket nc for the handshake.
func NewTLSBridge(nc net.Conn) *TLSBridge {
	return &TLSBridge{nc: nc, local: nc.LocalAddr(), remote: nc.RemoteAddr()}
}

// Attach hands the bridge to the loop: from now on it reads what Feed gives and writes to s.
func (b *TLSBridge) Attach(s Socket) { b.nc, b.sock = nil, s }

// Nested marks TLS records carried inside other TLS records (a wss:// target through an
// https:// proxy): the record cursor follows the outer layer only, so every byte is handed
// over as it comes and crypto/tls is read until it waits.
func (b *TLSBridge) Nested() { b.cur.Lost = true }

// Feed gives the bridge the ciphertext gnet read.
func (b *TLSBridge) Feed(raw []byte) { b.in = raw }

// Drained says that asking crypto/tls for more would only cost its allocation and a "would
// block": every byte fed was handed over, one record per read, so crypto/tls holds no whole
// record that was not read out (a partial one waits for its rest).
func (b *TLSBridge) Drained() bool { return len(b.in) == 0 && !b.cur.Lost }

// SetDirect says whether the next writes come from a sender's goroutine (true) or the loop.
func (b *TLSBridge) SetDirect(direct bool) { b.direct = direct }

// Pending says whether ciphertext waits for the loop to write it (under the connection's lock).
func (b *TLSBridge) Pending() bool { return b.pending != nil }

// TakePending hands the waiting ciphertext to the loop, which writes it before anything else.
func (b *TLSBridge) TakePending() *bytebufferpool.ByteBuffer {
	p := b.pending
	b.pending = nil
	return p
}

// Release drops waiting ciphertext when the socket is gone.
func (b *TLSBridge) Release() {
	if b.pending != nil {
		pool.Put(b.pending)
		b.pending = nil
	}
}

// ErrWouldBlock is what the bridge's Read says when the ciphertext fed is used up.
var ErrWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "wsfleet: tls bridge: no more input yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

func (b *TLSBridge) Read(p []byte) (int, error) {
	if b.nc != nil {
		return b.nc.Read(p)
	}
	if len(b.in) == 0 {
		return 0, ErrWouldBlock
	}
	limit := len(b.in)
	if !b.cur.Lost {
		// One record at a time: crypto/tls then holds no whole record that the connection
		// does not know of (see Drained).
		if end := b.cur.ToEnd(b.in); end >= 0 && end < limit {
			limit = end
		}
	}
	n := copy(p, b.in[:limit])
	if !b.cur.Lost {
		b.cur.Advance(b.in, n)
	}
	b.in = b.in[n:]
	return n, nil
}

// Write runs under the connection's lock (or, during the handshake, on the dialing goroutine).
func (b *TLSBridge) Write(p []byte) (int, error) {
	if b.nc != nil {
		return b.nc.Write(p)
	}
	if b.sock.Gone() {
		return 0, net.ErrClosed
	}
	if !b.direct {
		b.sock.LoopWrite(p)
		return len(p), nil
	}
	n := 0
	if b.pending == nil {
		// Only while nothing waits for the loop: crypto/tls writes a long message record by
		// record, and once one record was cut short the socket may take the next one, which
		// would overtake the cut record's rest on the wire.
		n = WriteNow(b.sock.Fd(), p)
	}
	if n < len(p) {
		// The socket is full: the rest goes out from the loop, before anything else.
		if b.pending == nil {
			b.pending = pool.Get(len(p) - n)
		}
		b.pending.B = append(b.pending.B, p[n:]...)
	}
	return len(p), nil
}

func (b *TLSBridge) Close() error {
	if b.nc != nil {
		return b.nc.Close()
	}
	return nil
}

func (b *TLSBridge) LocalAddr() net.Addr  { return b.local }
func (b *TLSBridge) RemoteAddr() net.Addr { return b.remote }

func (b *TLSBridge) SetDeadline(t time.Time) error {
	if b.nc != nil {
		return b.nc.SetDeadline(t)
	}
	return nil
}

func (b *TLSBridge) SetReadDeadline(t time.Time) error {
	if b.nc != nil {
		return b.nc.SetReadDeadline(t)
	}
	return nil
}

func (b *TLSBridge) SetWriteDeadline(t time.Time) error {
	if b.nc != nil {
		return b.nc.SetWriteDeadline(t)
	}
	return nil
}
