package engine

import (
	"context"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine/internal/transport"
)

// failGrace bounds how long a protocol failure waits for the application (see deferFail).
const failGrace = 250 * time.Millisecond

// pendingFail is a protocol failure held back until the application has taken the messages
// that came before the violation. err and kicked change under c.mu (Recv and the owner's
// backlog pass read them); the rest belongs to the loop.
type pendingFail struct {
	err    error
	code   codec.CloseCode
	due    int64 // tick at which the failure completes whatever the application does
	kicked bool  // completion is scheduled on the loop
	done   bool
}

// deferFail decides whether a protocol failure may wait for the application. RFC 6455 lets a
// client fail the connection at once, but then a message delivered just before the violation
// goes unanswered when the application answers from its own goroutine, and Autobahn's strict
// verdict (3.2, 3.3, 4.1.3, 4.2.3, 5.15...) wants the echo of the message that precedes a bad
// frame before the close. So a passive or active connection stops reading (nothing after the
// violation is parsed or answered, not even a ping), keeps its write side open, and completes
// the failure -- our close frame with the violation's code, then TCP closed -- as soon as the
// application has taken everything delivered before it:
//   - passive: Recv is called with the inbox empty (the application is done with the last
//     message); a Recv already waiting on an empty inbox means there is nothing to wait for;
//   - owner (active, once): the owner channel has taken the failure's Event, which is queued
//     after the messages (so a sequential owner has handled them);
//   - in any case after failGrace.
//
// A Handler answers on the loop before the next frame is parsed, so it never needs the wait.
// deferFail reports false when the failure must happen now.
func (s *session) deferFail(code codec.CloseCode, err error) bool {
	c := s.c
	if c.box == nil || c.State() != StateOpen {
		return false // a user's Handler answered on the loop already
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.close != closeOpen || !c.box.holdFailureLocked(c) {
		return false // nothing delivered waits for an answer
	}
	if c.lastErr == nil {
		c.lastErr = err
	}
	s.pf = &pendingFail{err: err, code: code, due: c.eng.now() + transport.TicksFor(failGrace)}
	s.l.Wheel.Arm(s, s.pf.due)
	return true
}

// failing is the held-back protocol failure, nil if none.
func (s *session) failing() error {
	if s.pf == nil {
		return nil
	}
	return s.pf.err
}

// failDue is the tick at which a held-back failure completes, 0 if none is pending.
func (s *session) failDue() int64 {
	if s.pf == nil {
		return 0
	}
	return s.pf.due
}

// kickFailLocked schedules the completion of a held-back failure on the session's loop.
func (c *Conn) kickFailLocked(s *session) {
	if s.pf == nil || s.pf.kicked {
		return
	}
	s.pf.kicked = true
	// An error means the engine is stopping: gnet closes the connection itself.
	_ = s.l.Execute(failRunner{s})
}

type failRunner struct{ s *session }

func (r failRunner) Run(context.Context) error { r.s.completeFail(); return nil }

// completeFail fails the connection for a held-back violation: our close frame, then TCP
// closed. It runs on the loop, once.
func (s *session) completeFail() {
	if s.ended || s.pf == nil || s.pf.done {
		return
	}
	s.pf.done = true
	s.pf.due = 0
	s.forceClose(s.pf.code, s.pf.err)
	s.flushNow()
	s.closeNotify()
	s.dropSocket()
}

// fail fails the connection on a protocol violation (RFC 6455 §7.1.7): our close frame with
// the code the violation calls for, then the TCP connection dropped.
func (s *session) fail(err error) gnet.Action {
	pe := protocolError(err)
	code := codec.CloseCode(pe.Code)
	c := s.c
	c.eng.stats.protocolErrors.Add(1)
	if s.deferFail(code, pe) {
		return gnet.None // the application first takes what came before the violation
	}
	s.forceClose(code, pe)
	return gnet.Close
}

// retryHeldFailLocked completes a held-back failure once the owner has taken its Event
// (on the loop's tick). It reports whether to look again on a later tick.
func (s *session) retryHeldFailLocked() bool {
	if s.pf == nil || s.pf.kicked || s.ended {
		return false
	}
	if s.c.box.tookFailureLocked(s.c) { // pf is set only for a mailbox (deferFail)
		s.c.kickFailLocked(s)
		return false
	}
	return true
}
