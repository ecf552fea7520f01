package engine

import (
	"context"
	"fmt"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine/internal/transport"
	"github.com/wsfleet/wsfleet/pool"
)

// The send path: Send and its variants frame and mask a message into the connection's
// pending buffer under c.mu, and either write it straight to the socket from the caller's
// goroutine (nothing queued before it) or leave it for the loop's flush.

// Send sends one text or binary message. It is safe from many goroutines. The payload is
// masked while it is copied into the connection's pending buffer, so data may be reused as
// soon as Send returns.
//
// Send waits while the message does not fit under MaxPendingBytes of bytes waiting to be
// written, until there is room or the connection ends, with one exception: inside a Handler
// callback (of any connection: on an event loop's goroutine) Send never waits, since room
// comes from the loops; there it fails with ErrBackedUp once twice MaxPendingBytes would be
// waiting. A message is always accepted when nothing is pending. A type other than Text or
// Binary fails with ErrMessageType.
func (c *Conn) Send(typ MessageType, data []byte) error {
	if err := checkDataType(typ); err != nil {
		return err
	}
	return c.send(nil, typ.opcode(), data, sendWait)
}

// SendContext is Send whose wait for room ends with ctx.
func (c *Conn) SendContext(ctx context.Context, typ MessageType, data []byte) error {
	if err := checkDataType(typ); err != nil {
		return err
	}
	return c.send(ctx, typ.opcode(), data, sendWait)
}

// TrySend is Send that never waits: it fails with ErrBackedUp when the message does not fit
// under MaxPendingBytes of bytes waiting to be written.
func (c *Conn) TrySend(typ MessageType, data []byte) error {
	if err := checkDataType(typ); err != nil {
		return err
	}
	return c.send(nil, typ.opcode(), data, sendTry)
}

// Ping sends a ping with up to 125 bytes of payload.
func (c *Conn) Ping(data []byte) error { return c.sendControl(codec.OpPing, data) }

// Pong sends an unsolicited pong (pings are answered by the engine without it).
func (c *Conn) Pong(data []byte) error { return c.sendControl(codec.OpPong, data) }

func (c *Conn) sendControl(op codec.Opcode, data []byte) error {
	if len(data) > codec.MaxControlPayload {
		return errControlTooLong
	}
	return c.send(nil, op, data, sendTry)
}

// How a send treats a full pending buffer.
type sendKind uint8

const (
	sendWait sendKind = iota // Send, SendContext: wait for room, except inside a callback
	sendTry                  // TrySend, Ping, Pong: fail with ErrBackedUp
)

var (
	errControlTooLong = &wrapped{msg: "websocket: control frame payload over 125 bytes", err: codec.ErrControlTooLong}
	errControlType    = &wrapped{msg: "websocket: Send takes Text or Binary; pings and pongs go with Conn.Ping and Conn.Pong", err: ErrMessageType}
)

// checkDataType says why typ may not go through Send.
func checkDataType(typ MessageType) error {
	switch typ {
	case Text, Binary:
		return nil
	case Ping, Pong, MessageType(codec.OpClose):
		return errControlType
	}
	return &wrapped{msg: fmt.Sprintf("websocket: Send takes Text or Binary, not message type %d", typ), err: ErrMessageType}
}

func (c *Conn) send(ctx context.Context, op codec.Opcode, data []byte, kind sendKind) error {
	op, plain := splitOpcode(op)
	frameLen := codec.HeaderSize(int64(len(data)), true) + len(data)
	limit := c.opts.MaxPendingBytes
	c.mu.Lock()
	wait, onLoop := kind == sendWait, false
	for {
		if err := c.sendableLocked(); err != nil {
			c.mu.Unlock()
			return err
		}
		pending := c.pendingLocked()
		if pending == 0 || pending+frameLen <= limit {
			break
		}
		if wait && !onLoop && c.eng.onLoopGoroutine() {
			// A callback cannot wait for the loops: it gets slack instead, so that its
			// replies still fit when waiting senders have filled MaxPendingBytes.
			onLoop, wait, limit = true, false, 2*limit
			continue
		}
		if !wait {
			c.mu.Unlock()
			return ErrBackedUp
		}
		room := c.roomChanLocked()
		c.mu.Unlock()
		var done <-chan struct{}
		if ctx != nil {
			done = ctx.Done()
		}
		select {
		case <-room:
		case <-done:
			return ctx.Err()
		}
		c.mu.Lock()
	}
	s := c.sess
	data, zbuf := c.deflateLocked(op, data, plain)
	var wake bool
	if c.canWriteDirectLocked(s) {
		wake = c.writeDirectLocked(s, op, data)
	} else {
		c.appendFrameLocked(op, data)
		wake = c.markDirtyLocked()
	}
	putDeflated(zbuf)
	c.mu.Unlock()
	if wake {
		s.l.ScheduleFlush(s)
	}
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceFrameSent, Opcode: MessageType(op), Fin: true, Length: len(data)})
	}
	return nil
}

