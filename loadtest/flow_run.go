package loadtest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/wsfleet/wsfleet/engine"
)

// A connection walks its flow as a small state machine: its event loop drives it with
// messages (OnMessage), and the run's timer goroutines (the senders' heaps) with the times it
// waits for — a think's end, an expect's deadline, an open loop's next intended time. Both
// take the session's lock, so a step never runs twice at once, and neither blocks: Send on a
// Handler connection never waits.

// Error kinds of flows.
const (
	KindExpectTimeout = "expect_timeout"
	KindFlowOthers    = "unexpected_message"
	KindFlowStep      = "flow_step"
	KindBadStamp      = "bad_stamp"
)

// maxPending bounds a connection's background expects (an open loop whose replies do not
// come): past it the oldest counts as timed out.
const maxPending = 4096

// catchUp bounds the late iterations of an open loop run in one go, so one connection that
// fell far behind cannot hold its event loop; the rest run on the next timer pass.
const catchUp = 256

func (r *run) newSession(cs *connState) (*Session, error) {
	p := r.prog
	s := &Session{r: r, p: p, cs: cs, id: cs.id, wait: waitOpen, rng: uint64(cs.id)*0x9e3779b97f4a7c15 + uint64(r.t0)}
	if p.feed != nil {
		row, err := p.feed.row(cs.id)
		if err != nil {
			return nil, err
		}
		s.row = row
	}
	if len(p.vars) > 0 {
		s.vars = make([][]byte, len(p.vars))
	}
	if len(p.metrics) > 0 {
		s.sentAt = make([]int64, len(p.metrics))
	}
	return s, nil
}

// start begins the flow when the connection opens.
func (s *Session) start(c *engine.Conn) {
	s.mu.Lock()
	s.conn = c
	s.wait = waitNone
	s.onLoop = true
	now := s.r.clk.Now()
	s.advance(now)
	s.rearm()
	s.mu.Unlock()
}

// advance runs steps from pc until one waits.
func (s *Session) advance(now int64) {
	r, p := s.r, s.p
	for n := 0; ; n++ {
		if s.pc >= len(p.ins) {
			s.done()
			return
		}
		in := &p.ins[s.pc]
		if in.op != opExpect && !r.sending.Load() {
			return // the run is over: nothing more is sent, but what was sent may still be answered
		}
		switch in.op {
		case opSend:
			s.buf = in.tmpl.render(s.buf[:0], s, s.seq)
			typ := engine.Text
			if in.binary {
				typ = engine.Binary
			}
			if err := s.conn.Send(typ, s.buf); err != nil {
				if !errors.Is(err, engine.ErrBackedUp) {
					s.fail(in, err)
					return
				}
				// the server is not reading: counted, and the flow goes on (an open loop
				// keeps its schedule; a closed one waits for a reply that will not come)
				s.cs.st.unsent.Add(1)
				r.errs.add(KindBackedUp, err)
				s.pc++
				continue
			}
			at := now
			if s.inOpenLoop() {
				at = s.iterAt
			}
			s.cs.st.sent.Add(1)
			if at >= r.warmEnd {
				s.cs.st.sentM.Add(1)
			}
			if in.sendAs >= 0 {
				s.sentAt[in.sendAs] = at
			}
			s.pc++
		case opExpect:
			from := now
			if in.measure >= 0 {
				from = s.sentAt[in.measure]
			} else if in.inOpen {
				from = s.iterAt
			}
			r.waiting.Add(1)
			if in.inOpen {
				if len(s.pend) >= maxPending {
					s.expire(0) // bounded memory: the oldest outstanding expect gives way, as a timeout
				}
				s.pend = append(s.pend, pending{pc: s.pc, seq: s.seq, from: from, deadline: now + in.timeout})
				s.pc++
				continue
			}
			s.wait, s.expSeq, s.expFrom, s.until = waitExpect, s.seq, from, now+in.timeout
			return
		case opThink:
			s.pc++
			s.wait, s.until = waitThink, now+s.thinkNs(&in.think)
			return
		case opLoop:
			l := in.loop
			ls := loopState{start: s.pc, left: -1}
			if l.Count > 0 {
				ls.left = l.Count
			}
			if l.Total > 0 {
				ls.left = int(quota(l.Total, s.id, r.cfg.Conns))
				if ls.left == 0 {
					s.pc = in.jump + 1 // this connection's share of the total is none
					continue
				}
			}
			if l.Duration > 0 {
				ls.end = now + int64(l.Duration)
			}
			if iv := s.interval(in); iv > 0 {
				phase := r.t0 + int64(float64(iv)*float64(s.id%r.cfg.Conns)/float64(r.cfg.Conns))
				ls.next = firstSlot(phase, iv, now)
				s.loops = append(s.loops, ls)
				s.wait, s.until = waitSlot, ls.next
				return
			}
			s.loops = append(s.loops, ls)
			s.seq++
			s.pc++
		case opLoopEnd:
			ls := &s.loops[len(s.loops)-1]
			if ls.left > 0 {
				ls.left--
			}
			loopIn := &p.ins[ls.start]
			if iv := s.interval(loopIn); iv > 0 {
				ls.next += iv
				if ls.left == 0 || (ls.end > 0 && ls.next >= ls.end) || ls.next >= r.end {
					s.loops = s.loops[:len(s.loops)-1]
					s.pc++
					continue
				}
				if ls.next <= now && n < catchUp {
					s.iterAt = ls.next // late: this iteration is due already; its latency counts from when it was due
					s.cs.st.recordLag(now-ls.next, ls.next >= r.warmEnd)
					s.seq++
					s.pc = ls.start + 1
					continue
				}
				s.wait, s.until = waitSlot, ls.next
				return
			}
			if ls.left == 0 || (ls.end > 0 && now >= ls.end) {
				s.loops = s.loops[:len(s.loops)-1]
				s.pc++
				continue
			}
			s.seq++
			s.pc = ls.start + 1
		case opClose:
			s.done()
			s.cs.selfClose.Store(true)
			s.close(engine.CloseCode(in.code), in.reason)
			return
		case opGo:
			if err := in.fn(s); err != nil {
				s.fail(in, err)
				return
			}
			s.pc++
		}
	}
}

