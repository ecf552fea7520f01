package loadtest

import (
	"os"
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

// sleeper waits on a clock; each goroutine that sleeps has its own, and closes it when done.
type sleeper interface {
	// SleepUntil returns when Now() >= t or when wake is signalled (or closed), whichever
	// comes first.
	SleepUntil(t int64, wake <-chan struct{})
	// Close releases what the sleeper holds (a timer descriptor).
	Close()
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
	return &realSleeper{c: c, t: t, exact: newExactTimer()}
}

type realSleeper struct {
	c     *realClock
	t     *time.Timer
	exact *exactTimer // nil when no timer descriptor could be had: nanosleep(2) then
}

// preciseSleep: waits shorter than this end on a timer descriptor (exactTimer) rather than
// on a Go timer. Go's timers wake through epoll_wait, whose timeout is in whole
// milliseconds: a 200 µs timer sleep lasts about 1 ms when nothing else is running, which
// would turn a smooth schedule into 1 ms bursts (and show as sender lag).
const preciseSleep = 2 * time.Millisecond

func (s *realSleeper) SleepUntil(t int64, wake <-chan struct{}) {
	for {
		d := time.Duration(t - s.c.Now())
		if d <= 0 {
			return
		}
		if d <= preciseSleep {
			if s.exact == nil || s.exact.sleep(d) != nil {
				ts := unix.NsecToTimespec(int64(d))
				_ = unix.Nanosleep(&ts, nil) // EINTR: the loop measures again
			}
			continue
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

// Close implements sleeper.
func (s *realSleeper) Close() {
	s.t.Stop()
	if s.exact != nil {
		s.exact.close()
	}
}

// exactTimer sleeps on a timerfd(2) read through Go's netpoller: the kernel's timer wakes
// within microseconds, like nanosleep(2), but the goroutine parks without holding its
// thread in a system call. A nanosleep of up to preciseSleep makes the runtime hand the
// thread's P to another thread and restarts sysmon's 20 µs polling, once per send, which
// at a few hundred sends a second is a sizeable share of the load tester's own CPU
// (docs/benchmarks.md, "Where wsbench's CPU goes").
type exactTimer struct {
	fd  int      // the timer; never f.Fd(), which would make f blocking
	f   *os.File // owns fd, registered with the netpoller
	buf [8]byte
}

func newExactTimer() *exactTimer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &exactTimer{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
}

// sleep returns after d, or with an error (the caller then sleeps another way).
func (e *exactTimer) sleep(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(e.fd, 0, &spec, nil); err != nil {
		return err
	}
	_, err := e.f.Read(e.buf[:]) // the number of expiries, always 1 here
	return err
}

func (e *exactTimer) close() { _ = e.f.Close() }

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

// Close implements sleeper.
func (simSleeper) Close() {}

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
