package engine

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/pool"
)

// The mailbox is the built-in Handler of a connection dialed without one: it gives the
// passive, active and once delivery modes on top of the same Handler calls a user's Handler
// gets. Messages go through a bounded inbox to Recv (passive) or to an owner channel (active,
// once), with reconnection notices in order among them and the connection's end last. The
// core knows nothing of modes: it calls c.handler, and the mailbox's few extra needs through
// the boxed interface (below).

// boxed is what the mailbox needs from the core beyond the Handler methods. The core asks
// for it once, at Dial (Conn.box), never per message: a user's Handler answers on the loop
// and needs none of it, so the core skips these calls when box is nil.
type boxed interface {
	Handler
	// keep takes a delivered message (a control frame too when DialOptions.DeliverControl
	// asks). It owns buf when set, whose bytes are data: the message keeps the pooled
	// buffer instead of a copy, so passive Recv costs no allocation; without buf, data is
	// borrowed and copied. It reports false when the inbox is full under CloseSlowConsumer:
	// the connection must end (buf was released).
	keep(c *Conn, typ MessageType, data []byte, buf *bytebufferpool.ByteBuffer) bool
	// holdFailureLocked says whether the application may still answer what was delivered
	// before a protocol violation, so that the failure waits for it (fail.go, deferFail); for
	// an owner it also asks the loop's tick to queue the failure's Event (retryLocked), which
	// runs after the caller has recorded the failure and let go of c.mu.
	holdFailureLocked(c *Conn) bool
	// tookFailureLocked says whether the owner took the held-back failure's Event.
	tookFailureLocked(c *Conn) bool
	// retryLocked runs on the loop's tick when the mailbox asked (Loop.AddBacklog): events
	// waiting for room in the owner channel. It reports whether to try again later.
	retryLocked(c *Conn) bool
	// endedLocked tells Recv or the owner that the connection ended for good (c.finalErr).
	endedLocked(c *Conn)
}

// mailbox is a connection's delivery state when it has no Handler (Conn.mb, guarded by c.mu).
type mailbox struct {
	owner      chan<- Event // first: the flags below pack after it
	mode       Mode
	backlogged bool // queued events wait for room in the owner channel
	finalSent  bool // the final event reached the owner
	recvBusy   bool // Recv returned a message and has not been called again since
	opened     bool // OnOpen ran: the next one is a reconnection
}

// notice is the kind of a reconnection notice, which travels through the inbox with the
// messages so that the owner gets it in order and never loses it.
type notice uint8

const (
	noteNone         notice = iota // a message
	noteReconnecting               // an Event with Reconnecting and the cause (connExtra.causes)
	noteReconnected                // an Event with Reconnected
)

// OnOpen queues the Reconnected notice when the connection came back; it runs on the loop
// before any of the new connection's messages.
func (m *mailbox) OnOpen(c *Conn) {
	c.mu.Lock()
	if m.opened && m.ownerWantsLocked() {
		m.pushLocked(c, Message{note: noteReconnected}, nil) // always queued
	}
	m.opened = true
	c.mu.Unlock()
}

// OnMessage keeps a copy of a message; it is keep with a borrowed buffer. The core calls
// keep itself (which also hands over pooled buffers and reports a full inbox), so this only
// serves a caller holding the mailbox as a plain Handler: a full inbox then ends the
// connection without waiting.
func (m *mailbox) OnMessage(c *Conn, typ MessageType, data []byte) {
	if !m.keep(c, typ, data, nil) {
		c.CloseNow()
	}
}

// OnClose queues the Reconnecting notice for an owner when a reconnection follows (the
// connection's end for good reaches the mailbox through endedLocked). When the inbox has no
// room for it under CloseSlowConsumer, the connection ends here for good with
// ErrSlowConsumer instead of redialing.
func (m *mailbox) OnClose(c *Conn, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finalErr != nil || !m.ownerWantsLocked() {
		return
	}
	if m.pushLocked(c, Message{note: noteReconnecting}, cause) {
		return
	}
	c.eng.stats.slowConsumers.Add(1)
	cause = &wrapped{msg: "websocket: slow consumer: inbox full, no room to announce the reconnection (" + cause.Error() + ")", err: multiErr{ErrSlowConsumer, cause}}
	c.lastErr = cause
	c.stopReconnectingLocked()
	c.endLocked(cause)
}

// keep implements boxed.
func (m *mailbox) keep(c *Conn, typ MessageType, data []byte, buf *bytebufferpool.ByteBuffer) bool {
	if (typ == Ping || typ == Pong) && !c.opts.DeliverControl {
		return true // answered already; the application did not ask to see them
	}
	if buf == nil {
		buf = pool.Get(len(data))
		buf.B = append(buf.B, data...)
	}
	c.mu.Lock()
	ok := m.pushLocked(c, Message{Type: typ, Data: buf.B, buf: buf}, nil)
	c.mu.Unlock()
	return ok
}

