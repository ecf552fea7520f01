package engine

import (
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/pool"
)

// deliver hands a complete message, or a ping or pong, to the connection's Handler: the
// user's, or the mailbox (mailbox.go), which keeps buf, when set, instead of a copy. buf
// holds data; a user's Handler only borrows data, so buf then goes back to the pool.
func (s *session) deliver(typ codec.Opcode, data []byte, buf *bytebufferpool.ByteBuffer) (gnet.Action, bool) {
	c := s.c
	mt := MessageType(typ)
	if typ == codec.OpText || typ == codec.OpBinary {
		s.l.stats.msgsIn.Add(1)
		s.l.stats.bytesIn.Add(int64(len(data)))
	}
	if b := c.box; b != nil {
		if b.keep(c, mt, data, buf) {
			return gnet.None, false
		}
		c.eng.stats.slowConsumers.Add(1)
		s.forceClose(codec.ClosePolicyViolation, ErrSlowConsumer)
		return gnet.Close, true
	}
	switch typ {
	case codec.OpPing:
		if ph, ok := c.handler.(PingHandler); ok {
			ph.OnPing(c, data)
		}
	case codec.OpPong:
		if ph, ok := c.handler.(PongHandler); ok {
			ph.OnPong(c, data)
		}
	default:
		c.handler.OnMessage(c, mt, data)
	}
	if buf != nil {
		pool.Put(buf)
	}
	return gnet.None, false
}