func (s *Session) inOpenLoop() bool {
	if len(s.loops) == 0 {
		return false
	}
	return s.interval(&s.p.ins[s.loops[len(s.loops)-1].start]) > 0
}

// interval is an open loop's period for this connection (0 for a closed loop).
func (s *Session) interval(in *instr) int64 {
	l := in.loop
	switch {
	case l.Every > 0:
		return int64(l.Every)
	case l.Rate > 0 && l.Fleet:
		return max(1, int64(1e9*float64(s.r.cfg.Conns)/l.Rate))
	case l.Rate > 0:
		return max(1, int64(1e9/l.Rate))
	}
	return 0
}

func (s *Session) thinkNs(t *Think) int64 {
	switch {
	case t.Mean > 0:
		u := float64(s.rand()>>11) / (1 << 53)
		return int64(-math.Log(1-u) * float64(t.Mean))
	case t.Max > 0:
		return int64(t.Min) + int64(s.rand()%uint64(t.Max-t.Min+1))
	}
	return int64(t.Fixed)
}

// fail ends the connection's flow after a step failed: the error is counted and the
// connection closed (it is not counted as dropped).
func (s *Session) fail(in *instr, err error) {
	kind := KindFlowStep
	var fe *flowStepErr
	if errors.As(err, &fe) {
		kind = fe.kind
	} else if k := classify(err); k != KindOther {
		kind = k
	}
	s.r.errs.add(kind, fmt.Errorf("%s: %s: %w", in.pos, in.name, err))
	s.end()
}

type flowStepErr struct {
	kind string
	msg  string
}

func (e *flowStepErr) Error() string { return e.msg }

// done marks the flow finished (once): the run ends early when every flow has.
func (s *Session) done() {
	if s.wait != waitDone {
		s.wait = waitDone
		s.r.flowsDone.Add(1)
	}
}

func (s *Session) end() {
	s.done()
	if s.conn != nil && !s.cs.selfClose.Swap(true) {
		s.close(engine.CloseNormal, "wsbench: flow ended")
	}
}

