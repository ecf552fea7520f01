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
)

// Conn is one client WebSocket connection: the facade that outlives reconnections. Its methods
// are safe for concurrent use. The socket and the parser belong to the current session, which
// only the event loop carrying it touches.
type Conn struct {
	eng  *Engine
	opts *DialOptions // defaults applied; read-only
	url  *url.URL
	val  any
	// handler is DialOptions.Handler (kept here: the options may be shared)
	handler Handler

	state  atomic.Uint32
	regIdx int32      // index in the engine's registry, -1 when not registered (under eng.mu)
	mu     sync.Mutex // guards everything below

	// write side
	flushQueued   bool // queued in the loop's flush queue
	inLoop        bool // the loop is inside this connection's callbacks and flushes when done
	closeSent     bool // our close frame is queued: nothing may follow it
	closeTimerDue bool // the loop starts the close timer once our close frame is written (by it or by Close)
	// delivery side
	mode       Mode
	backlogged bool // queued events wait for room in the owner channel
	finalSent  bool // the final event reached the owner
	noRetry    bool // Close was called: no more reconnections
	recvBusy   bool // Recv returned a message and has not been called again since

	sess *session // the current session (a new one per reconnection)
	// set when a session's upgrade completes: the 101's header lines ("Name: value\n")
	// except Sec-WebSocket-Accept, shared with other connections that got the same lines
	// (internHeader), and the request's 16-byte nonce, from which that Accept value follows
	respHeader string
	nonce      [16]byte
	localAddr  net.Addr
	remoteAddr net.Addr
	// write side
	out          *bytebufferpool.ByteBuffer // frames waiting for the loop to write them
	outMsgs      int32
	sockBuffered int32 // gnet's outbound bytes at the last flush (the peer is not reading)
	maskState    uint64
	defl         *deflateState // permessage-deflate send side, nil when off (compression.go)
	// delivery side
	owner    chan<- Event
	x        *connExtra // what only some connections need (conn_extra.go)
	lastErr  error      // why the last session ended
	finalErr error      // set when no session will follow
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
	// wss: the TLS connection over the bridge (which also holds the TLS-only state)
	tls    *tls.Conn
	bridge *tlsBridge
	pf     *pendingFail  // a protocol failure held back for the application (session_fail.go)
	infl   *inflateState // permessage-deflate receive side, nil when off (session_inflate.go)
	// why gnet closed the socket from inside our own write (see closeDeferred)
	deferredErr error

	cur        codec.Header
	remaining  int64
	msgLen     int64
	msgBuf     *bytebufferpool.ByteBuffer // a message in pieces: fragments or reads
	ctrlBuf    *bytebufferpool.ByteBuffer // a control frame split across reads
	lastRecv   int64                      // tick of the last bytes received (keepalive)
	pingSentAt int64                      // tick of our unanswered keepalive ping, 0 if none
	timerDue   int64                      // tick of this session's live timer-wheel entry, 0 if none
	closeDue   int64

	hdr           [codec.MaxHeaderSize]byte // a frame header split across reads
	hdrN          uint8
	msgType       codec.Opcode
	checker       codec.FrameChecker
	utf8          codec.UTF8Validator
	fdGone        bool // under c.mu: gnet is closing the socket; nobody may write to fd
	inWrite       bool // loop-owned: inside gnet's Write, holding c.mu
	closeDeferred bool
	frameOpen     bool
	closeRecvd    bool
	ended         bool
}

// dialState is what a session needs only while it dials and upgrades, dropped once the
// upgrade is decided so that an open connection does not carry it.
type dialState struct {
	parser *codec.ResponseParser
	key    [24]byte                   // the request's Sec-WebSocket-Key
	done   chan error                 // exactly one value, read by the dialing goroutine
	req    *bytebufferpool.ByteBuffer // the upgrade request until gnet has written it
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
