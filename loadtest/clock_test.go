package loadtest

import (
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The real sleeper's short waits end on a timer descriptor read through the netpoller: they
// must last at least what was asked, wake wait, and give the descriptor back on Close.
func TestRealSleeperShortWaits(t *testing.T) {
	fds := openFDs(t)
	clk := newRealClock()
	sl := clk.NewSleeper()
	if sl.(*realSleeper).exact == nil {
		t.Fatal("no timer descriptor: short waits fall back to nanosleep")
	}
	for _, d := range []time.Duration{50 * time.Microsecond, 300 * time.Microsecond, 1500 * time.Microsecond, 5 * time.Millisecond} {
		from := clk.Now()
		sl.SleepUntil(from+int64(d), nil)
		if got := time.Duration(clk.Now() - from); got < d {
			t.Errorf("SleepUntil(+%v) returned after %v", d, got)
		}
	}
	wake := make(chan struct{})
	close(wake)
	from := clk.Now()
	sl.SleepUntil(from+int64(time.Hour), wake)
	if got := time.Duration(clk.Now() - from); got > time.Minute {
		t.Errorf("a closed wake channel did not end the sleep (%v)", got)
	}
	sl.Close()
	if got := openFDs(t); got != fds {
		t.Errorf("open descriptors %d before the sleeper, %d after Close", fds, got)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// BenchmarkShortSleep compares the ways to wait 200 µs: how late each wakes (late-µs/op) and
// the process CPU each costs (cpu-µs/op: user + system from getrusage, all threads, so the
// runtime's own wake-ups count). Alone in a process the timer descriptor wakes more
// punctually than nanosleep(2) (whose default timer slack is 50 µs) for about the same CPU;
// its gain is in a busy process, where a nanosleep's P is handed to another thread. A Go
// timer wakes up to a millisecond late.
func BenchmarkShortSleep(b *testing.B) {
	const d = 200 * time.Microsecond
	clk := newRealClock()
	et := newExactTimer()
	if et == nil {
		b.Skip("no timer descriptor")
	}
	defer et.close()
	tm := time.NewTimer(time.Hour)
	ways := []struct {
		name  string
		sleep func()
	}{
		{"timerfd", func() { _ = et.sleep(d) }},
		{"nanosleep", func() { ts := unix.NsecToTimespec(int64(d)); _ = unix.Nanosleep(&ts, nil) }},
		{"gotimer", func() { tm.Reset(d); <-tm.C }},
	}
	for _, w := range ways {
		b.Run(w.name, func(b *testing.B) {
			var late int64
			cpu0 := processCPU()
			for b.Loop() {
				from := clk.Now()
				w.sleep()
				late += clk.Now() - from - int64(d)
			}
			b.ReportMetric(float64(late)/float64(b.N)/1e3, "late-µs/op")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
		})
	}
}

// processCPU is the process's user + system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