// pushLocked passes msg to the owner channel when it has room and nothing is queued before
// it; otherwise it queues msg, within InboxSize. It reports false when the inbox is full
// under the CloseSlowConsumer policy (msg is released then). A Reconnecting notice carries
// its cause; a Reconnected notice is always queued (it follows a Reconnecting notice, which
// took the room, and no message can arrive in between).
func (m *mailbox) pushLocked(c *Conn, msg Message, cause error) bool {
	w := c.extraLocked()
	if msg.note == noteReconnecting {
		w.causes = append(w.causes, cause)
	}
	toOwner := m.ownerWantsLocked()
	if toOwner && !m.backlogged {
		select {
		case m.owner <- c.eventLocked(msg):
			m.tookLocked(c, msg)
			return true
		default:
		}
	}
	if len(w.inbox)-w.inboxHead >= c.opts.InboxSize && msg.note != noteReconnected {
		if c.opts.SlowConsumer != DropOldest {
			if msg.note == noteReconnecting {
				w.causes = w.causes[:len(w.causes)-1]
			}
			msg.Release()
			return false
		}
		old := w.inbox[w.inboxHead]
		c.dropLocked(old)
		w.inbox[w.inboxHead] = Message{}
		w.inboxHead++
		c.eng.stats.dropped.Add(1)
	}
	if w.inboxHead > 0 && len(w.inbox) == cap(w.inbox) {
		// Slide the live part down rather than grow: the queue stays within its bound.
		n := copy(w.inbox, w.inbox[w.inboxHead:])
		clear(w.inbox[n:])
		w.inbox = w.inbox[:n]
		w.inboxHead = 0
	}
	w.inbox = append(w.inbox, msg)
	if toOwner {
		m.setBacklogLocked(c)
	} else {
		c.signalRecvLocked()
	}
	return true
}

// eventLocked is the owner's Event for an inbox entry.
func (c *Conn) eventLocked(m Message) Event {
	switch m.note {
	case noteReconnecting:
		return Event{Conn: c, Err: c.x.causes[0], Reconnecting: true}
	case noteReconnected:
		return Event{Conn: c, Reconnected: true}
	}
	return Event{Conn: c, Message: m}
}

// tookLocked records that the owner took msg's Event.
func (m *mailbox) tookLocked(c *Conn, msg Message) {
	if msg.note == noteNone {
		if m.mode == Once {
			m.mode = Passive // one message, then passive until SetMode(Once)
		}
		return
	}
	c.dropLocked(msg)
}

// dropLocked lets go of an entry that no owner will take (or that one took).
func (c *Conn) dropLocked(m Message) {
	if m.note == noteReconnecting {
		w := c.x
		w.causes[0] = nil
		w.causes = w.causes[1:]
		if len(w.causes) == 0 {
			w.causes = nil
		}
	}
	m.Release()
}

// ownerWantsLocked says whether messages go to the owner channel now.
func (m *mailbox) ownerWantsLocked() bool {
	return m.owner != nil && (m.mode == Active || m.mode == Once)
}

// setBacklogLocked asks the loop's tick to move queued events to the owner (retryLocked).
func (m *mailbox) setBacklogLocked(c *Conn) {
	if !m.backlogged && c.sess != nil {
		m.backlogged = true
		c.sess.l.AddBacklog(c.sess)
	}
}

func (c *Conn) signalRecvLocked() {
	if c.x != nil && c.x.recvWait != nil {
		select {
		case c.x.recvWait <- struct{}{}:
		default:
		}
	}
}

func (c *Conn) popLocked() (Message, bool) {
	w := c.x
	if w == nil || w.inboxHead >= len(w.inbox) {
		return Message{}, false
	}
	m := w.inbox[w.inboxHead]
	w.inbox[w.inboxHead] = Message{}
	w.inboxHead++
	if w.inboxHead == len(w.inbox) {
		w.inbox = w.inbox[:0]
		w.inboxHead = 0
	}
	return m, true
}

// retryLocked implements boxed: it moves queued events into the owner channel as room
// appears, then the final event.
func (m *mailbox) retryLocked(c *Conn) bool {
	if !m.backlogged {
		return false
	}
	w := c.extraLocked()
	for m.ownerWantsLocked() && w.inboxHead < len(w.inbox) {
		msg := w.inbox[w.inboxHead]
		select {
		case m.owner <- c.eventLocked(msg):
			w.inbox[w.inboxHead] = Message{}
			w.inboxHead++
			m.tookLocked(c, msg)
			continue
		default:
		}
		break
	}
	if w.inboxHead == len(w.inbox) {
		w.inbox, w.inboxHead = w.inbox[:0], 0
	}
	if w.inboxHead < len(w.inbox) && m.ownerWantsLocked() {
		return true
	}
	if !m.sendFinalLocked(c) {
		return true
	}
	m.backlogged = false
	return false
}

// holdFailureLocked implements boxed: an owner takes the failure's Event after the
// messages; a passive reader has messages queued, or is still busy with the one Recv returned.
func (m *mailbox) holdFailureLocked(c *Conn) bool {
	if m.ownerWantsLocked() {
		m.setBacklogLocked(c)
		return true
	}
	return c.inboxLenLocked() > 0 || m.recvBusy
}

