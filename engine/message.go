package engine

import (
	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/pool"
)

// MessageType is the kind of a message: Text and Binary for data, Ping and Pong when
// DialOptions.DeliverControl asks for control frames too. The values are RFC 6455's
// opcodes, so a TraceEvent can name every frame with them (0 for a continuation frame,
// 8 for a close frame).
type MessageType uint8

const (
	Text   MessageType = 1
	Binary MessageType = 2
	Ping   MessageType = 9
	Pong   MessageType = 10
)

func (t MessageType) String() string { return codec.Opcode(t).String() }

// opcode is the frame opcode of t.
func (t MessageType) opcode() codec.Opcode { return codec.Opcode(t) }

// Message is one received message. Data lives in a pooled buffer: call Release when done with
// it, after which Data must not be used.
type Message struct {
	Type MessageType
	// note marks an inbox entry that is a reconnection notice rather than a message (the
	// owner gets it as an Event in its place); 0 for messages.
	note notice
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

// Event is what an owner channel receives in Active and Once modes: a message, a
// reconnection, or the error that ended the connection (after which no more events come
// for it). Events of one connection arrive in order; none is dropped while the connection
// lives (see DialOptions.InboxSize for what happens when the owner does not keep up).
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

// Handler receives a connection's events on its event loop's goroutine. The data slices
// are borrowed from the loop's read buffer and valid only until the callback returns: copy
// what you keep. Callbacks must not block the loop: Send inside a callback never waits
// (see Conn.Send).
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
