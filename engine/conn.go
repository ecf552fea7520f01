package engine

import (
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine/internal/transport"
)

// Conn is one client WebSocket connection: the facade that outlives reconnections. Its methods
// are safe for concurrent use. The socket and the parser belong to the current session, which
// only the event loop carrying it touches.
type Conn struct {
	// Fixed at Dial; read without the lock.
	eng  *Engine
	opts *DialOptions // resolved; read-only, shared by a Dialer's connections
	url  *url.URL
	val  any // DialOptions.Value, or the Dialer.Dial value
	// handler receives every event: DialOptions.Handler, or the connection's own mailbox
	// (mb) for the passive, active and once modes; box is the mailbox's extra needs (boxed),
	// nil for a user's Handler.
	handler Handler
	box     boxed

	state  atomic.Uint32 // the State: written under mu (setStateLocked), read without it
	regIdx int32         // index in the engine's registry, -1 when not registered (under eng.mu)

	mu sync.Mutex // guards every field below

	// The current session (a new one per reconnection) and what its upgrade left: the 101's
	// header lines ("Name: value\n") except Sec-WebSocket-Accept, shared with other
	// connections that got the same lines (internHeader), and the request's 16-byte nonce,
	// from which that Accept value follows (upgrade.go).
	sess       *session
	respHeader string
	nonce      [16]byte
	localAddr  net.Addr
	remoteAddr net.Addr

	// Write side (write.go).
	out          *bytebufferpool.ByteBuffer // frames waiting for the loop to write them
	outMsgs      int32
	sockBuffered int32 // gnet's outbound bytes at the last flush (the peer is not reading)
	maskState    uint64
	defl         *deflateState // permessage-deflate send side, nil when off (compression.go)
	flushQueued  bool          // queued in the loop's flush queue
	inLoop       bool          // the loop is inside this connection's callbacks and flushes when done

	// Close (close.go).
	close   closeState // where the close handshake stands
	noRetry bool       // Close was called: no more reconnections

	mb mailbox    // delivery without a Handler (mailbox.go); mb.mode is Mode() in any case
	x  *connExtra // what only some connections need (conn_extra.go)

	// The end (close.go).
	lastErr  error // why the last session ended
	finalErr error // set when no session will follow
}

// session is one TCP connection's worth of state, owned by the loop that carries it. A
// reconnection makes a new session, so late callbacks and timers of an old one touch only
// the old one.
type session struct {
	c    *Conn
	gc   gnet.Conn
	l    *loop
	dial *dialState // until the upgrade completes (or the dial fails); nil after
	fd   int        // the socket, for writes from senders' goroutines (under c.mu)
	// wss: the TLS connection over the bridge (which also holds the TLS-only state, tls.go)
	tls    *tls.Conn
	bridge *transport.TLSBridge
	pf     *pendingFail  // a protocol failure held back for the application (fail.go)
	infl   *inflateState // permessage-deflate receive side, nil when off (inflate.go)

	// The frame reader (read.go).
	cur       codec.Header
	remaining int64
	msgLen    int64
	msgBuf    *bytebufferpool.ByteBuffer // a message in pieces: fragments or reads
	ctrlBuf   *bytebufferpool.ByteBuffer // a control frame split across reads

	// Timers (timers.go), in ticks.
	lastRecv   int64 // the last bytes received (keepalive)
	pingSentAt int64 // our unanswered keepalive ping, 0 if none
	timerDue   int64 // this session's live timer-wheel entry, 0 if none
	closeDue   int64 // the server's answer to our close frame is due, 0 if not waiting

	// The frame reader, continued.
	hdr       [codec.MaxHeaderSize]byte // a frame header split across reads
	hdrN      uint8
	msgType   codec.Opcode
	checker   codec.FrameChecker
	utf8      codec.UTF8Validator
	frameOpen bool // read.go: a frame's payload is still coming
	ended     bool // the session is over (finishClose ran)

	// The socket's end (close.go): whether gnet is closing it (end.Gone, under c.mu: nobody
	// may write to fd then) and a close gnet reported from inside our own write, held until
	// c.mu is free (transport.SocketEnd).
	end transport.SocketEnd
}

// dialState is what a session needs only while it dials and upgrades, dropped once the
// upgrade is decided so that an open connection does not carry it.
type dialState struct {
	parser *codec.ResponseParser
	key    [24]byte                   // the request's Sec-WebSocket-Key
	done   chan error                 // exactly one value, read by the dialing goroutine
	req    *bytebufferpool.ByteBuffer // the upgrade request until gnet has written it
	// The upgrade's verdict, under c.mu: the loop accepted the 101 (upgraded), or the
	// dialing goroutine stopped waiting at its deadline (abandoned). Whichever comes first
	// stands (connect, readUpgrade).
	upgraded  bool
	abandoned bool
}

// dialing says whether the session is still dialing or upgrading.
func (s *session) dialing() bool { return s.dial != nil }

// Value returns DialOptions.Value.
func (c *Conn) Value() any { return c.val }

// State reports where the connection is in its life.
func (c *Conn) State() State { return State(c.state.Load()) }

// Subprotocol is the subprotocol the server chose ("" for none): the 101's
// Sec-WebSocket-Protocol, which the upgrade checked against the offer.
func (c *Conn) Subprotocol() string {
	c.mu.Lock()
	raw := c.respHeader
	c.mu.Unlock()
	for raw != "" {
		var line string
		line, raw, _ = strings.Cut(raw, "\n")
		if name, value, ok := strings.Cut(line, ": "); ok && strings.EqualFold(name, "Sec-WebSocket-Protocol") {
			return value
		}
	}
	return ""
}

// ResponseHeader holds the headers of the server's 101 response.
// Each call builds a new http.Header: an idle connection keeps the headers as one string,
// shared by the connections whose 101 carried the same lines, and Sec-WebSocket-Accept
// (which differs on every connection) as the key it was checked against.
func (c *Conn) ResponseHeader() http.Header {
	c.mu.Lock()
	raw, nonce := c.respHeader, c.nonce
	c.mu.Unlock()
	h := make(http.Header)
	for raw != "" {
		var line string
		line, raw, _ = strings.Cut(raw, "\n")
		if name, value, ok := strings.Cut(line, ": "); ok {
			h.Add(name, value)
		}
	}
	if nonce != ([16]byte{}) {
		var key [24]byte
		base64.StdEncoding.Encode(key[:], nonce[:])
		accept := codec.AcceptKey(key[:])
		h.Add("Sec-WebSocket-Accept", string(accept[:]))
	}
	return h
}

// RemoteAddr is the server's address.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteAddr
}

// LocalAddr is our end's address.
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localAddr
}

// URL is the address the connection was dialed with.
func (c *Conn) URL() *url.URL { return c.url }

// Err says why the connection ended for good, or nil while it lives (or reconnects).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finalErr
}

func (c *Conn) trace(ev TraceEvent) {
	if tr := c.opts.Trace; tr != nil {
		ev.Conn = c
		tr(ev)
	}
}

// waitDone waits up to d for the connection to end for good.
func (c *Conn) waitDone(d time.Duration) bool {
	c.mu.Lock()
	if c.finalErr != nil {
		c.mu.Unlock()
		return true
	}
	w := c.extraLocked()
	if w.done == nil {
		w.done = make(chan struct{})
	}
	done := w.done
	c.mu.Unlock()
	if d <= 0 {
		d = time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
