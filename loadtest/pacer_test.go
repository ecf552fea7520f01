package loadtest

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// simRun drives the real sender loop on simulated time: every sleep overshoots by up to
// jitter, as on a busy machine. It returns the intended and actual times of every send.
func simRun(t *testing.T, conns int, sched schedule, end int64, jitter int64, stallAt, stallFor int64) (intended, actual []int64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	clk := &simClock{Overshoot: func() int64 {
		if jitter == 0 {
			return 0
		}
		return rng.Int64N(jitter)
	}}
	stalled := false
	send := func(id int, at int64) int64 {
		now := clk.Now()
		if stallFor > 0 && !stalled && now >= stallAt {
			stalled = true
			clk.Advance(time.Duration(stallFor)) // the generator itself freezes
			now = clk.Now()
		}
		intended = append(intended, at)
		actual = append(actual, now)
		return at + sched.Interval
	}
	sd := newSender(clk, end, send, make(chan struct{}))
	for id := range conns {
		sd.add(id, firstSlot(sched.Phase(id), sched.Interval, 0))
	}
	sd.run()
	return intended, actual
}

func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*want {
		t.Errorf("%s: got %.0f, want %.0f ± %.0f%%", what, got, want, tol*100)
	}
}

func TestRateTotalOnSimulatedClock(t *testing.T) {
	const rate, conns, secs = 10000.0, 100, 10
	sched := scheduleFor(0, rate, false, conns)
	intended, actual := simRun(t, conns, sched, secs*1e9, int64(3*time.Millisecond), 0, 0)
	within(t, "sends", float64(len(intended)), rate*secs, 0.02)
	perSec := make([]int, secs)
	var maxLag int64
	for i, at := range intended {
		perSec[at/1e9]++
		if lag := actual[i] - at; lag > maxLag {
			maxLag = lag
		}
		if actual[i] < at {
			t.Fatalf("send %d left %dns before its time", i, at-actual[i])
		}
	}
	for s, n := range perSec {
		within(t, "sends in second "+string(rune('0'+s)), float64(n), rate, 0.02)
	}
	if maxLag > int64(3*time.Millisecond) {
		t.Errorf("lag up to %v with sleeps overshooting at most 3ms", time.Duration(maxLag))
	}
}

func TestRatePerConnectionOnSimulatedClock(t *testing.T) {
	const perConn, conns, secs = 50.0, 40, 5
	sched := scheduleFor(0, perConn, true, conns)
	intended, _ := simRun(t, conns, sched, secs*1e9, int64(time.Millisecond), 0, 0)
	within(t, "sends", float64(len(intended)), perConn*conns*secs, 0.02)
}

// A generator that freezes for 300 ms still makes every send that fell due (late), and the
// schedule is unchanged: intended times stay on the grid, the lag shows the freeze.
func TestRateSurvivesGeneratorStall(t *testing.T) {
	const rate, conns = 1000.0, 10
	sched := scheduleFor(0, rate, false, conns)
	intended, actual := simRun(t, conns, sched, 2e9, 0, 1e9, int64(300*time.Millisecond))
	within(t, "sends", float64(len(intended)), 2000, 0.02)
	var maxLag int64
	for i, at := range intended {
		if at%int64(1e6) != 0 {
			t.Fatalf("intended time %d off the 1 ms grid", at)
		}
		maxLag = max(maxLag, actual[i]-at)
	}
	if maxLag < int64(290*time.Millisecond) {
		t.Errorf("max lag %v: the 300 ms freeze should show as sender lag", time.Duration(maxLag))
	}
}

func TestPacerOrderAndRemoval(t *testing.T) {
	var p pacer
	p.Add(1, 30)
	p.Add(2, 10)
	p.Add(3, 20)
	var got []int
	p.Fire(250, 0, func(id int, at int64) int64 {
		got = append(got, id)
		if id == 3 {
			return -1 // 3 leaves after its first send
		}
		return at + 100
	})
	want := []int{2, 3, 1, 2, 1, 2, 1}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired %v, want %v", got, want)
		}
	}
	if n, _ := p.Next(); p.Len() != 2 || n != 310 {
		t.Fatalf("len %d next %d", p.Len(), n)
	}
}

func TestFirstSlot(t *testing.T) {
	for _, c := range []struct{ phase, iv, now, want int64 }{
		{5, 10, 0, 5}, {5, 10, 5, 5}, {5, 10, 6, 15}, {5, 10, 25, 25}, {5, 10, 26, 35},
	} {
		if got := firstSlot(c.phase, c.iv, c.now); got != c.want {
			t.Errorf("firstSlot(%d,%d,%d) = %d, want %d", c.phase, c.iv, c.now, got, c.want)
		}
	}
}
