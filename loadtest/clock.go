package loadtest

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// clock is a run's time source: monotonic nanoseconds since an origin. The schedule, the
// latency stamps and the sender lag all read it, so a test can drive a run's rate control on
// simulated time.
type clock interface {
	// Now is the time in nanoseconds since the clock's origin.
	Now() int64
	// NewSleeper returns a sleeper for one goroutine.
	NewSleeper() sleeper
}

// sleeper waits on a clock; each goroutine that sleeps has its own.
type sleeper interface {
	// SleepUntil returns when Now() >= t or when wake is signalled (or closed), whichever
	// comes first.
	SleepUntil(t int64, wake <-chan struct{})
}

// realClock reads the monotonic clock relative to Origin.
type realClock struct{ Origin time.Time }

// newRealClock starts a real clock now.
func newRealClock() *realClock { return &realClock{Origin: time.Now()} }

// Now implements clock.
func (c *realClock) Now() int64 { return int64(time.Since(c.Origin)) }

// Wall converts a clock reading to wall-clock time.
func (c *realClock) Wall(t int64) time.Time { return c.Origin.Add(time.Duration(t)) }

// NewSleeper implements clock.
func (c *realClock) NewSleeper() sleeper {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &realSleeper{c: c, t: t}
}

type realSleeper struct {
	c *realClock
	t *time.Timer
}

// preciseSleep: waits shorter than this end in nanosleep(2) on the sender's thread rather
// than on a Go timer. Go's timers wake through epoll_wait, whose timeout is in whole
// milliseconds: a 200 µs timer sleep lasts about 1 ms when nothing else is running, which
// would turn a smooth schedule into 1 ms bursts (and show as sender lag). nanosleep wakes
// within tens of microseconds.
const preciseSleep = 2 * time.Millisecond

func (s *realSleeper) SleepUntil(t int64, wake <-chan struct{}) {
	for {
		d := time.Duration(t - s.c.Now())
		if d <= 0 {
			return
		}
		if d <= preciseSleep {
			ts := unix.NsecToTimespec(int64(d))
			if err := unix.Nanosleep(&ts, nil); err == unix.EINTR {
				continue
			}
			return
		}
		s.t.Reset(d - preciseSleep/2) // the last stretch is slept precisely
		select {
		case <-s.t.C:
		case <-wake:
			s.t.Stop()
			return
		}
	}
}

// simClock is simulated time for tests: it moves only when a sleeper sleeps, and then to the
// requested time plus an overshoot that imitates a busy scheduler (deterministic).
type simClock struct {
	mu  sync.Mutex
	now int64
	// Overshoot, when set, returns how far past the requested time a sleep ends (ns).
	Overshoot func() int64
}

// Now implements clock.
func (c *simClock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now += int64(d)
	c.mu.Unlock()
}

// NewSleeper implements clock.
func (c *simClock) NewSleeper() sleeper { return simSleeper{c} }

type simSleeper struct{ c *simClock }

func (s simSleeper) SleepUntil(t int64, wake <-chan struct{}) {
	select {
	case <-wake:
		return
	default:
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t > c.now {
		c.now = t
	}
	if c.Overshoot != nil {
		c.now += c.Overshoot()
	}
}
