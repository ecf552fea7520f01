package engine

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/pool"
)

// onOpen runs on the loop when gnet has taken the socket: the session learns its loop and
// hands gnet the upgrade request to write.
func (s *session) onOpen(gc gnet.Conn) []byte {
	c := s.c
	l := c.eng.loopFor(gc.EventLoop())
	c.mu.Lock() // Close and CloseNow may look at s.gc from other goroutines during the upgrade
	s.gc, s.fd, s.l = gc, gc.Fd(), l
	c.localAddr = gc.LocalAddr()
	c.remoteAddr = gc.RemoteAddr()
	c.mu.Unlock()
	s.lastRecv = c.eng.now()
	// No wheel entry for the upgrade deadline: the dialing goroutine waits with the connect
	// deadline and closes the socket when it passes (connect), so an open connection leaves
	// nothing behind in the wheel.
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceConnect})
	}
	if s.tls != nil {
		return nil // the request went out encrypted during the dial
	}
	return s.dial.req.B
}

// readUpgrade feeds the server's response to the handshake parser until it is complete.
func (s *session) readUpgrade(buf []byte) gnet.Action {
	p := s.dial.parser
	n, done, err := p.Feed(buf)
	if err != nil {
		s.c.eng.stats.handshakeErrors.Add(1)
		s.failDial(s.handshakeError(err))
		return gnet.Close
	}
	if !done {
		return gnet.None
	}
	if p.StatusCode() != 101 {
		s.c.eng.stats.handshakeErrors.Add(1)
		s.failDial(s.handshakeError(nil))
		return gnet.Close
	}
	if err := s.negotiateCompression(); err != nil {
		s.c.eng.stats.handshakeErrors.Add(1)
		s.failDial(s.handshakeError(err))
		return gnet.Close
	}
	c := s.c
	c.mu.Lock()
	var scratch [512]byte
	c.respHeader = c.eng.internHeader(p.AppendHeaderLinesExcept(scratch[:0], "Sec-WebSocket-Accept"))
	_, _ = base64.StdEncoding.Decode(c.nonce[:], s.dial.key[:])
	c.mu.Unlock()
	s.releaseParser()
	dialDone := s.dial.done
	s.dial = nil // the upgrade is done: no deadline, no parser
	c.setState(StateOpen)
	c.eng.stats.upgrades.Add(1)
	s.rearm()
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceUpgraded})
	}
	dialDone <- nil
	if h := c.handler; h != nil {
		h.OnOpen(c)
	}
	if n < len(buf) {
		return s.readFrames(buf[n:]) // frames that came with the 101
	}
	return gnet.None
}

// handshakeError describes a refused or malformed upgrade from what the parser saw.
func (s *session) handshakeError(err error) *HandshakeError {
	p := s.dial.parser
	he := &HandshakeError{StatusCode: p.StatusCode(), Status: p.Status(), err: err}
	if he.StatusCode != 0 {
		he.Header = p.HTTPHeader()
		he.Body = append([]byte(nil), p.Body()...)
	}
	if err != nil && (he.StatusCode == 0 || he.StatusCode == 101) {
		// A refusal by status says all in its status line; other failures need their reason.
		he.Reason = err.Error()
		var ue *codec.UpgradeError
		if errors.As(err, &ue) {
			he.Reason = ue.Reason
		}
	}
	return he
}

func (s *session) failDial(err error) {
	c := s.c
	c.mu.Lock()
	if c.lastErr == nil {
		c.lastErr = err
	}
	c.mu.Unlock()
}

func (s *session) parserStatus() int {
	if s.dial == nil || s.dial.parser == nil {
		return 0
	}
	return s.dial.parser.StatusCode()
}

func (s *session) releaseParser() {
	if s.dial != nil && s.dial.parser != nil {
		parserPool.Put(s.dial.parser)
		s.dial.parser = nil
	}
}

