package engine

import (
	"context"
	"sync"
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

	flushSpare []*session // loop-owned from here on
	workSpare  []*session
	wheel      timerWheel
	plain      []byte // decrypted bytes of the TLS connection being read (lazy)
	stats      loopCounters
}

func newLoop(e *Engine, el gnet.EventLoop, idx int) *loop {
	return &loop{eng: e, el: el, idx: idx, wheel: timerWheel{at: e.now()}}
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
	l.mu.Unlock()
}

// busy says whether the ticker must run this loop: timers armed or work waiting.
func (l *loop) busy() bool {
	l.mu.Lock()
	b := len(l.backlog) > 0 || len(l.timersAsked) > 0
	l.mu.Unlock()
	return b || l.wheel.liveHint.Load() > 0
}

func (l *loop) runTick() {
	l.mu.Lock()
	work := append(l.workSpare[:0], l.backlog...)
	l.backlog = l.backlog[:0]
	asked := len(work)
	work = append(work, l.timersAsked...)
	l.timersAsked = l.timersAsked[:0]
	l.mu.Unlock()
	for i, c := range work {
		if i < asked {
			c.retryBacklog()
		} else {
			c.rearm()
		}
	}
	clear(work)
	l.workSpare = work[:0]
	l.wheel.advance(l.eng.now())
	l.wheel.liveHint.Store(int64(l.wheel.live))
}

// runTicker advances the coarse clock and runs each loop's tick when it has work.
func (e *Engine) runTicker() {
	defer close(e.tickerDone)
	t := time.NewTicker(tickDuration)
	defer t.Stop()
	for {
		select {
		case <-e.stopTicker:
			return
		case now := <-t.C:
			e.tick.Store(int64(now.Sub(e.start) / tickDuration))
			e.mu.Lock()
			loops := e.loops
			e.mu.Unlock()
			for _, l := range loops {
				if l.busy() {
					_ = l.el.Execute(context.Background(), tickRunner{l})
				}
			}
		}
	}
}
