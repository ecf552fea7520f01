package transport

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Session is one connection as its loop drives it. Every method runs on the loop.
type Session interface {
	Timed
	// Flush writes what other goroutines queued (after Loop.ScheduleFlush).
	Flush()
	// RetryBacklog retries what waits for room (after Loop.AddBacklog), on a tick.
	RetryBacklog()
	// TimersAsked recomputes the session's timers (after Loop.AskTimers).
	TimersAsked()
	// OnTimer runs when the session's wheel entry fires, with the current tick.
	OnTimer(now int64)
}

// Loop is the engine's state for one gnet event loop: the flush queue that batches writes
// coming from other goroutines, the timer wheel, and the sessions waiting for room (in an
// owner channel, or in gnet's outbound buffer).
type Loop[S Session] struct {
	el    gnet.EventLoop
	clock *Clock
	gid   uint64 // the goroutine gnet runs the loop on (GoroutineID)

	mu          sync.Mutex // guards the fields up to the blank line
	flushQ      []S
	wakePending bool
	backlog     []S // sessions to retry on the next tick
	timersAsked []S // sessions asking the loop to (re)compute their timers

	// ranAt is the tick of the loop's last runTick and trafficAt the tick at which it last
	// handled socket input; the ticker reads both to leave busy loops alone.
	ranAt, trafficAt atomic.Int64
	// asked is set while timersAsked is not empty, so that the loop serves it after its next
	// read instead of leaving it to the ticker's wake-up.
	asked atomic.Bool

	flushSpare []S // loop-owned from here on
	workSpare  []S
	// Wheel holds the sessions' deadlines; only the loop's goroutine touches it.
	Wheel Wheel[S]
}

// Init readies l for gnet's loop el. It runs on that loop (from OnOpen), which gnet runs
// on one goroutine for its life.
func (l *Loop[S]) Init(el gnet.EventLoop, clock *Clock) {
	l.el, l.clock = el, clock
	l.gid = GoroutineID()
	l.Wheel.init(clock.Now())
}

// Runs says whether the goroutine numbered gid (GoroutineID) is the one running l.
func (l *Loop[S]) Runs(gid uint64) bool { return l.gid == gid }

// EventLoop is the gnet loop l runs on.
func (l *Loop[S]) EventLoop() gnet.EventLoop { return l.el }

// flushRunner and tickRunner are the loop's two gnet.Runnables, kept as values so that
// scheduling them allocates nothing beyond what gnet's queue needs.
type flushRunner[S Session] struct{ l *Loop[S] }
type tickRunner[S Session] struct{ l *Loop[S] }

func (r flushRunner[S]) Run(context.Context) error { r.l.runFlush(); return nil }
func (r tickRunner[S]) Run(context.Context) error  { r.l.runTick(); return nil }

// Execute runs r on the loop after the callbacks in progress. An error means the engine is
// stopping: gnet then closes the connections itself.
func (l *Loop[S]) Execute(r gnet.Runnable) error { return l.el.Execute(context.Background(), r) }

// ScheduleFlush queues s for Flush on the loop. Only the first session queued since the
// loop's last flush wakes the loop, so a burst of sends from many goroutines costs one
// wake-up (one Execute, which allocates).
func (l *Loop[S]) ScheduleFlush(s S) {
	l.mu.Lock()
	l.flushQ = append(l.flushQ, s)
	wake := !l.wakePending
	l.wakePending = true
	l.mu.Unlock()
	if wake {
		if err := l.Execute(flushRunner[S]{l}); err != nil {
			l.mu.Lock()
			l.wakePending = false
			clear(l.flushQ)
			l.flushQ = l.flushQ[:0]
			l.mu.Unlock()
		}
	}
}

func (l *Loop[S]) runFlush() {
	l.mu.Lock()
	q := l.flushQ
	l.flushQ = l.flushSpare[:0]
	l.wakePending = false
	l.mu.Unlock()
	for _, s := range q {
		s.Flush()
	}
	clear(q)
	l.flushSpare = q[:0]
}

// AddBacklog asks for s.RetryBacklog on the loop's next tick. gnet tells nobody when its
// outbound buffer drains, so waiting for room is polling, one tick at a time.
func (l *Loop[S]) AddBacklog(s S) {
	l.mu.Lock()
	l.backlog = append(l.backlog, s)
	l.mu.Unlock()
}

// AskTimers asks for s.TimersAsked on the loop (from other goroutines, which must not touch
// the wheel): after the loop's next read, or on the next tick if it stays idle.
func (l *Loop[S]) AskTimers(s S) {
	l.mu.Lock()
	l.timersAsked = append(l.timersAsked, s)
	l.asked.Store(true)
	l.mu.Unlock()
}

// hasWork says whether other goroutines left backlog or timer requests for the loop.
func (l *Loop[S]) hasWork() bool {
	l.mu.Lock()
	b := len(l.backlog) > 0 || len(l.timersAsked) > 0
	l.mu.Unlock()
	return b
}

// AfterTraffic runs on the loop after it handled input: a loop that is awake anyway fires
// its due timers itself, so that a busy loop never needs the ticker's wake-up.
func (l *Loop[S]) AfterTraffic() {
	now := l.clock.Now()
	if l.trafficAt.Load() != now {
		l.trafficAt.Store(now)
	}
	if l.Wheel.Due(now) || l.asked.Load() {
		l.runTick()
	}
}

// needsWake says whether the ticker must wake the loop at tick now: work is waiting, or a
// timer is due and the loop has not run it. A timer that fell due this very tick is left
// to a loop that handled traffic in the last tick (it will fire it after its next read);
// if that loop went quiet, the next tick wakes it, so a timer is at most one tick late.
func (l *Loop[S]) needsWake(now int64) bool {
	if l.hasWork() {
		return true
	}
	due := l.Wheel.nextDue.Load()
	if due > now || l.ranAt.Load() >= now {
		return false
	}
	return !(due == now && l.trafficAt.Load() >= now-1)
}

func (l *Loop[S]) runTick() {
	now := l.clock.Now()
	l.ranAt.Store(now)
	l.mu.Lock()
	work := append(l.workSpare[:0], l.backlog...)
	clear(l.backlog)
	l.backlog = l.backlog[:0]
	retries := len(work)
	work = append(work, l.timersAsked...)
	clear(l.timersAsked)
	l.timersAsked = l.timersAsked[:0]
	l.asked.Store(false)
	l.mu.Unlock()
	for i, s := range work {
		if i < retries {
			s.RetryBacklog()
		} else {
			s.TimersAsked()
		}
	}
	clear(work)
	l.workSpare = work[:0]
	l.Wheel.Advance(now, S.OnTimer)
}

// RunTicker advances clock every TickDuration and wakes each of loops() that has work or a
// due timer it has not fired itself, until stop closes; it closes done when it returns.
func RunTicker[S Session](clock *Clock, loops func() []*Loop[S], stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(TickDuration)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case at := <-t.C:
			now := clock.advance(at)
			for _, l := range loops() {
				if l.needsWake(now) {
					_ = l.Execute(tickRunner[S]{l})
				}
			}
		}
	}
}
