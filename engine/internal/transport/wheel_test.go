package transport

import (
	"math/rand/v2"
	"testing"
)

// TestTimerWheelNextDue checks the hint that lets loops and the ticker skip ticks: no entry
// ever fires before nextDue, and nextDue is exact while the first entry is within a lap.
func TestTimerWheelNextDue(t *testing.T) {
	var w Wheel[*session]
	w.init(0)
	if w.Due(1 << 40) {
		t.Fatal("an empty wheel says a timer is due")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sessions := make([]*session, 200)
	for i := range sessions {
		sessions[i] = &session{}
	}
	// Each session records the tick it fired at through its due field.
	want := map[*session]int64{}
	for _, s := range sessions {
		due := 1 + rng.Int64N(3*wheelSlots)
		w.Arm(s, due)
		want[s] = due
	}
	for now := int64(1); now <= 4*wheelSlots; now++ {
		next := w.nextDue.Load()
		min := int64(noneDue)
		for s, due := range want {
			if s.timerDue == due && due < min {
				min = due
			}
		}
		if min < next {
			t.Fatalf("tick %d: an entry is due at %d but nextDue is %d", now, min, next)
		}
		if min != noneDue && min-w.at <= wheelSlots && min != next {
			t.Fatalf("tick %d: nextDue %d, first entry %d within the lap", now, next, min)
		}
		if !w.Due(now) {
			continue // skipped tick: nothing may be due
		}
		firing := map[*session]bool{}
		for s, due := range want {
			if s.timerDue == due && due <= now {
				firing[s] = true
			}
		}
		before := len(firing)
		w.Advance(now, func(s *session, _ int64) { delete(firing, s); delete(want, s) })
		if len(firing) != 0 {
			t.Fatalf("tick %d: %d of %d due entries did not fire", now, len(firing), before)
		}
	}
	if len(want) != 0 || w.nextDue.Load() != noneDue {
		t.Fatalf("%d entries never fired; nextDue %d", len(want), w.nextDue.Load())
	}
}

// session stands for a connection in the wheel's tests.
type session struct{ timerDue int64 }

func (s *session) TimerDue() *int64 { return &s.timerDue }
