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

// deliver hands a complete message to the application as the connection's mode says. buf,
// when set, holds data and passes to the message (or back to the pool for a Handler).
func (s *session) deliver(typ codec.Opcode, data []byte, buf *bytebufferpool.ByteBuffer) (gnet.Action, bool) {
	c := s.c
	if typ == codec.OpText || typ == codec.OpBinary {
		s.l.stats.msgsIn.Add(1)
		s.l.stats.bytesIn.Add(int64(len(data)))
	}
	if h := c.handler; h != nil {
		h.OnMessage(c, typ, data)
		if buf != nil {
			pool.Put(buf)
		}
		return gnet.None, false
	}
	if buf == nil {
		buf = pool.Get(len(data))
		buf.B = append(buf.B, data...)
	}
	if !c.enqueue(Message{Type: typ, Data: buf.B, buf: buf}) {
		c.eng.stats.slowConsumers.Add(1)
		s.forceClose(codec.ClosePolicyViolation, ErrSlowConsumer)
		return gnet.Close, true
	}
	return gnet.None, false
}

// enqueue passes m to the owner channel when it has room and nothing is queued before it;
// otherwise it queues m (bounded). It reports false when the inbox is full under the
// CloseSlowConsumer policy (m is released then).
func (c *Conn) enqueue(m Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	toOwner := c.ownerWantsLocked()
	if toOwner && !c.backlogged {
		select {
		case c.owner <- Event{Conn: c, Message: m}:
			c.deliveredToOwnerLocked()
			return true
		default:
		}
	}
	w := c.extraLocked()
	if len(w.inbox)-w.inboxHead >= c.opts.InboxSize {
		if c.opts.SlowConsumer != DropOldest {
			m.Release()
			return false
		}
		w.inbox[w.inboxHead].Release()
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
		c.sess.l.addBacklog(c.sess)
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

// retryBacklog runs on the loop's tick: it moves queued events into the owner channel as room
// appears, and re-reads gnet's outbound buffer for senders waiting for room.
func (s *session) retryBacklog() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	again := false
	if c.roomWaitedLocked() {
		if !s.fdGone {
			c.sockBuffered = clampInt32(s.gc.OutboundBuffered())
		}
		if c.pendingLocked() < c.opts.MaxPendingBytes || s.fdGone {
			c.wakeRoomLocked()
		} else {
			again = true
		}
	}
	if c.backlogged {
		w := c.extraLocked()
		for c.ownerWantsLocked() && w.inboxHead < len(w.inbox) {
			select {
			case c.owner <- Event{Conn: c, Message: w.inbox[w.inboxHead]}:
				w.inbox[w.inboxHead] = Message{}
				w.inboxHead++
				c.deliveredToOwnerLocked()
				continue
			default:
			}
			break
		}
		if w.inboxHead == len(w.inbox) {
			w.inbox, w.inboxHead = w.inbox[:0], 0
		}
		if w.inboxHead < len(w.inbox) && c.ownerWantsLocked() {
			again = true
		} else if !c.sendFinalLocked() {
			again = true
		} else {
			c.backlogged = false
		}
	}
	if s.pf != nil && !s.pf.kicked && !s.ended {
		// A held-back violation completes once the owner has taken its Event: a sequential
		// owner has then handled every message before it.
		if c.finalSent && len(c.owner) == 0 {
			c.kickFailLocked(s)
		} else {
			again = true
		}
	}
	if again {
		s.l.addBacklog(s)
	}
}

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

// Recv returns the next message in passive mode (hackney's ws_recv). It waits until a message
// arrives, the connection ends (its error is returned, and again on every later call), ctx
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
		if m, ok := c.popLocked(); ok {
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

// SetMode switches delivery (hackney's ws_setopts(C, [{active, X}])). Switching to Active or
// Once needs an owner; messages already queued go to it first, in order.
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

// SetOwner makes ch the connection's owner (hackney's controlling_process); one channel may
// own many connections. Events not yet taken by the old owner stay with it.
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
			c.sess.l.addBacklog(c.sess)
		}
	}
}

// Mode reports the current delivery mode.
func (c *Conn) Mode() Mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}
