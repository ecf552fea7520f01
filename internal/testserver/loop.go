package testserver

import (
	"context"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// loopState is the server's per-event-loop state: the reply batch that all of the
// loop's connections share (one runs at a time), the loop's counters, and its
// timed connections (pushes, held stall replies, close timeouts).
type loopState struct {
	srv *Server
	el  gnet.EventLoop
	out *batch
	ctr counters

	timed  []*wsConn    // connections with timed work; each knows its index
	wakeAt atomic.Int64 // earliest wakeAt among timed (ns since start), 0 for none
	queued atomic.Bool  // a timer pass is queued on the loop (see scheduler.go)
}

// arm makes sure the loop's timer pass visits wc at or after at. Loop goroutine only.
func (l *loopState) arm(wc *wsConn, at int64) {
	if wc.timedIdx < 0 {
		wc.timedIdx = len(l.timed)
		l.timed = append(l.timed, wc)
		wc.wakeAt = at
	} else if at < wc.wakeAt {
		wc.wakeAt = at
	}
	if w := l.wakeAt.Load(); w == 0 || at < w {
		l.wakeAt.Store(at)
		l.srv.sched.poke()
	}
}

// disarm removes wc from the timed list.
func (l *loopState) disarm(wc *wsConn) {
	i := wc.timedIdx
	if i < 0 {
		return
	}
	last := len(l.timed) - 1
	l.timed[i] = l.timed[last]
	l.timed[i].timedIdx = i
	l.timed[last] = nil
	l.timed = l.timed[:last]
	wc.timedIdx = -1
	wc.wakeAt = 0
}

// Run is the timer pass, queued on the loop by the scheduler: it does the work
// that is due and publishes when the loop next needs to be woken.
func (l *loopState) Run(context.Context) error {
	now := l.srv.now()
	var next int64
	// Backwards, because closing a connection swaps the last one into its place.
	for i := len(l.timed) - 1; i >= 0; i-- {
		if i >= len(l.timed) {
			continue
		}
		wc := l.timed[i]
		if wc.wakeAt <= now {
			at := wc.onTimer(now)
			if wc.closed || wc.timedIdx < 0 {
				continue
			}
			if at == 0 {
				l.disarm(wc)
				continue
			}
			wc.wakeAt = at
		}
		if next == 0 || wc.wakeAt < next {
			next = wc.wakeAt
		}
	}
	l.wakeAt.Store(next)
	l.queued.Store(false)
	l.srv.sched.poke()
	return nil
}

// onTimer does wc's due timed work and returns when it next needs the timer (0: never).
func (wc *wsConn) onTimer(now int64) int64 {
	if wc.deadline != 0 && now >= wc.deadline {
		_ = wc.loop.el.Close(wc.c) // the client never answered our close frame
		return 0
	}
	if len(wc.held) > 0 && !stalled(wc.route, now) {
		if !wc.flushHeld() {
			return 0
		}
		if wc.after != keep {
			wc.closeNow(wc.after)
			return 0
		}
	}
	var next int64
	if wc.push != nil && wc.phase == phaseOpen {
		if !wc.push.tick(wc, now) {
			return 0 // a write failed and closed the connection
		}
		next = wc.push.next
	}
	if len(wc.held) > 0 {
		next = minTime(next, stallEnd(wc.route, now))
	}
	if wc.deadline != 0 {
		next = minTime(next, wc.deadline)
	}
	return next
}

// closeNow closes wc from outside its OnTraffic (on its loop).
func (wc *wsConn) closeNow(v verdict) {
	if v == resetTCP {
		_ = wc.c.SetLinger(0)
	}
	_ = wc.loop.el.Close(wc.c)
}

// minTime is the earlier of two times where 0 means "none".
func minTime(a, b int64) int64 {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}
