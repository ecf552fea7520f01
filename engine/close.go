package engine

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine/internal/transport"
	"github.com/wsfleet/wsfleet/pool"
)

// The close handshake and the end of a session, in one place. Where the handshake stands is
// c.close (under c.mu); the socket's end is the session's:
//
//   - closeOpen: nothing sent; frames may go out.
//   - closeArming: our close frame is queued or written (startClose); nothing may follow it.
//     Once it is written the loop arms the close timer (writeLocked, or TimersAsked for a
//     frame a caller wrote itself): s.closeDue is the tick by which the server must answer
//     (CloseTimeout), and the state is closeSent.
//   - closeSent: our close frame is out, or we echoed the server's (closeFrame), or a
//     violation's close was queued (forceClose). Both frames exchanged, the loop closes TCP
//     (RFC 6455 §7.1.1 lets the client do so at once).
//   - the socket gone (onClose, finishClose): s.end.Gone(), then s.ended; c.lastErr says why.
//     Either a reconnection follows (reconnect.go, which starts again at closeOpen) or
//     c.finalErr is set for good (endLocked).
//
// CloseNow skips the handshake and closes TCP.

// closeState is where a connection's close handshake stands (under c.mu).
type closeState uint8

const (
	closeOpen   closeState = iota // nothing sent
	closeArming                   // our close frame queued or written; the close timer not armed yet
	closeSent                     // our close frame out (timer armed), or a close answered or forced
)

// Close closes the connection with CloseNormal and waits for the close handshake (bounded
// by CloseTimeout). Closing a closed connection does nothing. Inside a Handler callback it
// only starts the handshake (see CloseWith).
func (c *Conn) Close() error { return c.CloseWith(CloseNormal, "") }

// CloseWith closes with a code and reason and waits for the close handshake, bounded by
// CloseTimeout. It returns an error only for a code or reason that may not be sent, or when
// the server did not complete the handshake in time.
//
// Inside a Handler callback CloseWith never waits: the server's answer has to be read by the
// very event loop running the callback, so waiting would stall that loop (and every other
// connection on it) until the timeout. There it starts the handshake and returns nil; OnClose
// reports how the connection ended.
func (c *Conn) CloseWith(code CloseCode, reason string) error {
	if !codec.CloseCodeAllowedOnWire(codec.CloseCode(code)) {
		return &wrapped{msg: "websocket: close code " + code.String() + " may not be sent", err: codec.ErrInvalidCloseCode}
	}
	if len(reason) > codec.MaxControlPayload-2 || !codec.ValidUTF8([]byte(reason)) {
		return &wrapped{msg: "websocket: close reason must be UTF-8 of at most 123 bytes", err: codec.ErrInvalidCloseReason}
	}
	c.stopReconnecting()
	c.startClose(codec.CloseCode(code), reason)
	if c.eng.onLoopGoroutine() {
		return nil
	}
	if !c.waitDone(c.opts.CloseTimeout + time.Second) {
		return timeoutf("close: the connection did not end within %v", c.opts.CloseTimeout)
	}
	err := c.Err()
	if isTimeout(err) {
		return err
	}
	return nil
}

// CloseNow ends the connection at once: the TCP connection is closed without the close
// handshake, as gorilla's and gobwas's Close do. The server sees the connection drop. CloseNow does not wait; the end reaches the Handler, Recv or the owner
// with ErrClosed, and no reconnection follows. During the dial it ends the dial once the
// socket has reached its loop. Closing a closed connection does nothing.
func (c *Conn) CloseNow() {
	c.stopReconnecting()
	c.mu.Lock()
	var gc gnet.Conn
	if c.State() != StateClosed {
		gc = c.socketLocked()
		if c.sess != nil && c.lastErr == nil {
			c.lastErr = ErrClosed
		}
	}
	c.mu.Unlock()
	if gc != nil {
		_ = gc.Close()
	}
}

// socketLocked is the current session's gnet connection, nil before it reached a loop.
func (c *Conn) socketLocked() gnet.Conn {
	if c.sess == nil {
		return nil
	}
	return c.sess.gc
}

// startClose queues our close frame (once) and arms the close timer.
func (c *Conn) startClose(code codec.CloseCode, reason string) {
	c.mu.Lock()
	st := c.State()
	if c.close != closeOpen || st == StateClosed || st == StateIdle {
		c.mu.Unlock()
		return
	}
	if st == StateConnecting || st == StateUpgrading {
		gc := c.socketLocked()
		c.mu.Unlock()
		if gc != nil {
			_ = gc.Close()
		}
		return
	}
	c.close = closeArming
	var p [codec.MaxControlPayload]byte
	payload, _ := codec.AppendClosePayload(p[:0], code, reason)
	if st == StateOpen {
		c.setStateLocked(StateClosing)
	}
	s := c.sess
	var wake bool
	if c.canWriteDirectLocked(s) {
		// Like Send: written from here, and the loop only arms the close timer (askTimers),
		// which it does after its next read or, if it stays idle, on the next tick.
		wake = c.writeDirectLocked(s, codec.OpClose, payload)
		s.l.AskTimers(s)
	} else {
		c.appendFrameLocked(codec.OpClose, payload)
		wake = c.markDirtyLocked()
	}
	c.mu.Unlock()
	if wake {
		s.l.ScheduleFlush(s)
	}
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceFrameSent, Opcode: MessageType(codec.OpClose), Fin: true, Length: len(payload)})
	}
}

