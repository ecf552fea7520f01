package transport

import (
	"sync/atomic"
	"time"
)

// TickDuration is the resolution of every engine timer (connect, close, keepalive). It is
// small enough for a 10% accuracy on timeouts of 100 ms and more.
const TickDuration = 10 * time.Millisecond

// TicksFor converts a duration to ticks, rounding up so a timeout never fires early.
func TicksFor(d time.Duration) int64 { return int64((d + TickDuration - 1) / TickDuration) }

// Clock is the engine's coarse clock: ticks since it started, advanced by RunTicker, read
// by timers and idle tracking instead of time.Now.
type Clock struct {
	start time.Time
	tick  atomic.Int64
}

// NewClock starts a clock at tick 0.
func NewClock() *Clock { return &Clock{start: time.Now()} }

// Now is the current tick.
func (c *Clock) Now() int64 { return c.tick.Load() }

// TickAt is the first tick at or after t, so a deadline never fires early.
func (c *Clock) TickAt(t time.Time) int64 { return TicksFor(t.Sub(c.start)) }

// advance sets the tick for the wall time at.
func (c *Clock) advance(at time.Time) int64 {
	now := int64(at.Sub(c.start) / TickDuration)
	c.tick.Store(now)
	return now
}
