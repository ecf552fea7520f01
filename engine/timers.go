package engine

import (
	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine/internal/transport"
)

// A session's deadlines on its loop's timer wheel: the close timeout, the held-back
// failure's grace, and keepalive pings. The wheel holds one entry per session, for the
// earliest of them (rearm); OnTimer decides which came due.

// onTimer runs on the loop when the session's earliest deadline comes.
func (s *session) OnTimer(now int64) {
	if s.ended {
		return
	}
	c := s.c
	switch {
	case s.closeDue != 0 && now >= s.closeDue:
		c.eng.stats.timeouts.Add(1)
		s.failDial(timeoutf("close timeout: the server did not answer our close frame within %v", c.opts.CloseTimeout))
		s.closeNotify()
		s.dropSocket()
		return
	case s.failDue() != 0 && now >= s.failDue():
		s.completeFail() // the application did not take what came before the violation in time
		return
	}
	if c.opts.PingInterval > 0 && c.State() == StateOpen {
		if s.pingSentAt != 0 && now-s.pingSentAt >= transport.TicksFor(c.opts.PongTimeout) {
			c.eng.stats.timeouts.Add(1)
			s.forceClose(codec.CloseGoingAway, timeoutf("keepalive: no pong or other traffic within %v of our ping", c.opts.PongTimeout))
			s.flushNow()
			s.closeNotify()
			s.dropSocket()
			return
		}
		if s.pingSentAt == 0 && now-s.lastRecv >= transport.TicksFor(c.opts.PingInterval) {
			c.mu.Lock()
			if c.close == closeOpen {
				c.queueControlLocked(codec.OpPing, nil)
			}
			c.mu.Unlock()
			s.flushNow()
			s.pingSentAt = now
		}
	}
	s.rearm()
}

// flushNow writes what is pending from the loop, outside any callback.
func (s *session) flushNow() {
	c := s.c
	c.mu.Lock()
	s.writeLocked()
	c.mu.Unlock()
	s.afterWrite()
}

// rearm arms the wheel for the session's earliest deadline.
func (s *session) rearm() {
	if s.ended {
		return
	}
	next := int64(0)
	consider := func(t int64) {
		if t != 0 && (next == 0 || t < next) {
			next = t
		}
	}
	consider(s.closeDue)
	consider(s.failDue())
	if o := s.c.opts; o.PingInterval > 0 && s.c.State() == StateOpen {
		if s.pingSentAt != 0 {
			consider(s.pingSentAt + transport.TicksFor(o.PongTimeout))
		} else {
			consider(s.lastRecv + transport.TicksFor(o.PingInterval))
		}
	}
	if next != 0 {
		s.l.Wheel.Arm(s, next)
	}
}