// onClose ends the session once gnet has dropped the socket, for whatever reason, and tells
// the application: the dialer, the Handler, Recv or the owner.
func (s *session) onClose(netErr error) {
	if s.inWrite {
		// gnet closes from inside our own write, with c.mu held: mark the descriptor gone
		// now and finish once the lock is free.
		s.fdGone = true
		s.closeDeferred, s.deferredErr = true, netErr
		return
	}
	netErr = s.pendingSocketError(netErr)
	s.c.mu.Lock()
	s.fdGone = true // gnet closes the descriptor when OnClose returns
	s.c.mu.Unlock()
	s.finishClose(netErr)
}

// pendingSocketError turns gnet's io.EOF into the socket's own error when it has one. gnet
// reports io.EOF for a read of 0 bytes (the server's FIN) but also, without reading, when
// epoll reports an error or hang-up with nothing readable — which is how a reset caught
// halfway through the kernel's processing shows up (the error is set, the receive side not
// yet shut). The descriptor is still open during OnClose, so SO_ERROR tells a reset from a
// FIN; it is zero after a FIN, and after a reset that a read already reported.
func (s *session) pendingSocketError(netErr error) error {
	if !errors.Is(netErr, io.EOF) || s.gc == nil {
		return netErr
	}
	if v, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && v != 0 {
		return os.NewSyscallError("read", syscall.Errno(v))
	}
	return netErr
}

func (s *session) finishClose(netErr error) {
	if s.ended {
		return
	}
	s.ended = true
	s.timerDue = 0
	c := s.c
	where := s.cutWhere() // before the buffers it looks at go back to the pool
	if s.msgBuf != nil {
		pool.Put(s.msgBuf)
		s.msgBuf = nil
	}
	if s.ctrlBuf != nil {
		pool.Put(s.ctrlBuf)
		s.ctrlBuf = nil
	}

	c.mu.Lock()
	cause := c.lastErr
	if st := s.parserStatus(); cause == nil && st != 0 && st != 101 {
		s.dial.parser.Finish() // a refusal without Content-Length ends with the connection
		cause = s.handshakeError(nil)
		c.eng.stats.handshakeErrors.Add(1)
	}
	if cause == nil {
		cause = abnormalClose(netErr, s.dialing(), where)
		c.eng.stats.abnormal.Add(1)
	}
	if c.out != nil {
		pool.Put(c.out)
		c.out = nil
	}
	if b := s.bridge; b != nil && b.cipherOut != nil {
		pool.Put(b.cipherOut)
		b.cipherOut = nil
	}
	c.outMsgs, c.sockBuffered, c.flushQueued = 0, 0, false
	c.wakeRoomLocked()
	dialing := s.dialing()
	c.lastErr = cause
	retry := !dialing && c.shouldRetryLocked(cause)
	if retry && !c.announceDisconnectLocked(cause) {
		retry = false
		c.eng.stats.slowConsumers.Add(1)
		cause = &wrapped{msg: "websocket: slow consumer: inbox full, no room to announce the reconnection (" + cause.Error() + ")", err: multiErr{ErrSlowConsumer, cause}}
		c.lastErr = cause
	}
	c.setState(StateClosed) // before endLocked wakes Close and Recv, so they see it
	if !retry && !dialing {
		c.endLocked(cause)
	}
	c.mu.Unlock()
	s.releaseParser()
	c.eng.stats.closed.Add(1)

	if dialing {
		done := s.dial.done
		s.dial = nil
		done <- cause
		return
	}
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceClosed, Err: cause})
	}
	if h := c.handler; h != nil {
		h.OnClose(c, cause)
	}
	if retry {
		go c.reconnect()
	}
}

// endLocked makes cause the connection's final error and tells whoever waits.
func (c *Conn) endLocked(cause error) {
	if c.finalErr != nil {
		return
	}
	c.finalErr = cause
	if c.x != nil && c.x.done != nil {
		close(c.x.done)
	}
	c.signalRecvLocked()
	if c.ownerWantsLocked() && (c.backlogged || !c.sendFinalLocked()) {
		c.setBacklogLocked()
	}
	go c.eng.unregister(c)
}

