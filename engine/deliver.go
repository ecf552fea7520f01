package engine

import (
	"context"
	"errors"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/pool"
)

// Delivery to the application, the facade over the Handler core: a Handler gets every
// message on the loop; otherwise messages go through a bounded inbox to Recv (passive) or
// to an owner channel (active, once), with reconnection notices in order among them.

// deliver hands a complete message to the application as the connection's mode says. buf,
// when set, holds data and passes to the message (or back to the pool for a Handler).
func (s *session) deliver(typ codec.Opcode, data []byte, buf *bytebufferpool.ByteBuffer) (gnet.Action, bool) {
	c := s.c
	if typ == codec.OpText || typ == codec.OpBinary {
		s.l.stats.msgsIn.Add(1)
		s.l.stats.bytesIn.Add(int64(len(data)))
	}
	if h := c.handler; h != nil {
		h.OnMessage(c, MessageType(typ), data)
		if buf != nil {
			pool.Put(buf)
		}
		return gnet.None, false
	}
	if buf == nil {
		buf = pool.Get(len(data))
		buf.B = append(buf.B, data...)
	}
	c.mu.Lock()
	ok := c.pushLocked(Message{Type: MessageType(typ), Data: buf.B, buf: buf}, nil)
	c.mu.Unlock()
	if !ok {
		c.eng.stats.slowConsumers.Add(1)
		s.forceClose(codec.ClosePolicyViolation, ErrSlowConsumer)
		return gnet.Close, true
	}
	return gnet.None, false
}

// notice is the kind of a reconnection notice, which travels through the inbox with the
// messages so that the owner gets it in order and never loses it.
type notice uint8

const (
	noteNone         notice = iota // a message
	noteReconnecting               // an Event with Reconnecting and the cause (connExtra.causes)
	noteReconnected                // an Event with Reconnected
)