// takeCloseTimerLocked starts the close timer for a close frame a caller wrote directly
// (startClose). Runs on the loop, holding c.mu.
func (s *session) takeCloseTimerLocked() {
	if c := s.c; c.close == closeArming && c.out == nil && c.sess == s {
		c.close = closeSent
		s.startCloseTimer()
	}
}

// startCloseTimer sets the tick by which the server must answer our close frame.
func (s *session) startCloseTimer() {
	s.closeDue = s.c.eng.tickAt(time.Now().Add(s.c.opts.CloseTimeout))
}

// onTimersAsked runs on the loop for a session that asked it to recompute its timers
// (askTimers): a close frame written from the caller's goroutine starts the close timer here.
func (s *session) TimersAsked() {
	s.c.mu.Lock()
	s.takeCloseTimerLocked()
	s.c.mu.Unlock()
	s.rearm()
}

// closeFrame ends the session on the server's close frame: echoed if we had not sent ours,
// and the close handshake complete if we had.
func (s *session) closeFrame(payload []byte) gnet.Action {
	code, reason, err := codec.ParseClosePayload(payload)
	if err != nil {
		return s.fail(err)
	}
	c := s.c
	c.mu.Lock()
	remote := c.close == closeOpen
	if remote {
		c.close = closeSent
		var p [2]byte
		echo := p[:0]
		if code != codec.CloseNoStatus {
			echo, _ = codec.AppendClosePayload(p[:0], code, "")
		}
		c.queueControlLocked(codec.OpClose, echo)
	}
	if c.lastErr == nil {
		c.lastErr = &CloseError{Code: CloseCode(code), Reason: string(reason), Remote: remote}
	}
	if c.State() == StateOpen {
		c.setStateLocked(StateClosing)
	}
	c.mu.Unlock()
	// Both close frames are exchanged: RFC 6455 §7.1.1 lets the client close TCP now.
	return gnet.Close
}

// forceClose records why the session is being dropped and queues a close frame with code
// (unless one was sent already); the caller then closes TCP.
func (s *session) forceClose(code codec.CloseCode, err error) {
	c := s.c
	c.mu.Lock()
	if c.lastErr == nil {
		c.lastErr = err
	}
	if c.close == closeOpen && c.State() != StateUpgrading {
		c.close = closeSent
		var p [codec.MaxControlPayload]byte
		payload, _ := codec.AppendClosePayload(p[:0], code, "")
		c.queueControlLocked(codec.OpClose, payload)
	}
	c.mu.Unlock()
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceForcedClose, Err: err})
	}
}

// onClose ends the session once gnet has dropped the socket, for whatever reason, and tells
// the application: the dialer, the Handler, Recv or the owner.
func (s *session) onClose(netErr error) {
	if !s.end.CloseArrived(netErr) {
		// gnet closes from inside our own write, with c.mu held: the descriptor is marked
		// gone now and the writer finishes once the lock is free (afterWrite).
		return
	}
	netErr = s.pendingSocketError(netErr)
	s.c.mu.Lock()
	s.end.MarkGone() // gnet closes the descriptor when OnClose returns
	s.c.mu.Unlock()
	s.finishClose(netErr)
}

// pendingSocketError is the socket's own error behind gnet's io.EOF, if it has one
// (transport.PendingError); the descriptor is still open during OnClose.
func (s *session) pendingSocketError(netErr error) error {
	if s.gc == nil {
		return netErr
	}
	return transport.PendingError(s.fd, netErr)
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
	if s.bridge != nil {
		s.bridge.Release()
	}
	c.outMsgs, c.sockBuffered, c.flushQueued = 0, 0, false
	c.wakeRoomLocked()
	dialing := s.dialing()
	c.lastErr = cause
	retry := !dialing && c.shouldRetryLocked(cause)
	c.setStateLocked(StateClosed) // before endLocked wakes Close and Recv, so they see it
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
	c.handler.OnClose(c, cause)
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
	if c.box != nil {
		c.box.endedLocked(c)
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

// dropSocket has gnet close the session's socket from its queue rather than at once: timers
// may fire inside another connection's OnTraffic (afterTraffic), or this one's, and gnet's
// read path still touches a connection after its OnTraffic returns, so closing it there
// would pull the descriptor out from under gnet.
func (s *session) dropSocket() { _ = s.gc.Close() }
