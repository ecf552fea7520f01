package engine

import (
	"fmt"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/pool"
)

// The receive path: the bytes gnet read are parsed into frames in place, checked against
// RFC 6455, assembled into messages and delivered (deliver.go); control frames are
// answered from the loop.

// onTraffic consumes everything gnet read for this session: the upgrade response, then frames.
// Nothing is left in gnet's inbound buffer; a partial header or payload is kept by the session,
// so an idle connection holds no read buffer. Frames queued meanwhile (pongs, replies sent from
// Handler callbacks) go out in one write when it returns.
func (s *session) onTraffic(gc gnet.Conn) gnet.Action {
	buf, _ := gc.Next(-1)
	if s.ended || s.pf != nil {
		return gnet.None // after a violation nothing more is read (see deferFail)
	}
	c := s.c
	s.lastRecv = c.eng.now()
	s.pingSentAt = 0
	c.mu.Lock()
	c.inLoop = true
	c.mu.Unlock()

	var act gnet.Action
	if s.tls != nil {
		act = s.consumeTLS(buf)
	} else {
		act = s.consume(buf)
	}

	c.mu.Lock()
	c.inLoop = false
	s.writeLocked()
	c.mu.Unlock()
	s.afterWrite()
	if act == gnet.Close {
		s.closeNotify()
	}
	return act
}

// consume takes plaintext from the server: the upgrade response, then frames.
func (s *session) consume(buf []byte) gnet.Action {
	switch s.c.State() {
	case StateUpgrading:
		return s.readUpgrade(buf)
	case StateOpen, StateClosing:
		return s.readFrames(buf)
	}
	return gnet.None
}

func (s *session) readFrames(buf []byte) gnet.Action {
	for len(buf) > 0 {
		if !s.frameOpen {
			var (
				h    codec.Header
				used int
				ok   bool
				err  error
			)
			h, used, ok, err = s.parseHeader(buf)
			if err != nil {
				return s.fail(err)
			}
			if !ok {
				return gnet.None // the rest of the header is still on its way
			}
			buf = buf[used:]
			if act, stop := s.beginFrame(h); stop {
				return act
			}
			if !s.frameOpen {
				continue // an empty frame, already handled
			}
		}
		take := s.remaining
		if int64(len(buf)) < take {
			take = int64(len(buf))
		}
		if act, stop := s.payload(buf[:take]); stop {
			return act
		}
		buf = buf[take:]
	}
	return gnet.None
}

// parseHeader parses the next frame header, completing one that an earlier read split.
// ok is false when more bytes are needed (they were kept); used is what buf gave.
func (s *session) parseHeader(buf []byte) (h codec.Header, used int, ok bool, err error) {
	if s.hdrN == 0 {
		h, n, err := codec.ParseHeader(buf)
		if err != nil {
			return h, 0, false, err
		}
		if n > len(buf) {
			s.hdrN = uint8(copy(s.hdr[:], buf))
			return h, len(buf), false, nil
		}
		return h, n, true, nil
	}
	have := int(s.hdrN)
	k := copy(s.hdr[have:], buf)
	h, n, err := codec.ParseHeader(s.hdr[:have+k])
	if err != nil {
		return h, 0, false, err
	}
	if n > have+k {
		s.hdrN = uint8(have + k)
		return h, k, false, nil
	}
	used = n - have
	s.hdrN = 0
	return h, used, true, nil
}

// beginFrame applies the protocol rules to a new frame header. stop reports that the
// connection failed (act says how) or a zero-length frame already ended the session.
func (s *session) beginFrame(h codec.Header) (act gnet.Action, stop bool) {
	if err := s.checker.Check(h, s.allowedRSV()); err != nil {
		return s.fail(err), true
	}
	s.noteRSV(h)
	if !h.Opcode.IsControl() {
		if h.Opcode != codec.OpContinuation {
			s.msgType = h.Opcode
			s.msgLen = 0
			s.utf8.Reset()
		}
		// Checked on the announced length, before a byte of it is stored: a frame claiming a
		// gigabyte costs nothing.
		if s.msgLen+h.Length > s.maxWireLen() {
			return s.fail(&wrapped{
				msg: fmt.Sprintf("websocket: server announced a %d-byte frame (message so far %d bytes); MaxMessageSize is %d (close 1009)",
					h.Length, s.msgLen, s.c.opts.MaxMessageSize),
				err: codec.ErrMessageTooBig,
			}), true
		}
		s.msgLen += h.Length
	}
	s.cur = h
	s.remaining = h.Length
	s.frameOpen = true
	if c := s.c; c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceFrameRecv, Opcode: MessageType(h.Opcode), Fin: h.Fin, Length: int(h.Length)})
	}
	if h.Length == 0 {
		return s.payload(nil)
	}
	return gnet.None, false
}

