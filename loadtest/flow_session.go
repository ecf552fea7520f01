package loadtest

import (
	"errors"
	"sync"

	"github.com/wsfleet/wsfleet/engine"
)

// Session is one connection walking a flow. Go steps and matchers receive it; its methods
// are safe only inside those calls (the session is locked then).
type Session struct {
	mu   sync.Mutex
	r    *run
	p    *Program
	cs   *connState
	conn *engine.Conn
	id   int

	row     [][]byte // feeder row
	vars    [][]byte // captured values, by slot
	sentAt  []int64  // by metric: when the send named so left (or was due, on a schedule)
	seq     uint64
	pc      int
	wait    waitKind
	expSeq  uint64 // seq of the blocking expect
	expFrom int64  // when the blocking expect started
	until   int64  // end of a think, or the blocking expect's deadline
	iterAt  int64  // intended time of the open loop's current iteration
	loops   []loopState
	pend    []pending
	buf     []byte // send rendering
	scratch []byte // matcher rendering
	rng     uint64
	armed   int64 // the earliest wake-up already in the timer heap (0: none)
	onLoop  bool  // the step running now runs in an engine callback (not a sender's timer)
}

type waitKind uint8

const (
	waitNone waitKind = iota
	waitOpen          // not yet open
	waitExpect
	waitThink
	waitSlot // an open loop's next intended time
	waitDone
)

type loopState struct {
	start int   // pc of the loop instruction
	left  int   // iterations left (count loops), -1 unlimited
	end   int64 // duration end, 0 none
	next  int64 // open loops: next intended time
}

// pending is an expect issued inside an open loop, waiting in the background.
type pending struct {
	pc       int
	seq      uint64
	from     int64 // measure start: the iteration's intended time
	deadline int64
}

// ID is the connection's id (0..connections-1 across every shard).
func (s *Session) ID() int { return s.id }

// Seq is the current sequence number ({{seq}}): it steps at each loop iteration.
func (s *Session) Seq() uint64 { return s.seq }

// Intended is the time the current step was due, on the run's clock (ns since its start):
// an open loop's iteration's intended time, else now. Latencies count from it.
func (s *Session) Intended() int64 {
	if s.inOpenLoop() {
		return s.iterAt
	}
	return s.r.clk.Now()
}

// Var returns a captured variable (nil when unset or unknown). The slice is the session's:
// copy it to keep it.
func (s *Session) Var(name string) []byte {
	for i, n := range s.p.vars {
		if n == name {
			return s.vars[i]
		}
	}
	return nil
}

// SetVar sets a captured variable declared by the flow (a capture of that name); it
// reports whether the flow has one.
func (s *Session) SetVar(name string, v []byte) bool {
	for i, n := range s.p.vars {
		if n == name {
			s.vars[i] = append(s.vars[i][:0], v...)
			return true
		}
	}
	return false
}

// Buffer returns the session's send buffer, empty, to build a message in without
// allocating; pass the result to Send.
func (s *Session) Buffer() []byte { return s.buf[:0] }

// Send sends a message now; it never blocks (a connection backed up past twice its pending
// limit fails with engine.ErrBackedUp). The data may be reused when Send returns.
func (s *Session) Send(binary bool, data []byte) error {
	if s.conn == nil {
		return errNotOpen
	}
	typ := engine.Text
	if binary {
		typ = engine.Binary
	}
	if cap(data) > cap(s.buf) {
		s.buf = data[:0] // keep the grown buffer for next time
	}
	err := s.conn.Send(typ, data)
	if err == nil {
		s.cs.st.sent.Add(1)
		if s.Intended() >= s.r.warmEnd {
			s.cs.st.sentM.Add(1)
		}
	}
	return err
}

var errNotOpen = errors.New("flow: the connection is not open")

// rand is a splitmix64 step: {{rand}} and {{uuid}} need speed, not secrecy.
func (s *Session) rand() uint64 {
	s.rng += 0x9e3779b97f4a7c15
	z := s.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (s *Session) renderScratch(t *tmpl, seq uint64) []byte {
	if t.static != nil {
		return t.static
	}
	s.scratch = t.render(s.scratch[:0], s, seq)
	return s.scratch
}