// tookFailureLocked implements boxed (a sequential owner has then handled every message
// before the failure).
func (m *mailbox) tookFailureLocked(*Conn) bool { return m.finalSent && len(m.owner) == 0 }

// endedLocked implements boxed: Recv wakes to report the end; the owner gets it as its
// last Event, after every queued one.
func (m *mailbox) endedLocked(c *Conn) {
	c.signalRecvLocked()
	if m.ownerWantsLocked() && (m.backlogged || !m.sendFinalLocked(c)) {
		m.setBacklogLocked(c)
	}
}

// sendFinalLocked delivers the end of the connection to the owner, once, after every queued
// message. It reports false when the owner channel has no room yet.
func (m *mailbox) sendFinalLocked(c *Conn) bool {
	err := c.finalErr
	if err == nil && c.sess != nil {
		err = c.sess.failing() // a held-back violation: the owner hears of it first (deferFail)
	}
	if err == nil || m.finalSent || m.owner == nil || c.inboxLenLocked() > 0 {
		return true
	}
	if m.mode != Active && m.mode != Once {
		return true // passive: Recv reports it
	}
	select {
	case m.owner <- Event{Conn: c, Err: err}:
		m.finalSent = true
		return true
	default:
		return false
	}
}

// mailboxLocked is the connection's mailbox, nil when it has a Handler.
func (c *Conn) mailboxLocked() *mailbox {
	if c.box == nil {
		return nil
	}
	return &c.mb
}

// Recv returns the next message in passive mode. It waits until a message arrives, the
// connection ends (its error is returned, and again on every later call), ctx ends, or
// RecvTimeout passes. Call msg.Release() when done with msg.Data.
func (c *Conn) Recv(ctx context.Context) (Message, error) {
	var timeout <-chan time.Time
	for {
		c.mu.Lock()
		mb := c.mailboxLocked()
		if mb == nil || mb.mode == Active {
			c.mu.Unlock()
			return Message{}, ErrWrongMode
		}
		mb.recvBusy = false // asking for the next message: done with the last one
		m, ok := c.popLocked()
		for ok && m.note != noteNone {
			c.dropLocked(m) // reconnection notices are for owners
			m, ok = c.popLocked()
		}
		if ok {
			mb.recvBusy = true
			c.mu.Unlock()
			return m, nil
		}
		if c.finalErr != nil {
			err := c.finalErr
			c.mu.Unlock()
			return Message{}, err
		}
		if s := c.sess; s != nil && s.pf != nil {
			c.kickFailLocked(s) // everything before the violation is taken: fail now
		}
		w := c.extraLocked()
		if w.recvWait == nil {
			w.recvWait = make(chan struct{}, 1)
		}
		wait := w.recvWait
		if timeout == nil && c.opts.RecvTimeout > 0 {
			if w.recvTimer == nil {
				w.recvTimer = time.NewTimer(c.opts.RecvTimeout)
			} else {
				w.recvTimer.Reset(c.opts.RecvTimeout)
			}
			timeout = w.recvTimer.C
			defer w.recvTimer.Stop()
		}
		c.mu.Unlock()
		select {
		case <-wait:
		case <-timeout:
			return Message{}, timeoutf("recv: no message within %v", c.opts.RecvTimeout)
		case <-ctx.Done():
			err := ctx.Err()
			if errors.Is(err, context.DeadlineExceeded) {
				return Message{}, &wrapped{msg: "websocket: recv: context deadline exceeded", err: multiErr{ErrTimeout, err}}
			}
			return Message{}, err
		}
	}
}

// multiErr lets one error answer errors.Is for several sentinels.
type multiErr []error

func (m multiErr) Error() string   { return m[0].Error() }
func (m multiErr) Unwrap() []error { return m }

// SetMode switches delivery. Switching to Active or Once needs an owner; messages already
// queued go to it first, in order.
func (c *Conn) SetMode(m Mode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	mb := c.mailboxLocked()
	if mb == nil {
		return errors.New("websocket: SetMode: the connection delivers to its Handler")
	}
	if m != Passive && mb.owner == nil {
		return errors.New("websocket: SetMode: active and once modes need an owner (SetOwner)")
	}
	mb.mode = m
	mb.kickOwnerLocked(c)
	return nil
}

// SetOwner makes ch the connection's owner; one channel may own many connections. Events
// already in the old owner's channel stay there; queued ones go to the new owner. It does
// nothing on a connection with a Handler.
func (c *Conn) SetOwner(ch chan<- Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mb := c.mailboxLocked(); mb != nil {
		mb.owner = ch
		mb.kickOwnerLocked(c)
	}
}

// kickOwnerLocked hands queued messages (and the final event) to the loop's backlog pass.
func (m *mailbox) kickOwnerLocked(c *Conn) {
	if !m.ownerWantsLocked() {
		return
	}
	if c.inboxLenLocked() > 0 || (c.finalErr != nil && !m.finalSent) {
		m.setBacklogLocked(c)
	}
}

// Mode reports the current delivery mode (DialOptions.Mode for a connection with a Handler,
// which ignores it).
func (c *Conn) Mode() Mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mb.mode
}