// close starts the close handshake. In the connection's own callbacks (s.onLoop) CloseWith
// starts it and returns. A step run by a sender's timer must not wait for the server's
// answer either: the connection's loop needs the session's lock, held here, to read it, and
// the sender has other connections' wake-ups due — so there the wait is left to a goroutine.
func (s *Session) close(code engine.CloseCode, reason string) {
	if s.onLoop {
		_ = s.conn.CloseWith(code, reason)
		return
	}
	c := s.conn
	go func() { _ = c.CloseWith(code, reason) }()
}

// wake handles what is due at now: a think's end, an expect's deadline, an open loop's
// iteration, background expects past their deadline.
func (s *Session) wake(now int64) {
	r := s.r
	for i := 0; i < len(s.pend); {
		if s.pend[i].deadline > now {
			i++
			continue
		}
		s.expire(i)
	}
	if s.until > now {
		return
	}
	switch s.wait {
	case waitThink:
		s.wait = waitNone
		s.advance(now)
	case waitSlot:
		ls := &s.loops[len(s.loops)-1]
		s.iterAt = ls.next
		s.cs.st.recordLag(now-ls.next, ls.next >= r.warmEnd)
		s.seq++
		s.pc = ls.start + 1
		s.wait = waitNone
		s.advance(now)
	case waitExpect:
		in := &s.p.ins[s.pc]
		r.waiting.Add(-1)
		r.countLabel(s.cs.st, in.ctrTimeout, s.expFrom, nil)
		err := &flowStepErr{KindExpectTimeout, fmt.Sprintf("%s: %s: no match within %s", in.pos, in.name, time.Duration(in.timeout))}
		if in.optional {
			r.errs.add(KindExpectTimeout, err)
			s.wait = waitNone
			s.pc++
			s.advance(now)
			return
		}
		s.fail(in, err)
	}
}

// expire gives up background expect i: a timeout.
func (s *Session) expire(i int) {
	r, pe := s.r, s.pend[i]
	s.pend = append(s.pend[:i], s.pend[i+1:]...)
	r.waiting.Add(-1)
	in := &s.p.ins[pe.pc]
	r.countLabel(s.cs.st, in.ctrTimeout, pe.from, nil)
	r.errs.add(KindExpectTimeout, &flowStepErr{KindExpectTimeout, fmt.Sprintf("%s: %s: no match within %s", in.pos, in.name, time.Duration(in.timeout))})
}

func (s *Session) nextWake() int64 {
	var w int64
	switch s.wait {
	case waitExpect, waitThink, waitSlot:
		w = s.until
	}
	for _, pe := range s.pend {
		if w == 0 || pe.deadline < w {
			w = pe.deadline
		}
	}
	return w
}

// rearm puts the session's next wake-up in its sender's heap unless an earlier one is there.
func (s *Session) rearm() {
	w := s.nextWake()
	if w > 0 && (s.armed == 0 || w < s.armed) {
		s.armed = w
		s.cs.sd.add(s.cs.idx, w)
	}
}

// flowTimer is the senders' callback for a flow connection: it returns the next time to be
// called at, or -1 to leave the heap.
func (r *run) flowTimer(idx int, due int64) int64 {
	s := r.conns[idx].fs
	s.mu.Lock()
	defer s.mu.Unlock()
	if due != s.armed {
		return -1 // superseded by an earlier wake-up
	}
	s.armed = 0
	if s.conn == nil || s.wait == waitDone && len(s.pend) == 0 {
		return -1
	}
	s.onLoop = false
	s.wake(r.clk.Now())
	if w := s.nextWake(); w > 0 {
		s.armed = w
		return w
	}
	return -1
}

