package engine

import (
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
	// liveHint mirrors live for the ticker goroutine, which must not read the wheel itself.
	liveHint atomic.Int64
}

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
	w.liveHint.Store(int64(w.live))
}

// advance fires every entry due up to and including tick now.
func (w *timerWheel) advance(now int64) {
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
			e.c.onTimer(now)
		}
		clear(entries) // let closed connections be collected
		w.spare = entries[:0]
	}
}
