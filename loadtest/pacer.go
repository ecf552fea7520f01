package loadtest

import "sync"

// pacer keeps the next intended send time of each of its slots (one per connection) in a
// min-heap. The schedule is fixed by arithmetic, not by when the caller gets round to it: a
// slot due at t stays due at t however late Fire is called, which is what keeps the open
// model free of coordinated omission.
type pacer struct {
	h []pslot
}

type pslot struct {
	next int64
	id   int
}

// Len is the number of slots.
func (p *pacer) Len() int { return len(p.h) }

// Add schedules slot id at next.
func (p *pacer) Add(id int, next int64) {
	p.h = append(p.h, pslot{next: next, id: id})
	p.up(len(p.h) - 1)
}

// Next is the earliest intended time, if any slot is left.
func (p *pacer) Next() (int64, bool) {
	if len(p.h) == 0 {
		return 0, false
	}
	return p.h[0].next, true
}

// Fire calls fn for slots due at or before now, earliest first, at most max of them (0: no
// limit). fn returns when the slot is due next (-1: it leaves the schedule). Fire returns
// how many calls it made.
func (p *pacer) Fire(now int64, max int, fn func(id int, intended int64) int64) int {
	n := 0
	for len(p.h) > 0 && p.h[0].next <= now && (max <= 0 || n < max) {
		s := &p.h[0]
		n++
		if next := fn(s.id, s.next); next >= 0 {
			s.next = next
			p.down(0)
		} else {
			p.pop()
		}
	}
	return n
}

func (p *pacer) pop() {
	last := len(p.h) - 1
	p.h[0] = p.h[last]
	p.h = p.h[:last]
	if last > 0 {
		p.down(0)
	}
}

func (p *pacer) less(i, j int) bool {
	if p.h[i].next != p.h[j].next {
		return p.h[i].next < p.h[j].next
	}
	return p.h[i].id < p.h[j].id
}

func (p *pacer) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !p.less(i, parent) {
			return
		}
		p.h[i], p.h[parent] = p.h[parent], p.h[i]
		i = parent
	}
}

func (p *pacer) down(i int) {
	n := len(p.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && p.less(r, l) {
			m = r
		}
		if !p.less(m, i) {
			return
		}
		p.h[i], p.h[m] = p.h[m], p.h[i]
		i = m
	}
}

// firstSlot is the first time phase + k*interval (k >= 0) at or after now: where a
// connection that opens at now joins its place in the schedule.
func firstSlot(phase, interval, now int64) int64 {
	if now <= phase {
		return phase
	}
	k := (now - phase + interval - 1) / interval
	return phase + k*interval
}

// schedule is the open model's arithmetic: connection id (0..Total-1 across every shard)
// sends every Interval ns, offset by Phase(id), so that the whole fleet's sends are evenly
// spread in time and the shards interleave exactly.
type schedule struct {
	Start    int64 // clock time of the schedule's origin
	Interval int64 // per connection, ns
	Total    int   // connections in the whole fleet
}

// scheduleFor builds the schedule for a target rate: total (messages/s across the whole
// fleet) or, when perConn is set, per connection.
func scheduleFor(start int64, rate float64, perConn bool, total int) schedule {
	if total < 1 {
		total = 1
	}
	perConnRate := rate
	if !perConn {
		perConnRate = rate / float64(total)
	}
	iv := int64(1e9 / perConnRate)
	if iv < 1 {
		iv = 1
	}
	return schedule{Start: start, Interval: iv, Total: total}
}

// Phase is connection id's offset within an interval.
func (s schedule) Phase(id int) int64 {
	return s.Start + int64(float64(s.Interval)*float64(id%s.Total)/float64(s.Total))
}

// sender is one open-model sending goroutine: it owns a share of the connections and fires
// their scheduled sends on time (or as soon as it can when late, recording how late).
type sender struct {
	clk   clock
	sl    sleeper
	pacer pacer
	end   int64 // intended times at or after end are not sent
	// send makes one scheduled send (or runs one timer); it returns when the slot is due
	// next, or -1 when it leaves the schedule (connection gone, quota reached).
	send func(id int, intended int64) int64

	wake chan struct{}
	stop chan struct{}

	mu      sync.Mutex
	pending []pslot
}

func newSender(clk clock, end int64, send func(id int, intended int64) int64, stop chan struct{}) *sender {
	return &sender{clk: clk, sl: clk.NewSleeper(), end: end, send: send, wake: make(chan struct{}, 1), stop: stop}
}

// add schedules a connection from another goroutine (an event loop's OnOpen).
func (s *sender) add(id int, first int64) {
	s.mu.Lock()
	s.pending = append(s.pending, pslot{next: first, id: id})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// idleWait bounds a sleep with nothing scheduled, so that stop and new slots are seen.
const idleWait = int64(50e6)

// run fires the schedule until the clock reaches end or stop is closed.
func (s *sender) run() {
	defer s.sl.Close()
	fire := func(id int, intended int64) int64 {
		if intended >= s.end {
			return -1
		}
		return s.send(id, intended)
	}
	for {
		s.mu.Lock()
		for _, p := range s.pending {
			s.pacer.Add(p.id, p.next)
		}
		s.pending = s.pending[:0]
		s.mu.Unlock()

		now := s.clk.Now()
		for s.pacer.Fire(now, 4096, fire) == 4096 {
			// far behind: keep going, but look at the stop channel between batches
			select {
			case <-s.stop:
				return
			default:
			}
		}
		if now >= s.end {
			return
		}
		select {
		case <-s.stop:
			return
		default:
		}
		next, ok := s.pacer.Next()
		if !ok || next > now+idleWait {
			next = now + idleWait
		}
		if next > s.end {
			next = s.end
		}
		s.sl.SleepUntil(next, s.wake)
	}
}

// startSenders starts n senders (timer goroutines) calling fire.
func (r *run) startSenders(n int, fire func(idx int, intended int64) int64, stop chan struct{}, wg *sync.WaitGroup) {
	for range n {
		sd := newSender(r.clk, r.end, fire, stop)
		r.senders = append(r.senders, sd)
		wg.Add(1)
		go func() { defer wg.Done(); sd.run() }()
	}
}