// onMessage: rules first, then the expect that waits, then background expects in order;
// what nobody wanted is counted by label.
func (s *Session) onMessage(typ engine.MessageType, data []byte) {
	r, p, st := s.r, s.p, s.cs.st
	now := r.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onLoop = true
	if r.user { // the built-in scenarios count the stamps they take
		st.recv.Add(1)
		if now >= r.warmEnd {
			st.recvM.Add(1)
		}
	}
	if s.cs.selfClose.Load() {
		return // closing: what still arrives answers nothing and is owed nothing
	}
	for i := range p.rules {
		rl := &p.rules[i]
		if !rl.m.match(s, s.seq, typ, data) {
			continue
		}
		if rl.reply != nil && s.conn != nil {
			s.buf = rl.reply.render(s.buf[:0], s, s.seq)
			t := engine.Text
			if rl.reply.binary {
				t = engine.Binary
			}
			if err := s.conn.Send(t, s.buf); err != nil {
				r.errs.addErr(err)
			} else {
				st.sent.Add(1)
			}
		}
		if rl.ctr >= 0 {
			r.countLabel(st, rl.ctr, now, nil)
		}
		if rl.stamp != nil {
			s.recordStamp(rl.stamp, data, now)
		}
		return
	}
	if s.wait == waitExpect {
		in := &p.ins[s.pc]
		if in.m.match(s, s.expSeq, typ, data) {
			r.waiting.Add(-1)
			s.matched(in, s.expFrom, now, data)
			s.wait = waitNone
			s.pc++
			s.advance(now)
			s.rearm()
			return
		}
	}
	for i := range s.pend {
		pe := s.pend[i]
		in := &p.ins[pe.pc]
		if in.m.match(s, pe.seq, typ, data) {
			s.pend = append(s.pend[:i], s.pend[i+1:]...)
			r.waiting.Add(-1)
			s.matched(in, pe.from, now, data)
			return
		}
	}
	if p.unmatched >= 0 {
		r.countLabel(st, p.unmatched, now, data)
		return
	}
	if s.wait == waitExpect {
		in := &p.ins[s.pc]
		r.countLabel(st, in.ctrOthers, now, data)
		if in.failOthers {
			r.waiting.Add(-1)
			s.fail(in, &flowStepErr{KindFlowOthers, fmt.Sprintf("a message that does not match arrived (others: fail): %s", example(data))})
		}
		return
	}
	r.countLabel(st, p.unexpected, now, data)
}

func (s *Session) matched(in *instr, from, now int64, data []byte) {
	r := s.r
	r.countLabel(s.cs.st, in.ctr, now, nil)
	for _, c := range in.caps {
		c.take(s, data)
	}
	if in.measure >= 0 {
		s.cs.st.recordMetric(in.measure, now-from, from >= r.warmEnd)
	}
	if in.stamp != nil {
		s.recordStamp(in.stamp, data, now)
	}
}

func (s *Session) recordStamp(st *stamp, data []byte, now int64) {
	ts, ok := st.read(data)
	if !ok {
		s.r.errs.add(KindBadStamp, &flowStepErr{KindBadStamp, "no time where the stamp of " + s.p.metrics[st.metric].Name + " should be: " + example(data)})
		return
	}
	s.cs.st.recordMetric(st.metric, time.Now().UnixNano()-ts, now >= s.r.warmEnd)
}

// stop releases what the session still waits for when its connection ends.
func (s *Session) stop() {
	s.mu.Lock()
	if s.wait == waitExpect {
		s.r.waiting.Add(-1)
	}
	s.r.waiting.Add(-int64(len(s.pend)))
	s.pend = s.pend[:0]
	s.done()
	s.mu.Unlock()
}

// pause releases what the session waits for when its connection drops and the engine will
// redial it (Config.Reconnect), and rewinds the flow to its first step for the new connection
// (unless it had finished). The stamps it sent that were not answered are lost in the gap.
func (s *Session) pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wait == waitExpect {
		s.r.waiting.Add(-1)
	}
	s.r.waiting.Add(-int64(len(s.pend)))
	s.pend = s.pend[:0]
	if s.wait != waitDone {
		s.wait, s.pc, s.loops, s.until = waitOpen, 0, s.loops[:0], 0
	}
	cs := s.cs
	if lost := cs.sentEp - cs.recvEp; lost > 0 {
		cs.gapLost += lost
		s.r.lostInGaps.Add(lost)
	}
	cs.sentEp, cs.recvEp = 0, 0
}

// finished says whether the session's flow ran to its end.
func (s *Session) finished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wait == waitDone
}

// countLabel counts one event under label i (measured from at), keeping an example message.
func (r *run) countLabel(st *stripe, i int, at int64, ex []byte) {
	st.ctr[2*i].Add(1)
	if at >= r.warmEnd {
		st.ctr[2*i+1].Add(1)
	}
	if ex != nil && !r.exSet[i].Load() {
		r.exMu.Lock()
		if r.examples[i] == "" {
			r.examples[i] = example(ex)
			r.exSet[i].Store(true)
		}
		r.exMu.Unlock()
	}
}

