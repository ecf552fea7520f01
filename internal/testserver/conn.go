package testserver

import (
	"github.com/panjf2000/gnet/v2"

	"github.com/wsfleet/wsfleet/codec"
)

// phase is where a connection is in its life, as the server sees it.
type phase uint8

const (
	phaseHandshake phase = iota // reading the upgrade request
	phaseOpen                   // echoing
	phaseCloseSent              // our close frame is out; waiting for the client's
	phaseDone                   // nothing more is read; the connection is about to close
)

// verdict tells the handler what to do with the connection once replies are flushed.
type verdict uint8

const (
	keep     verdict = iota
	closeTCP         // close (after a close frame or an HTTP error)
	resetTCP         // SO_LINGER 0, then close: the peer sees a reset
	gone             // gnet already closed it (a write failed); touch nothing
)

// wsConn is the server's state for one connection. Only its loop's goroutine touches it.
type wsConn struct {
	c    gnet.Conn
	loop *loopState
	srv  *Server

	phase phase
	route route
	req   []byte // upgrade request bytes so far (handshake phase only)

	// Frame parser: a header split across reads waits in hdr.
	hdr       [codec.MaxHeaderSize]byte
	hdrN      int
	inFrame   bool
	frame     codec.Header
	remaining int64 // payload bytes of the current frame still to come
	maskPos   int
	hdrOwed   bool  // the echo header of the current data frame is not out yet
	echoing   bool  // part of the current data frame's echo is out
	text      bool  // the current message is text
	msgLen    int64 // payload bytes of the current message so far
	checker   codec.FrameChecker
	utf8      codec.UTF8Validator
	ctrl      [codec.MaxControlPayload]byte
	ctrlN     int

	echoed int64 // data messages echoed (for /reset)

	// Timed work (push, stall flush, close timeout); see loop.go.
	timedIdx int
	wakeAt   int64
	push     *pushState
	held     []byte  // replies held back during a stall
	after    verdict // what to do once held replies are out
	deadline int64   // close timeout, 0 for none

	closed bool // OnClose has run
}

// closeTimeout bounds the wait for the client's answer to our close frame.
const closeTimeout = 5e9 // ns

func newConn(c gnet.Conn, l *loopState) *wsConn {
	return &wsConn{c: c, loop: l, srv: l.srv, timedIdx: -1}
}

// traffic handles bytes from the client; p may be modified (unmasked in place).
func (wc *wsConn) traffic(p []byte) verdict {
	b := wc.loop.out
	v := keep
	if wc.phase == phaseHandshake {
		p, v = wc.handshake(p, b)
	}
	if v == keep && wc.phase != phaseDone && len(p) > 0 {
		v = wc.feed(p, b)
	}
	if v == gone || !wc.flush(b) {
		return gone
	}
	if v != keep && len(wc.held) > 0 {
		// Replies are held by a stall: the close (or reset) waits behind them.
		wc.after = v
		wc.phase = phaseDone
		return keep
	}
	if v == keep && wc.c.OutboundBuffered() > wc.srv.outboundLimit {
		// The client does not read: drop it rather than buffer without bound.
		return closeTCP
	}
	return v
}

// flush writes (or, during a stall, holds) everything queued on b.
// It returns false if the connection was closed by a failed write.
func (wc *wsConn) flush(b *batch) bool {
	if b.empty() {
		return !wc.closed
	}
	if wc.route.kind == routeStall {
		if now := wc.srv.now(); stalled(wc.route, now) {
			for _, s := range b.segments() {
				wc.held = append(wc.held, s...)
			}
			b.reset()
			if len(wc.held) > wc.srv.outboundLimit {
				wc.held = nil // a client that floods through a stall is dropped, not buffered
				_ = wc.loop.el.Close(wc.c)
				return false
			}
			wc.loop.arm(wc, stallEnd(wc.route, now))
			return true
		}
		if len(wc.held) > 0 && !wc.flushHeld() {
			b.reset()
			return false
		}
	}
	return wc.write(b)
}

// write sends what b holds, whatever the stall schedule says.
func (wc *wsConn) write(b *batch) bool {
	switch segs := b.segments(); len(segs) {
	case 0:
	case 1:
		_, _ = wc.c.Write(segs[0])
	default:
		_, _ = wc.c.Writev(segs)
	}
	b.reset()
	return !wc.closed
}

// handshake reads the upgrade request; it returns the bytes after it (frames).
func (wc *wsConn) handshake(p []byte, b *batch) ([]byte, verdict) {
	searchFrom := max(len(wc.req)-3, 0)
	wc.req = append(wc.req, p...)
	end := findHeadEnd(wc.req[searchFrom:])
	if end >= 0 {
		end += searchFrom
	}
	if (end < 0 && len(wc.req) > maxRequestBytes) || end > maxRequestBytes {
		return nil, wc.refuse(b, &httpError{status: 431, text: "Request Header Fields Too Large",
			body: "request head over 8 KiB\n"})
	}
	if end < 0 {
		return nil, keep
	}
	head, rest := wc.req[:end], wc.req[end:]
	wc.req = nil
	req, herr := parseUpgrade(head, knownPath, wc.srv.opts.Subprotocols)
	if herr != nil {
		return nil, wc.refuse(b, herr)
	}
	rt, herr := parseRoute(req.path, req.query, wc.srv.opts.MaxMessageSize)
	if herr != nil {
		return nil, wc.refuse(b, herr)
	}
	wc.route = rt
	wc.phase = phaseOpen
	wc.loop.ctr.upgraded.Add(1)
	b.arena = appendSwitching(b.arena, req.key, req.subprotocol)
	if !wc.write(b) { // never held by a stall: the client is waiting to dial
		return nil, gone
	}

	switch rt.kind {
	case routePush:
		wc.push = newPushState(wc.srv, rt, wc.srv.now())
		wc.loop.arm(wc, wc.push.next)
	case routeClose:
		wc.appendFrame(b, codec.OpClose, rt.closePayload)
		wc.sentClose()
	case routeReset:
		if rt.resetAfter == 0 {
			wc.phase = phaseDone
			return nil, resetTCP
		}
	}
	return rest, keep
}

// refuse queues an HTTP error response; the connection closes after it.
func (wc *wsConn) refuse(b *batch, e *httpError) verdict {
	wc.loop.ctr.rejected.Add(1)
	wc.req = nil
	wc.phase = phaseDone
	b.arena = appendHTTPError(b.arena, e)
	return closeTCP
}

// sentClose records that our close frame is queued: wait for the client's, not forever.
func (wc *wsConn) sentClose() {
	wc.phase = phaseCloseSent
	wc.deadline = wc.srv.now() + closeTimeout
	wc.loop.arm(wc, wc.deadline)
}

// appendFrame queues a whole unmasked frame with a small payload.
func (wc *wsConn) appendFrame(b *batch, op codec.Opcode, payload []byte) {
	b.arena = codec.AppendHeader(b.arena, codec.Header{Fin: true, Opcode: op, Length: int64(len(payload))})
	b.arena = append(b.arena, payload...)
}

// flushHeld writes the replies held during a stall.
func (wc *wsConn) flushHeld() bool {
	_, _ = wc.c.Write(wc.held)
	if cap(wc.held) > keepArena {
		wc.held = nil
	} else {
		wc.held = wc.held[:0]
	}
	return !wc.closed
}
