package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// loop is the engine's state for one gnet event loop: the flush queue that batches writes
// coming from other goroutines, the timer wheel, and the connections waiting for a full owner
// channel or for socket room.
type loop struct {
	eng *Engine
	el  gnet.EventLoop
	idx int

	mu          sync.Mutex // guards the fields up to the blank line
	flushQ      []*session
	wakePending bool
	backlog     []*session // connections with events for a full owner channel, or room waiters
	timersAsked []*session // connections asking the loop to (re)compute their timers

	// ranAt is the tick of the loop's last runTick and trafficAt the tick at which it last
	// handled socket input; the ticker reads both to leave busy loops alone.
	ranAt, trafficAt atomic.Int64
	// asked is set while timersAsked is not empty, so that the loop serves it after its next
	// read instead of leaving it to the ticker's wake-up.
	asked atomic.Bool

	flushSpare []*session // loop-owned from here on
	workSpare  []*session
	wheel      timerWheel
	plain      []byte // decrypted bytes of the TLS connection being read (lazy)
	stats      loopCounters
}

func newLoop(e *Engine, el gnet.EventLoop, idx int) *loop {
	l := &loop{eng: e, el: el, idx: idx, wheel: timerWheel{at: e.now()}}
	l.wheel.nextDue.Store(noneDue)
	return l
}

// flushRunner and tickRunner are the loop's two gnet.Runnables, kept as values so that
// scheduling them allocates nothing beyond what gnet's queue needs.
type flushRunner struct{ l *loop }
type tickRunner struct{ l *loop }

func (r flushRunner) Run(context.Context) error { r.l.runFlush(); return nil }
func (r tickRunner) Run(context.Context) error  { r.l.runTick(); return nil }

// scheduleFlush queues c for a write on its loop. Only the first connection queued since the
// loop's last flush wakes the loop, so a burst of sends from many goroutines costs one wake-up.
func (l *loop) scheduleFlush(c *session) {
	l.mu.Lock()
	l.flushQ = append(l.flushQ, c)
	wake := !l.wakePending
	l.wakePending = true
	l.mu.Unlock()
	if wake {
		if err := l.el.Execute(context.Background(), flushRunner{l}); err != nil {
			// The engine is stopping: gnet closes the connections itself.
			l.mu.Lock()
			l.wakePending = false
			l.flushQ = l.flushQ[:0]
			l.mu.Unlock()
		}
	}
}

func (l *loop) runFlush() {
	l.mu.Lock()
	q := l.flushQ
	l.flushQ = l.flushSpare[:0]
	l.wakePending = false
	l.mu.Unlock()
	for _, c := range q {
		c.flush()
	}
	clear(q)
	l.flushSpare = q[:0]
}

// addBacklog asks the loop's ticker to retry c's deliveries and room waiters.
func (l *loop) addBacklog(c *session) {
	l.mu.Lock()
	l.backlog = append(l.backlog, c)
	l.mu.Unlock()
}

// askTimers asks the loop to recompute c's timers on its next tick (used by other goroutines,
// which must not touch the wheel).
func (l *loop) askTimers(c *session) {
	l.mu.Lock()
	l.timersAsked = append(l.timersAsked, c)
	l.asked.Store(true)
	l.mu.Unlock()
}

// hasWork says whether other goroutines left backlog or timer requests for the loop.
func (l *loop) hasWork() bool {
	l.mu.Lock()
	b := len(l.backlog) > 0 || len(l.timersAsked) > 0
	l.mu.Unlock()
	return b
}

// afterTraffic runs on the loop after it handled input: a loop that is awake anyway fires
// its due timers itself, so that a busy loop never needs the ticker's wake-up (gnet's
// Execute allocates).
func (l *loop) afterTraffic() {
	now := l.eng.now()
	if l.trafficAt.Load() != now {
		l.trafficAt.Store(now)
	}
	if l.wheel.due(now) || l.asked.Load() {
		l.runTick()
	}
}

// needsWake says whether the ticker must wake the loop at tick now: work is waiting, or a
// timer is due and the loop has not run it. A timer that fell due this very tick is left
// to a loop that handled traffic in the last tick (it will fire it after its next read);
// if that loop went quiet, the next tick wakes it, so a timer is at most one tick late.
func (l *loop) needsWake(now int64) bool {
	if l.hasWork() {
		return true
	}
	due := l.wheel.nextDue.Load()
	if due > now || l.ranAt.Load() >= now {
		return false
	}
	return !(due == now && l.trafficAt.Load() >= now-1)
}

func (l *loop) runTick() {
	now := l.eng.now()
	l.ranAt.Store(now)
	l.mu.Lock()
	work := append(l.workSpare[:0], l.backlog...)
	l.backlog = l.backlog[:0]
	asked := len(work)
	work = append(work, l.timersAsked...)
	clear(l.timersAsked)
	l.timersAsked = l.timersAsked[:0]
	l.asked.Store(false)
	l.mu.Unlock()
	for i, c := range work {
		if i < asked {
			c.retryBacklog()
		} else {
			c.onTimersAsked()
		}
	}
	clear(work)
	l.workSpare = work[:0]
	l.wheel.advance(now)
}

// runTicker advances the coarse clock and wakes each loop that has work or a due timer it
// has not fired itself.
func (e *Engine) runTicker() {
	defer close(e.tickerDone)
	t := time.NewTicker(tickDuration)
	defer t.Stop()
	for {
		select {
		case <-e.stopTicker:
			return
		case at := <-t.C:
			now := int64(at.Sub(e.start) / tickDuration)
			e.tick.Store(now)
			e.mu.Lock()
			loops := e.loops
			e.mu.Unlock()
			for _, l := range loops {
				if l.needsWake(now) {
					_ = l.el.Execute(context.Background(), tickRunner{l})
				}
			}
		}
	}
}