// payload takes the next piece of the current frame's payload.
func (s *session) payload(chunk []byte) (gnet.Action, bool) {
	whole := s.remaining == s.cur.Length && int64(len(chunk)) == s.remaining
	s.remaining -= int64(len(chunk))
	frameDone := s.remaining == 0
	if frameDone {
		s.frameOpen = false
	}
	if s.cur.Opcode.IsControl() {
		if whole {
			return s.control(s.cur.Opcode, chunk) // zero-copy: the whole frame is in this read
		}
		if s.ctrlBuf == nil {
			s.ctrlBuf = pool.Get(codec.MaxControlPayload)
		}
		s.ctrlBuf.B = append(s.ctrlBuf.B, chunk...)
		if !frameDone {
			return gnet.None, false
		}
		b := s.ctrlBuf
		s.ctrlBuf = nil
		act, stop := s.control(s.cur.Opcode, b.B)
		pool.Put(b)
		return act, stop
	}

	if s.inflating() {
		return s.inflatePayload(chunk, whole, frameDone)
	}
	if s.msgType == codec.OpText && s.utf8.Write(chunk) >= 0 {
		return s.fail(codec.ErrInvalidUTF8), true // fail fast, before the message ends
	}
	messageDone := frameDone && s.cur.Fin
	if messageDone && s.msgType == codec.OpText && !s.utf8.Done() {
		return s.fail(codec.ErrInvalidUTF8), true
	}
	if whole && messageDone && s.msgBuf == nil {
		return s.deliver(s.msgType, chunk, nil) // zero-copy: a one-frame message in one read
	}
	s.assemble(chunk)
	if !messageDone {
		return gnet.None, false
	}
	b := s.msgBuf
	s.msgBuf = nil
	return s.deliver(s.msgType, b.B, b)
}

// assemble appends a piece of the current message to its reassembly buffer.
func (s *session) assemble(chunk []byte) {
	if s.msgBuf == nil {
		s.msgBuf = pool.Get(firstChunkHint(s.cur.Length))
	}
	if cap(s.msgBuf.B)-len(s.msgBuf.B) < len(chunk) {
		s.msgBuf = pool.Grow(s.msgBuf, len(chunk))
	}
	s.msgBuf.B = append(s.msgBuf.B, chunk...)
}

// firstChunkHint sizes a reassembly buffer: the announced length when modest, never a
// server-announced gigabyte up front.
func firstChunkHint(announced int64) int {
	const most = 64 << 10
	if announced > most {
		return most
	}
	return int(announced)
}

// control handles a complete control frame.
func (s *session) control(op codec.Opcode, payload []byte) (gnet.Action, bool) {
	c := s.c
	switch op {
	case codec.OpPing:
		c.mu.Lock()
		// A peer that floods pings without reading our pongs would grow the outbound queue
		// forever; RFC 6455 §5.5.3 lets us answer only the latest ping, so past the pending
		// cap the older ones go unanswered.
		if c.close == closeOpen && c.pendingLocked() < c.opts.MaxPendingBytes {
			c.queueControlLocked(codec.OpPong, payload)
		}
		c.mu.Unlock()
		s.l.stats.pings.Add(1)
		if c.opts.Trace != nil {
			c.trace(TraceEvent{Kind: TracePingAnswered, Opcode: MessageType(op), Length: len(payload)})
		}
		return s.deliver(op, payload, nil)
	case codec.OpPong:
		return s.deliver(op, payload, nil)
	case codec.OpClose:
		return s.closeFrame(payload), true
	}
	return gnet.None, false
}