// pushLocked passes m to the owner channel when it has room and nothing is queued before
// it; otherwise it queues m, within InboxSize. It reports false when the inbox is full
// under the CloseSlowConsumer policy (m is released then). A Reconnecting notice carries
// its cause; a Reconnected notice is always queued (it follows a Reconnecting notice, which
// took the room, and no message can arrive in between).
func (c *Conn) pushLocked(m Message, cause error) bool {
	w := c.extraLocked()
	if m.note == noteReconnecting {
		w.causes = append(w.causes, cause)
	}
	toOwner := c.ownerWantsLocked()
	if toOwner && !c.backlogged {
		select {
		case c.owner <- c.eventLocked(m):
			c.tookLocked(m)
			return true
		default:
		}
	}
	if len(w.inbox)-w.inboxHead >= c.opts.InboxSize && m.note != noteReconnected {
		if c.opts.SlowConsumer != DropOldest {
			if m.note == noteReconnecting {
				w.causes = w.causes[:len(w.causes)-1]
			}
			m.Release()
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
	w.inbox = append(w.inbox, m)
	if toOwner {
		c.setBacklogLocked()
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

// tookLocked records that the owner took m's Event.
func (c *Conn) tookLocked(m Message) {
	if m.note == noteNone {
		c.deliveredToOwnerLocked()
		return
	}
	c.dropLocked(m)
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
func (c *Conn) ownerWantsLocked() bool {
	return c.owner != nil && (c.mode == Active || c.mode == Once)
}

func (c *Conn) deliveredToOwnerLocked() {
	if c.mode == Once {
		c.mode = Passive // one message, then passive until SetMode(Once)
	}
}

func (c *Conn) setBacklogLocked() {
	if !c.backlogged && c.sess != nil {
		c.backlogged = true
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

// retryOwnerLocked moves queued events into the owner channel as room appears, then the
// final event. It reports whether the loop must try again on a later tick.
func (c *Conn) retryOwnerLocked() bool {
	w := c.extraLocked()
	for c.ownerWantsLocked() && w.inboxHead < len(w.inbox) {
		m := w.inbox[w.inboxHead]
		select {
		case c.owner <- c.eventLocked(m):
			w.inbox[w.inboxHead] = Message{}
			w.inboxHead++
			c.tookLocked(m)
			continue
		default:
		}
		break
	}
	if w.inboxHead == len(w.inbox) {
		w.inbox, w.inboxHead = w.inbox[:0], 0
	}
	if w.inboxHead < len(w.inbox) && c.ownerWantsLocked() {
		return true
	}
	if !c.sendFinalLocked() {
		return true
	}
	c.backlogged = false
	return false
}

// applicationHoldsLocked says whether the application may still answer what was delivered
// before a protocol violation, so that the failure waits for it (fail.go, deferFail): an
// owner takes the failure's Event after the messages; a passive reader has messages queued,
// or is still busy with the one Recv returned. A Handler has answered on the loop already.
func (c *Conn) applicationHoldsLocked() (holds, owner bool) {
	if c.handler != nil {
		return false, false
	}
	owner = c.ownerWantsLocked()
	return owner || c.inboxLenLocked() > 0 || c.recvBusy, owner
}

// ownerTookFailureLocked says whether the owner has taken the held-back failure's Event (a
// sequential owner has then handled every message before it).
func (c *Conn) ownerTookFailureLocked() bool { return c.finalSent && len(c.owner) == 0 }

// sendFinalLocked delivers the end of the connection to the owner, once, after every queued
// message. It reports false when the owner channel has no room yet.
func (c *Conn) sendFinalLocked() bool {
	err := c.finalErr
	if err == nil && c.sess != nil {
		err = c.sess.failing() // a held-back violation: the owner hears of it first (deferFail)
	}
	if err == nil || c.finalSent || c.owner == nil || c.inboxLenLocked() > 0 {
		return true
	}
	if c.mode != Active && c.mode != Once {
		return true // passive: Recv reports it
	}
	select {
	case c.owner <- Event{Conn: c, Err: err}:
		c.finalSent = true
		return true
	default:
		return false
	}
}

// Recv returns the next message in passive mode. It waits until a message arrives, the connection ends (its error is returned, and again on every later call), ctx
// ends, or RecvTimeout passes. Call msg.Release() when done with msg.Data.
func (c *Conn) Recv(ctx context.Context) (Message, error) {
	var timeout <-chan time.Time
	for {
		c.mu.Lock()
		if c.handler != nil || c.mode == Active {
			c.mu.Unlock()
			return Message{}, ErrWrongMode
		}
		c.recvBusy = false // asking for the next message: done with the last one
		m, ok := c.popLocked()
		for ok && m.note != noteNone {
			c.dropLocked(m) // reconnection notices are for owners
			m, ok = c.popLocked()
		}
		if ok {
			c.recvBusy = true
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
	if c.handler != nil {
		return errors.New("websocket: SetMode: the connection delivers to its Handler")
	}
	if m != Passive && c.owner == nil {
		return errors.New("websocket: SetMode: active and once modes need an owner (SetOwner)")
	}
	c.mode = m
	c.kickOwnerLocked()
	return nil
}

// SetOwner makes ch the connection's owner; one channel may own many connections. Events
// already in the old owner's channel stay there; queued ones go to the new owner.
func (c *Conn) SetOwner(ch chan<- Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.owner = ch
	c.kickOwnerLocked()
}

// kickOwnerLocked hands queued messages (and the final event) to the loop's backlog pass.
func (c *Conn) kickOwnerLocked() {
	if !c.ownerWantsLocked() {
		return
	}
	if c.inboxLenLocked() > 0 || (c.finalErr != nil && !c.finalSent) {
		if c.sess != nil && !c.backlogged {
			c.backlogged = true
			c.sess.l.AddBacklog(c.sess)
		}
	}
}

// Mode reports the current delivery mode.
func (c *Conn) Mode() Mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}