// sendableLocked says why nothing more may be sent, if so.
func (c *Conn) sendableLocked() error {
	if c.close != closeOpen || c.State() != StateOpen {
		if c.finalErr != nil {
			return c.finalErr
		}
		return ErrClosed
	}
	return nil
}

func (c *Conn) pendingLocked() int {
	n := int(c.sockBuffered)
	if c.out != nil {
		n += len(c.out.B)
	}
	return n
}

// appendFrameLocked masks data into the pending buffer behind a fresh header: the single pass
// over the payload that the send path makes.
func (c *Conn) appendFrameLocked(op codec.Opcode, data []byte) {
	h := codec.Header{Fin: true, Opcode: op, Masked: true, Length: int64(len(data))}
	h.Mask = nextMaskKey(&c.maskState)
	h.Rsv = c.takeRSVLocked()
	size := codec.HeaderSize(h.Length, true) + len(data)
	if c.out == nil {
		c.out = pool.Get(size)
	} else if cap(c.out.B)-len(c.out.B) < size {
		c.out = pool.Grow(c.out, size)
	}
	b := c.out.B
	start := len(b)
	b = b[:start+size]
	n := codec.PutHeader(b[start:], h)
	codec.MaskCopy(b[start+n:], data, h.Mask, 0)
	c.out.B = b
	c.outMsgs++
}

// markDirtyLocked notes that c has frames to write and says whether the caller must queue it
// on the loop (not when it is queued already, or when the loop is inside c's callbacks and
// flushes when they return).
func (c *Conn) markDirtyLocked() bool {
	if c.flushQueued || c.inLoop {
		return false
	}
	c.flushQueued = true
	return true
}

func (c *Conn) roomChanLocked() chan struct{} {
	w := c.extraLocked()
	if w.roomWait == nil {
		w.roomWait = make(chan struct{})
		// gnet tells nobody when its outbound buffer drains, so the loop polls it on ticks.
		c.sess.l.AddBacklog(c.sess)
	}
	return w.roomWait
}

// pollRoomLocked re-reads gnet's outbound buffer for senders waiting for room (gnet tells
// nobody when it drains) and wakes them when there is some, or when the socket is gone. It
// reports whether they still wait.
func (s *session) pollRoomLocked() bool {
	c := s.c
	if !c.roomWaitedLocked() {
		return false
	}
	if !s.end.Gone() {
		c.sockBuffered = clampInt32(s.gc.OutboundBuffered())
	}
	if c.pendingLocked() < c.opts.MaxPendingBytes || s.end.Gone() {
		c.wakeRoomLocked()
		return false
	}
	return true
}

// wakeRoomLocked releases senders waiting for room.
func (c *Conn) wakeRoomLocked() {
	if c.roomWaitedLocked() {
		close(c.x.roomWait)
		c.x.roomWait = nil
	}
}

// canWriteDirectLocked says whether a frame may go straight to the socket from the calling
// goroutine: nothing is queued before it and the loop is not inside this connection.
func (c *Conn) canWriteDirectLocked(s *session) bool {
	return c.out == nil && !c.inLoop && !c.flushQueued && c.sockBuffered == 0 && !s.end.Gone() && !s.cipherPending()
}

