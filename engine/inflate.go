package engine

import (
	"errors"
	"fmt"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/pool"
)

// inflateState is a session's receive side of a negotiated permessage-deflate; the loop
// owns it.
type inflateState struct {
	f    codec.Inflater
	msg  bool // the data message being received is compressed (RSV1 on its first frame)
	grow bufGrower
}

// allowedRSV is what the frame checker lets through: RSV1 once permessage-deflate is on.
func (s *session) allowedRSV() byte {
	if s.infl != nil {
		return codec.RSV1
	}
	return 0
}

// noteRSV records, on the first frame of a data message, whether the message is
// compressed: RSV1 there marks the whole message (continuations carry none).
func (s *session) noteRSV(h codec.Header) {
	if s.infl != nil && h.Opcode != codec.OpContinuation && !h.Opcode.IsControl() {
		s.infl.msg = h.Rsv&codec.RSV1 != 0
	}
}

// maxWireLen bounds the length a server may announce for the current message: MaxMessageSize,
// and for a compressed message a little more, what DEFLATE adds to data that does not
// compress (5 bytes per stored block of up to 65,535 bytes, and the end of the message), so
// that a message of MaxMessageSize bytes gets through whatever its content. Inflating stops
// at MaxMessageSize itself.
func (s *session) maxWireLen() int64 {
	m := int64(s.c.opts.MaxMessageSize)
	if s.inflating() {
		m += m/8192 + 64
	}
	return m
}

// inflating reports that the current data message is compressed.
func (s *session) inflating() bool { return s.infl != nil && s.infl.msg }

// inflatePayload takes the next piece of a compressed message: its compressed bytes are
// assembled (unless the whole message came in one frame in one read), then inflated when
// the message ends, checked (UTF-8 for text) and delivered.
func (s *session) inflatePayload(chunk []byte, whole, frameDone bool) (gnet.Action, bool) {
	messageDone := frameDone && s.cur.Fin
	if whole && messageDone && s.msgBuf == nil {
		return s.inflateDeliver(chunk) // straight from gnet's read buffer
	}
	s.assemble(chunk)
	if !messageDone {
		return gnet.None, false
	}
	b := s.msgBuf
	s.msgBuf = nil
	act, stop := s.inflateDeliver(b.B)
	pool.Put(b)
	return act, stop
}

// inflateDeliver inflates one whole compressed message into a pooled buffer, at most
// MaxMessageSize bytes of it, and delivers it.
func (s *session) inflateDeliver(z []byte) (gnet.Action, bool) {
	in := s.infl
	in.msg = false
	limit := s.c.opts.MaxMessageSize
	in.grow.b = pool.Get(min(limit, max(4*len(z), 512)))
	out, err := in.f.Inflate(in.grow.b.B[:0], z, limit, &in.grow)
	b := in.grow.b
	in.grow.b = nil
	b.B = out
	if err != nil {
		pool.Put(b)
		if errors.Is(err, codec.ErrMessageTooBig) {
			err = &wrapped{
				msg: fmt.Sprintf("websocket: compressed message of %d bytes inflates past MaxMessageSize %d (close 1009)", len(z), limit),
				err: codec.ErrMessageTooBig,
			}
		}
		return s.fail(err), true
	}
	if s.msgType == codec.OpText && !codec.ValidUTF8(b.B) {
		pool.Put(b)
		return s.fail(codec.ErrInvalidUTF8), true
	}
	return s.deliver(s.msgType, b.B, b)
}
