package engine

import (
	"math"
	"sync/atomic"
	"time"
)

// tickDuration is the resolution of every engine timer (connect, close, keepalive). It is small
// enough for a 10% accuracy on timeouts of 100 ms and more.
const tickDuration = 10 * time.Millisecond

// ticksFor converts a duration to ticks, rounding up so a timeout never fires early.
func ticksFor(d time.Duration) int64 { return int64((d + tickDuration - 1) / tickDuration) }

const wheelSlots = 512 // one lap of the wheel is 5.12 s; later deadlines wait for later laps

// timerWheel is a loop's hashed timing wheel. It holds at most one live entry per connection,
// for the earliest of that connection's deadlines; the connection recomputes and re-arms when
// it fires. Entries that a later arm made stale are dropped when their slot comes round.
// Only the loop goroutine touches it, so it needs no lock; slot slices are reused, so arming
// allocates nothing once the wheel has warmed up.
type timerWheel struct {
	slots [wheelSlots][]timerEntry
	at    int64 // the last tick processed
	live  int   // entries not yet fired or dropped
	spare []timerEntry
	// nextDue is a tick before which no entry is due (noneDue when the wheel is empty). The
	// loop checks it after each read and the ticker goroutine reads it to decide whether an
	// idle loop must be woken; only the loop writes it.
	nextDue atomic.Int64
}

// noneDue is nextDue of an empty wheel.
const noneDue = math.MaxInt64

type timerEntry struct {
	c   *session
	due int64
}

// arm asks for c.onTimer at tick due (or the next tick, if due has passed).
func (w *timerWheel) arm(c *session, due int64) {
	if c.timerDue != 0 && c.timerDue <= due {
		return // an earlier entry exists; it re-arms for this deadline when it fires
	}
	if due <= w.at {
		due = w.at + 1
	}
	c.timerDue = due
	slot := &w.slots[due%wheelSlots]
	*slot = append(*slot, timerEntry{c: c, due: due})
	w.live++
	if due < w.nextDue.Load() {
		w.nextDue.Store(due)
	}
}

// due says whether an entry may be due at tick now.
func (w *timerWheel) due(now int64) bool { return now >= w.nextDue.Load() }

// advance fires every entry due up to and including tick now.
func (w *timerWheel) advance(now int64) { w.advanceWith(now, (*session).onTimer) }

// advanceWith is advance with the callback given (tests pass their own).
func (w *timerWheel) advanceWith(now int64, fire func(s *session, now int64)) {
	defer func() { w.nextDue.Store(w.earliest()) }()
	for w.at < now {
		if w.live == 0 {
			w.at = now
			return
		}
		w.at++
		// Swap the slot for the spare so that timers armed while firing land in a fresh slice.
		slot := &w.slots[w.at%wheelSlots]
		entries := *slot
		*slot = w.spare[:0]
		for _, e := range entries {
			if e.due > w.at {
				*slot = append(*slot, e) // a later lap
				continue
			}
			w.live--
			if e.c.timerDue != e.due {
				continue // stale: the connection re-armed earlier, or was closed
			}
			e.c.timerDue = 0
			// The real tick, not the slot's: a late pass must not send a keepalive ping and find it
			// unanswered in one go, before the loop could read the pong.
			fire(e.c, now)
		}
		clear(entries) // let closed connections be collected
		w.spare = entries[:0]
	}
}

// earliest is the first tick after w.at at which an entry (live or stale) is due: the first
// slot of the coming lap holding an entry for this lap, or the end of the lap when every
// entry waits for a later one (the slot walk meets them then).
func (w *timerWheel) earliest() int64 {
	if w.live == 0 {
		return noneDue
	}
	for t := w.at + 1; t <= w.at+wheelSlots; t++ {
		for _, e := range w.slots[t%wheelSlots] {
			if e.due == t {
				return t
			}
		}
	}
	return w.at + wheelSlots
}
