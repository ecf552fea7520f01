package transport

import (
	"math"
	"sync/atomic"
)

const wheelSlots = 512 // one lap of the wheel is 5.12 s; later deadlines wait for later laps

// Timed is what a Wheel holds entries for: a connection whose TimerDue is the tick of its
// live entry (0 if none).
type Timed interface {
	comparable
	TimerDue() *int64
}

// Wheel is a loop's hashed timing wheel. It holds at most one live entry per connection,
// for the earliest of that connection's deadlines; the connection recomputes and re-arms
// when it fires. Entries that a later Arm made stale are dropped when their slot comes
// round. Only the loop goroutine touches it, so it needs no lock; slot slices are reused,
// so arming allocates nothing once the wheel has warmed up.
type Wheel[T Timed] struct {
	slots [wheelSlots][]entry[T]
	at    int64 // the last tick processed
	live  int   // entries not yet fired or dropped
	spare []entry[T]
	// nextDue is a tick before which no entry is due (noneDue when the wheel is empty). The
	// loop checks it after each read and the ticker goroutine reads it to decide whether an
	// idle loop must be woken; only the loop writes it.
	nextDue atomic.Int64
}

// noneDue is nextDue of an empty wheel.
const noneDue = math.MaxInt64

type entry[T Timed] struct {
	c   T
	due int64
}

// init readies a wheel whose first tick to process comes after at.
func (w *Wheel[T]) init(at int64) {
	w.at = at
	w.nextDue.Store(noneDue)
}

// Arm asks for a firing of c at tick due (or the next tick, if due has passed).
func (w *Wheel[T]) Arm(c T, due int64) {
	slotDue := c.TimerDue()
	if *slotDue != 0 && *slotDue <= due {
		return // an earlier entry exists; it re-arms for this deadline when it fires
	}
	if due <= w.at {
		due = w.at + 1
	}
	*slotDue = due
	slot := &w.slots[due%wheelSlots]
	*slot = append(*slot, entry[T]{c: c, due: due})
	w.live++
	if due < w.nextDue.Load() {
		w.nextDue.Store(due)
	}
}

// Due says whether an entry may be due at tick now.
func (w *Wheel[T]) Due(now int64) bool { return now >= w.nextDue.Load() }

// Advance calls fire for every entry due up to and including tick now, with now.
func (w *Wheel[T]) Advance(now int64, fire func(c T, now int64)) {
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
			if d := e.c.TimerDue(); *d != e.due {
				continue // stale: the connection re-armed earlier, or was closed
			} else {
				*d = 0
			}
			// The real tick, not the slot's: a late pass must not send a keepalive ping and
			// find it unanswered in one go, before the loop could read the pong.
			fire(e.c, now)
		}
		clear(entries) // let closed connections be collected
		w.spare = entries[:0]
	}
}

// earliest is the first tick after w.at at which an entry (live or stale) is due: the first
// slot of the coming lap holding an entry for this lap, or the end of the lap when every
// entry waits for a later one (the slot walk meets them then).
func (w *Wheel[T]) earliest() int64 {
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
