package engine

import (
	"github.com/panjf2000/gnet/v2"

	"github.com/wsfleet/wsfleet/engine/internal/transport"
)

// loop is the engine's record of one gnet event loop: the transport's loop (flush queue,
// backlog, timer wheel) and what the engine keeps per loop.
type loop struct {
	transport.Loop[*session]
	plain []byte // decrypted bytes of the TLS connection being read (lazy)
	stats loopCounters
}

// loopFor returns the engine's record of a gnet event loop, creating it on first sight.
// It runs on that loop (from OnOpen), rarely: only the first connection of each loop pays.
func (e *Engine) loopFor(el gnet.EventLoop) *loop {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.loops {
		if l.EventLoop() == el {
			return l
		}
	}
	l := new(loop)
	l.Init(el, e.clock)
	e.loops = append(e.loops, l)
	e.tloops = append(e.tloops, &l.Loop)
	return l
}

// onLoopGoroutine says whether the caller runs on one of the engine's event loops: inside a
// callback, which must never wait for a loop. It costs about a microsecond: only senders
// that would otherwise wait ask.
func (e *Engine) onLoopGoroutine() bool {
	gid := transport.GoroutineID()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.loops {
		if l.Runs(gid) {
			return true
		}
	}
	return false
}

// transportLoops is what the ticker walks: the loops seen so far.
func (e *Engine) transportLoops() []*transport.Loop[*session] {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tloops
}

// The session as its loop drives it (transport.Session).

func (s *session) TimerDue() *int64 { return &s.timerDue }

// RetryBacklog runs on the loop's tick for a session that asked (Loop.AddBacklog): senders
// waiting for room (write.go), events waiting for room in the owner channel (mailbox.go),
// and a held-back failure waiting for the owner (fail.go).
func (s *session) RetryBacklog() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	again := s.pollRoomLocked()
	if c.box != nil && c.box.retryLocked(c) {
		again = true
	}
	if s.retryHeldFailLocked() {
		again = true
	}
	if again {
		s.l.AddBacklog(s)
	}
}
