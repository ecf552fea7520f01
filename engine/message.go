package engine

import (
	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/pool"
)

// MessageType is the kind of a message: Text and Binary for data, Ping and Pong when
// DialOptions.DeliverControl asks for control frames too.
type MessageType = codec.Opcode

const (
	Text   = codec.OpText
	Binary = codec.OpBinary
	Ping   = codec.OpPing
	Pong   = codec.OpPong
)

// Message is one received message. Data lives in a pooled buffer: call Release when done with
// it, after which Data must not be used.
type Message struct {
	Type MessageType
	Data []byte
	buf  *bytebufferpool.ByteBuffer
}

// Release returns the message's buffer to the pool. Calling it twice, or on a zero Message, is harmless.
func (m *Message) Release() {
	if m.buf != nil {
		pool.Put(m.buf)
		m.buf = nil
	}
	m.Data = nil
}

// Event is what an owner channel receives in Active and Once modes, after hackney's
// {hackney_ws, C, Frame} messages: a message, a reconnection, or the error that ended the
// connection (after which no more events come for it).
type Event struct {
	Conn    *Conn
	Message Message
	// Err is set on the last event of a connection: a *CloseError, ErrAbnormalClose, a
	// *ProtocolError, ErrTimeout, ErrSlowConsumer...
	Err error
	// Reconnecting is set, with Err, when a connection under a Reconnect policy dropped and is
	// being redialed: more events follow.
	Reconnecting bool
	// Reconnected is set on the event announcing that such a connection came back (no
	// message, no error).
	Reconnected bool
}

// Handler receives a connection's events on its event-loop goroutine (WebSockex's callbacks).
// The data slices are borrowed from the loop's read buffer and valid only until the callback
// returns: copy what you keep. Callbacks must not block; c.Send from a callback never blocks.
type Handler interface {
	// OnOpen runs once the upgrade succeeded (and again after each reconnection).
	OnOpen(c *Conn)
	// OnMessage runs for each complete text or binary message.
	OnMessage(c *Conn, typ MessageType, data []byte)
	// OnClose runs once when the connection ends, with the reason (a *CloseError for a close
	// handshake). Under a Reconnect policy it may be followed by OnOpen again.
	OnClose(c *Conn, err error)
}

// PingHandler is an optional Handler extension: OnPing runs for each ping (already answered).
type PingHandler interface {
	OnPing(c *Conn, data []byte)
}

// PongHandler is an optional Handler extension: OnPong runs for each pong.
type PongHandler interface {
	OnPong(c *Conn, data []byte)
}