// cutWhere says where in the server's stream a connection that ended abnormally was cut:
// inside a frame header, inside a frame's payload, or between the fragments of a message
// (empty at a frame boundary).
func (s *session) cutWhere() string {
	switch {
	case s.hdrN > 0:
		return fmt.Sprintf(" in the middle of a frame header (%d bytes of it read)", s.hdrN)
	case s.frameOpen:
		return fmt.Sprintf(" in the middle of a frame (%d of its %d payload bytes read)", s.cur.Length-s.remaining, s.cur.Length)
	case s.msgBuf != nil:
		return " between the fragments of a message"
	}
	return ""
}

// abnormalClose describes a connection that ended without a close handshake; where says
// where the server's stream was cut (see cutWhere).
func abnormalClose(netErr error, dialing bool, where string) error {
	what := "connection closed without a close frame (1006)" + where
	if dialing {
		what = "connection closed during the upgrade"
	}
	if netErr == nil || errors.Is(netErr, io.EOF) {
		return &wrapped{msg: "websocket: " + what + ": EOF", err: multiErr{ErrAbnormalClose, io.ErrUnexpectedEOF}}
	}
	if errors.Is(netErr, syscall.ECONNRESET) {
		return &wrapped{msg: "websocket: " + what + ": connection reset by peer", err: multiErr{ErrAbnormalClose, netErr}}
	}
	return &wrapped{msg: fmt.Sprintf("websocket: %s: %v", what, netErr), err: multiErr{ErrAbnormalClose, netErr}}
}

// onTimer runs on the loop when the session's earliest deadline comes.
func (s *session) onTimer(now int64) {
	if s.ended {
		return
	}
	c := s.c
	switch {
	case s.closeDue != 0 && now >= s.closeDue:
		c.eng.stats.timeouts.Add(1)
		s.failDial(timeoutf("close timeout: the server did not answer our close frame within %v", c.opts.CloseTimeout))
		s.closeNotify()
		s.dropSocket()
		return
	case s.failDue() != 0 && now >= s.failDue():
		s.completeFail() // the application did not take what came before the violation in time
		return
	}
	if c.opts.PingInterval > 0 && c.State() == StateOpen {
		if s.pingSentAt != 0 && now-s.pingSentAt >= ticksFor(c.opts.PongTimeout) {
			c.eng.stats.timeouts.Add(1)
			s.forceClose(codec.CloseGoingAway, timeoutf("keepalive: no pong or other traffic within %v of our ping", c.opts.PongTimeout))
			s.flushNow()
			s.closeNotify()
			s.dropSocket()
			return
		}
		if s.pingSentAt == 0 && now-s.lastRecv >= ticksFor(c.opts.PingInterval) {
			c.mu.Lock()
			if !c.closeSent {
				c.queueControlLocked(codec.OpPing, nil)
			}
			c.mu.Unlock()
			s.flushNow()
			s.pingSentAt = now
		}
	}
	s.rearm()
}

// flushNow writes what is pending from the loop, outside any callback.
func (s *session) flushNow() {
	c := s.c
	c.mu.Lock()
	s.writeLocked()
	c.mu.Unlock()
	s.afterWrite()
}

// rearm arms the wheel for the session's earliest deadline.
func (s *session) rearm() {
	if s.ended {
		return
	}
	next := int64(0)
	consider := func(t int64) {
		if t != 0 && (next == 0 || t < next) {
			next = t
		}
	}
	consider(s.closeDue)
	consider(s.failDue())
	if o := s.c.opts; o.PingInterval > 0 && s.c.State() == StateOpen {
		if s.pingSentAt != 0 {
			consider(s.pingSentAt + ticksFor(o.PongTimeout))
		} else {
			consider(s.lastRecv + ticksFor(o.PingInterval))
		}
	}
	if next != 0 {
		s.l.wheel.arm(s, next)
	}
}

// dropSocket has gnet close the session's socket from its queue rather than at once: timers
// may fire inside another connection's OnTraffic (afterTraffic), or this one's, and gnet's
// read path still touches a connection after its OnTraffic returns, so closing it there
// would pull the descriptor out from under gnet.
func (s *session) dropSocket() { _ = s.gc.Close() }