// example shows a message in a report: text as is, binary in hex, cut to 64 bytes.
func example(b []byte) string {
	cut := ""
	if len(b) > 64 {
		b, cut = b[:64], "…"
	}
	if utf8.Valid(b) {
		return fmt.Sprintf("%q%s", b, cut)
	}
	return "hex " + hex.EncodeToString(b) + cut
}

// flowHandler is the engine Handler of a flow's connections.
type flowHandler struct{ r *run }

func (h *flowHandler) OnOpen(c *engine.Conn) {
	cs := c.Value().(*connState)
	h.r.connOpened(c)
	if h.r.reopened(cs) && cs.fs.finished() {
		return // back after a drop, but its flow had already run to the end
	}
	cs.fs.start(c)
}

func (h *flowHandler) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	c.Value().(*connState).fs.onMessage(typ, data)
}

func (h *flowHandler) OnClose(c *engine.Conn, err error) {
	cs := c.Value().(*connState)
	if h.r.dropForRedial(cs, c) {
		cs.fs.pause()
	} else {
		cs.fs.stop()
	}
	h.r.connClosed(cs, err)
}

func (h *flowHandler) OnPong(c *engine.Conn, _ []byte) {
	c.Value().(*connState).st.pongs.Add(1)
}

// flowResult fills in a flow's metrics and counts, and its message totals.
func (r *run) flowResult(res *Result) {
	p := r.prog
	if r.user {
		res.Flow = p.Flow.Name
	}
	for i, m := range p.metrics {
		h := newHist()
		for _, st := range r.stripes {
			st.mu.Lock()
			h.Merge(st.mh[i])
			st.mu.Unlock()
		}
		res.Metrics = append(res.Metrics, MetricSummary{Name: m.Name, Stamp: m.Stamp, Latency: summarize(h)})
	}
	if len(res.Metrics) > 0 {
		res.Latency = res.Metrics[0].Latency
	}
	for i, l := range p.labels {
		c := LabelCount{Label: l, Example: r.examples[i]}
		for _, st := range r.stripes {
			c.Total += st.ctr[2*i].Load()
			c.Count += st.ctr[2*i+1].Load()
		}
		if c.Total > 0 || !isAuxLabel(l) {
			res.Counts = append(res.Counts, c)
		}
	}
	if !r.user {
		return // the built-in scenarios count their stamped messages themselves
	}
	m := &res.Messages
	*m = MsgCounts{Unsent: m.Unsent}
	for _, st := range r.stripes {
		m.Sent += st.sentM.Load()
		m.Received += st.recvM.Load()
		m.SentTotal += st.sent.Load()
		m.ReceivedTotal += st.recv.Load()
	}
	if res.MeasuredS > 0 {
		m.SendPerS = float64(m.Sent) / res.MeasuredS
		m.RecvPerS = float64(m.Received) / res.MeasuredS
	}
	for _, cs := range r.conns { // a flow using the stamp steps (-flow echo, -flow push)
		t := &cs.track
		m.Duplicates += int64(t.dup)
		m.Reordered += int64(t.reord)
		m.Corrupt += int64(t.corrupt)
		switch {
		case cs.pl != nil && cs.seq > t.recv:
			m.Lost += int64(cs.seq - t.recv)
		case cs.pl == nil && t.next > t.recv:
			m.Lost += int64(t.next - t.recv)
		}
	}
	for _, ms := range res.Metrics {
		if ms.Stamp {
			res.addNote(fmt.Sprintf("%s is measured from a time inside the messages: it compares the sender's (or server's) clock with this host's, and is only as right as the two agree", ms.Name))
		}
	}
	if n := r.waiting.Load(); n > 0 {
		res.addNote(fmt.Sprintf("%d expects were still waiting when the run ended (after a %s drain): counted neither as matched nor as timed out", n, r.cfg.Drain))
	}
}

// isAuxLabel: the derived labels (timeouts, others, unexpected) are reported only when
// something was counted under them.
func isAuxLabel(l string) bool {
	return l == UnexpectedLabel || len(l) > 9 && l[:9] == "timeouts(" || len(l) > 7 && l[:7] == "others("
}