// writeDirectLocked writes a frame on the calling goroutine when nothing is queued before it:
// no loop wake-up (which would cost gnet an allocation) and no extra copy. Every write to the
// socket, the loop's included, happens under c.mu, so frames never interleave, and gnet closes
// the descriptor only after OnClose, which takes c.mu too. What the socket does not take now
// is left for the loop, which hands it to gnet's outbound buffer; it reports whether the loop
// must be woken for that.
func (c *Conn) writeDirectLocked(s *session, op codec.Opcode, data []byte) bool {
	c.appendFrameLocked(op, data)
	b := c.out
	if s.tls != nil {
		// crypto/tls encrypts and calls the bridge, which writes what the socket takes and
		// keeps the rest of the ciphertext for the loop.
		s.bridge.SetDirect(true)
		_, _ = s.tls.Write(b.B)
		s.bridge.SetDirect(false)
		s.l.stats.msgsOut.Add(1)
		s.l.stats.bytesOut.Add(int64(len(b.B)))
		c.out, c.outMsgs = nil, 0
		pool.Put(b)
		if s.cipherPending() {
			return c.markDirtyLocked()
		}
		return false
	}
	n := transport.WriteNow(s.fd, b.B)
	s.l.stats.msgsOut.Add(1)
	s.l.stats.bytesOut.Add(int64(n))
	if n == len(b.B) {
		c.out, c.outMsgs = nil, 0
		pool.Put(b)
		return false
	}
	b.B = b.B[:copy(b.B, b.B[n:])]
	c.outMsgs = 0 // counted above
	return c.markDirtyLocked()
}

// flush writes the session's pending frames. It runs on the session's loop.
func (s *session) Flush() {
	c := s.c
	c.mu.Lock()
	c.flushQueued = false
	s.writeLocked()
	c.mu.Unlock()
	s.afterWrite()
}

// writeLocked hands the pending frames to gnet, which writes them now or keeps what the
// socket cannot take in its outbound buffer. Runs on the loop, holding c.mu.
func (s *session) writeLocked() {
	c := s.c
	if c.sess != s || s.end.Gone() {
		return
	}
	if s.cipherPending() {
		// Ciphertext a sender's write left behind goes first.
		cb := s.bridge.TakePending()
		s.end.Writing()
		_, _ = s.gc.Write(cb.B)
		s.end.Wrote()
		pool.Put(cb)
		if s.end.Gone() {
			return
		}
	}
	b := c.out
	if b == nil {
		c.sockBuffered = clampInt32(s.gc.OutboundBuffered())
		return
	}
	msgs, armClose := c.outMsgs, c.close == closeArming
	c.out, c.outMsgs = nil, 0
	if armClose {
		c.close = closeSent
	}
	n := len(b.B)
	s.end.Writing()
	if s.tls != nil {
		s.bridge.SetDirect(false)
		_, _ = s.tls.Write(b.B) // encrypted, then through the bridge to gnet
	} else {
		_, _ = s.gc.Write(b.B) // a failed write closes the connection: OnClose is deferred (see onClose)
	}
	s.end.Wrote()
	pool.Put(b)
	if s.end.Gone() {
		return
	}
	s.l.stats.msgsOut.Add(int64(msgs))
	s.l.stats.bytesOut.Add(int64(n))
	c.sockBuffered = clampInt32(s.gc.OutboundBuffered())
	if c.roomWaitedLocked() && int(c.sockBuffered) < c.opts.MaxPendingBytes {
		c.wakeRoomLocked()
	}
	if armClose {
		s.startCloseTimer()
		s.l.Wheel.Arm(s, s.closeDue)
	}
}

// afterWrite completes a close that gnet reported from inside writeLocked, now that c.mu is free.
func (s *session) afterWrite() {
	if err, ok := s.end.TakeDeferred(); ok {
		s.finishClose(err)
	}
}

// queueControlLocked queues a control frame from the loop itself (pong, close reply); the
// loop flushes it when the current callback returns.
func (c *Conn) queueControlLocked(op codec.Opcode, payload []byte) {
	c.appendFrameLocked(op, payload)
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceFrameSent, Opcode: MessageType(op), Fin: true, Length: len(payload)})
	}
}
