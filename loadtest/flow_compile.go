package loadtest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/codec"
)

// ErrFlow marks every error in a flow (errors.Is); a *FlowError says where.
var ErrFlow = errors.New("flow")

// FlowError is a mistake in a flow, with its place (file:line:column), the step, and what
// was expected instead.
type FlowError struct {
	Pos  Pos
	Step string // "step 3 (expect)", "on rule 1", "flow"
	Err  error
}

func (e *FlowError) Error() string {
	if e.Step == "" {
		return fmt.Sprintf("%s: %v", e.Pos, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Pos, e.Step, e.Err)
}

func (e *FlowError) Unwrap() []error { return []error{ErrFlow, e.Err} }

// Program is a compiled, checked Flow, ready to run (Config.Flow). Compile it once; it is
// shared read-only by every connection.
type Program struct {
	Flow    *Flow
	ins     []instr
	rules   []rule
	metrics []metricDef
	labels  []string
	vars    []string
	feed    *feed
	headers []headerT
	slos    []SLO
	// unexpected counts what arrived while no expect waited and no rule matched; unmatched,
	// when the flow names a label for it (-1: none), every message nobody wanted.
	unexpected, unmatched int
}

type opcode uint8

const (
	opSend opcode = iota
	opExpect
	opThink
	opLoop
	opLoopEnd
	opClose
	opGo
)

type instr struct {
	op   opcode
	pos  Pos
	name string // "step 3 (expect)"

	// send
	tmpl   *tmpl
	binary bool
	sendAs int // metric, -1

	// expect
	m          *matcher
	timeout    int64
	optional   bool
	failOthers bool
	caps       []*capture
	measure    int // metric, -1
	stamp      *stamp
	ctr        int // counter of matches
	ctrTimeout int // timeouts(label)
	ctrOthers  int // others(label): what arrived meanwhile
	inOpen     bool

	// think
	think Think

	// loop: the matching end is at jump; a loop end jumps back to its start
	loop *Loop
	iv   int64
	jump int

	// close
	code   int
	reason string

	fn func(*Session) error
}

type rule struct {
	m     *matcher
	reply *tmpl
	ctr   int
	stamp *stamp
	pos   Pos
}

type metricDef struct {
	Name  string
	Stamp bool // from a time inside the message: depends on two clocks
}

type headerT struct {
	name string
	v    *tmpl
}

// DefaultExpectTimeout applies to an expect without a timeout.
const DefaultExpectTimeout = 10 * time.Second

// UnexpectedLabel counts messages that arrived while no expect waited and no rule matched.
const UnexpectedLabel = "unexpected"

// Compile checks f whole and compiles it. baseDir resolves relative data and payload files
// (the flow file's directory; "" for the working directory). Nothing is dialled: every
// mistake a flow can hold is reported here, with its place.
func Compile(f *Flow, baseDir string) (*Program, error) {
	p := &Program{Flow: f}
	sc := &scope{params: f.Params, vars: map[string]int{}}
	fail := func(pos Pos, step string, err error) error {
		if pos.File == "" {
			pos.File = f.Pos.File
		}
		return &FlowError{Pos: pos, Step: step, Err: err}
	}
	if f.Data != nil {
		fd, err := loadFeed(resolve(baseDir, f.Data.File), f.Data.Unique)
		if err != nil {
			if f.Data.Pos == (Pos{}) { // attached from outside the file (wsbench run -data): its error names its own place
				return nil, &FlowError{Pos: Pos{File: "data"}, Err: err}
			}
			return nil, fail(f.Data.Pos, "data", err)
		}
		p.feed = fd
		sc.dataAs = f.Data.As
		if sc.dataAs == "" {
			sc.dataAs = "data"
		}
		sc.cols = fd.cols
	}
	for _, h := range f.Headers {
		if h.Name == "" || strings.ContainsAny(h.Name, " :\r\n") {
			return nil, fail(f.Pos, "headers", fmt.Errorf("header name %q is not a valid token", h.Name))
		}
		t, err := compileText(h.Value, sc)
		if err != nil {
			return nil, fail(f.Pos, "header "+h.Name, err)
		}
		p.headers = append(p.headers, headerT{name: http.CanonicalHeaderKey(h.Name), v: t})
	}
	// Captures may be used by rules at any time (they render empty until set): declare the
	// variables of every capture first for rules, and in order for steps.
	c := &compiler{p: p, sc: sc, baseDir: baseDir, fail: fail, sendAs: map[string]int{}}
	if err := c.steps(f.Steps, "", false); err != nil {
		return nil, err
	}
	for i := range f.On {
		r := &f.On[i]
		name := fmt.Sprintf("on rule %d", i+1)
		m, err := compileMatch(&r.Match, sc)
		if err != nil {
			return nil, fail(pick(r.Match.Pos, r.Pos), name, err)
		}
		cr := rule{m: m, ctr: -1, pos: r.Pos}
		if r.Send != "" && r.Hex != "" {
			return nil, fail(r.Pos, name, errors.New("give send (text) or hex (binary), not both"))
		}
		if r.Send != "" {
			if cr.reply, err = compileText(r.Send, sc); err != nil {
				return nil, fail(r.Pos, name, err)
			}
		}
		if r.Hex != "" {
			if cr.reply, err = compileHex(r.Hex, sc); err != nil {
				return nil, fail(r.Pos, name, err)
			}
		}
		if r.Count != "" {
			cr.ctr = p.counter(r.Count)
		}
		if r.Stamp != nil {
			if cr.stamp, err = compileStamp(r.Stamp, p.metric(r.Stamp.Name, true)); err != nil {
				return nil, fail(pick(r.Stamp.Pos, r.Pos), name, err)
			}
		}
		if cr.reply == nil && cr.ctr < 0 && cr.stamp == nil {
			return nil, fail(r.Pos, name, errors.New("a rule does nothing: give send, hex, count or measure"))
		}
		p.rules = append(p.rules, cr)
	}
	p.unexpected, p.unmatched = p.counter(UnexpectedLabel), -1
	if f.Unmatched != "" {
		p.unmatched = p.counter(f.Unmatched)
	}
	if f.SLO != "" {
		slos, err := ParseSLO(f.SLO)
		if err != nil {
			return nil, fail(f.Pos, "slo", err)
		}
		if err := p.checkSLO(slos); err != nil {
			return nil, fail(f.Pos, "slo", err)
		}
		p.slos = slos
	}
	if f.Unmatched != "" && strings.ContainsAny(f.Unmatched, "()") {
		return nil, fail(f.Pos, "unmatched", fmt.Errorf("label %q: no parentheses (they mark derived labels)", f.Unmatched))
	}
	return p, nil
}

func pick(a, b Pos) Pos {
	if a.Line != 0 {
		return a
	}
	return b
}

func resolve(dir, path string) string {
	if dir == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

type compiler struct {
	p       *Program
	sc      *scope
	baseDir string
	fail    func(Pos, string, error) error
	sendAs  map[string]int
	n       int
}

func (c *compiler) steps(steps []Step, path string, inOpen bool) error {
	p := c.p
	for i := range steps {
		st := &steps[i]
		c.n++
		kind, set := st.kind()
		name := fmt.Sprintf("step %d (%s)", c.n, kind)
		if path != "" {
			name = fmt.Sprintf("step %d (%s, in %s)", c.n, kind, path)
		}
		if set != 1 {
			return c.fail(st.Pos, fmt.Sprintf("step %d", c.n), fmt.Errorf("a step is exactly one of send, expect, think, loop, close or go (this one has %d)", set))
		}
		in := instr{pos: st.Pos, name: name, sendAs: -1, measure: -1, ctr: -1}
		var err error
		switch {
		case st.Send != nil:
			err = c.send(&in, st.Send)
		case st.Expect != nil:
			err = c.expect(&in, st.Expect, inOpen)
		case st.Think != nil:
			if inOpen {
				err = errors.New("think inside a loop with a rate or every: the schedule sets the pace, a pause would break it")
			}
			in.op, in.think = opThink, *st.Think
			t := st.Think
			switch {
			case t.Fixed < 0 || t.Min < 0 || t.Max < 0 || t.Mean < 0:
				err = errors.New("think: durations must not be negative")
			case t.Max < t.Min:
				err = errors.New("think: max is below min")
			case t.Fixed == 0 && t.Max == 0 && t.Mean == 0:
				err = errors.New("think: give a duration, min and max (uniform), or mean (exponential)")
			}
		case st.Loop != nil:
			if inOpen {
				err = errors.New("a loop inside a loop with a rate or every: the outer schedule sets the pace")
				break
			}
			err = c.loop(&in, st.Loop, name)
			if err == nil {
				continue // loop emitted its own instructions
			}
		case st.Close != nil:
			if inOpen {
				err = errors.New("close inside a loop with a rate or every")
			}
			in.op, in.code, in.reason = opClose, st.Close.Code, st.Close.Reason
			if in.code == 0 {
				in.code = 1000
			}
			if in.code < 1000 || in.code >= 5000 || !codec.CloseCodeAllowedOnWire(codec.CloseCode(in.code)) {
				err = fmt.Errorf("close code %d cannot be sent (want 1000-4999, not 1004-1006 or 1015)", in.code)
			} else if len(in.reason) > 123 {
				err = errors.New("close reason over 123 bytes")
			}
		case st.Go != nil:
			in.op = opGo
			in.fn = st.Go.Func
			if in.fn == nil {
				f, ok := lookupStep(st.Go.Name)
				if !ok {
					err = fmt.Errorf("go step %q is not registered (registered: %s)", st.Go.Name, strings.Join(registeredSteps(), ", "))
					break
				}
				in.fn, err = f(st.Go.Args)
				if err == nil && in.fn == nil {
					err = fmt.Errorf("go step %q: its factory returned no function", st.Go.Name)
				}
			}
		}
		if err != nil {
			var fe *FlowError
			if errors.As(err, &fe) {
				return err // from a step inside a loop: it has its own place
			}
			return c.fail(st.Pos, name, err)
		}
		p.ins = append(p.ins, in)
	}
	return nil
}

func (st *Step) kind() (string, int) {
	n, k := 0, ""
	if st.Send != nil {
		n, k = n+1, "send"
	}
	if st.Expect != nil {
		n, k = n+1, "expect"
	}
	if st.Think != nil {
		n, k = n+1, "think"
	}
	if st.Loop != nil {
		n, k = n+1, "loop"
	}
	if st.Close != nil {
		n, k = n+1, "close"
	}
	if st.Go != nil {
		n, k = n+1, "go"
	}
	return k, n
}

func (c *compiler) send(in *instr, s *Send) error {
	in.op = opSend
	n := 0
	for _, v := range []string{s.Text, s.Hex, s.Base64, s.File} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("send: give exactly one of text, hex, base64 or file")
	}
	var err error
	switch {
	case s.Text != "":
		in.tmpl, err = compileText(s.Text, c.sc)
	case s.Hex != "":
		in.tmpl, err = compileHex(s.Hex, c.sc)
		in.binary = true
	case s.Base64 != "":
		b, e := base64.StdEncoding.DecodeString(s.Base64)
		if e != nil {
			return fmt.Errorf("send base64: %v", e)
		}
		in.tmpl, in.binary = &tmpl{static: b, binary: true}, true
	case s.File != "":
		b, e := os.ReadFile(resolve(c.baseDir, s.File))
		if e != nil {
			return fmt.Errorf("send file: %v", e)
		}
		in.tmpl, in.binary = &tmpl{static: b, binary: true}, true
	}
	if err != nil {
		return err
	}
	if s.As != "" {
		if _, dup := c.sendAs[s.As]; dup {
			return fmt.Errorf("send as %q: the name is already taken by another send", s.As)
		}
		in.sendAs = c.p.metric(s.As, false)
		c.sendAs[s.As] = in.sendAs
	}
	return nil
}

func (c *compiler) expect(in *instr, e *Expect, inOpen bool) error {
	in.op, in.inOpen = opExpect, inOpen
	m, err := compileMatch(&e.Match, c.sc)
	if err != nil {
		return err
	}
	in.m = m
	in.timeout = int64(e.Timeout)
	if in.timeout <= 0 {
		in.timeout = int64(DefaultExpectTimeout)
	}
	in.optional = e.Optional
	switch e.Others {
	case "", "ignore":
	case "fail":
		in.failOthers = true
		if inOpen {
			return errors.New("others: fail cannot apply inside a loop with a rate (replies overlap there)")
		}
	default:
		return fmt.Errorf("others %q: want ignore or fail", e.Others)
	}
	if e.Measure != "" {
		mi, ok := c.sendAs[e.Measure]
		if !ok {
			return fmt.Errorf("measure %q: no earlier send is named %q (send ... as: %s)", e.Measure, e.Measure, e.Measure)
		}
		in.measure = mi
	}
	label := e.Label
	if label == "" {
		label = e.Measure
	}
	if label == "" {
		label = strings.TrimSuffix(in.name[:strings.IndexByte(in.name, '(')], " ")
	}
	in.ctr = c.p.counter(label)
	in.ctrTimeout = c.p.counter("timeouts(" + label + ")")
	in.ctrOthers = c.p.counter("others(" + label + ")")
	if e.Stamp != nil {
		if in.stamp, err = compileStamp(e.Stamp, c.p.metric(e.Stamp.Name, true)); err != nil {
			return err
		}
	}
	for i := range e.Capture {
		cp := &e.Capture[i]
		if cp.Name == "" || strings.ContainsAny(cp.Name, " {}.") {
			return fmt.Errorf("capture name %q: want a plain name", cp.Name)
		}
		if _, builtin := map[string]bool{"id": true, "seq": true, "now_ms": true, "now_us": true, "now_ns": true, "uuid": true, "rand": true}[cp.Name]; builtin {
			return fmt.Errorf("capture name %q is a built-in", cp.Name)
		}
		if _, isParam := c.sc.params[cp.Name]; isParam {
			return fmt.Errorf("capture name %q is a parameter", cp.Name)
		}
		slot, ok := c.sc.vars[cp.Name]
		if !ok {
			slot = len(c.p.vars)
			c.p.vars = append(c.p.vars, cp.Name)
			c.sc.vars[cp.Name] = slot
		}
		cc, err := compileCapture(cp, slot)
		if err != nil {
			return err
		}
		in.caps = append(in.caps, cc)
	}
	return nil
}

func (c *compiler) loop(in *instr, l *Loop, name string) error {
	in.op, in.loop = opLoop, l
	if l.Count < 0 || l.Total < 0 || l.Duration < 0 || l.Every < 0 || l.Rate < 0 {
		return errors.New("loop: count, total, duration, every and rate must not be negative")
	}
	if l.Count > 0 && l.Total > 0 {
		return errors.New("loop: give count (per connection) or total (for the fleet), not both")
	}
	if l.Every > 0 && l.Rate > 0 {
		return errors.New("loop: give every or rate, not both")
	}

	if l.Every > 0 {
		in.iv = int64(l.Every)
	}
	if len(l.Do) == 0 {
		return errors.New("loop: empty do")
	}
	open := l.Every > 0 || l.Rate > 0
	start := len(c.p.ins)
	c.p.ins = append(c.p.ins, *in)
	if err := c.steps(l.Do, name, open); err != nil {
		return err
	}
	if !open && l.Count == 0 && l.Total == 0 && !blocks(c.p.ins[start+1:]) {
		// a loop that never waits would spin the event loop until the run ends
		return c.fail(in.pos, name, errors.New("loop: without count or a rate, its body must wait somewhere (an expect or a think)"))
	}
	c.p.ins = append(c.p.ins, instr{op: opLoopEnd, pos: in.pos, name: name, jump: start, sendAs: -1, measure: -1, ctr: -1})
	c.p.ins[start].jump = len(c.p.ins) - 1
	return nil
}

func blocks(ins []instr) bool {
	for _, in := range ins {
		if in.op == opExpect && !in.inOpen || in.op == opThink || in.op == opLoop && (in.loop.Every > 0 || in.loop.Rate > 0) {
			return true
		}
	}
	return false
}

func (p *Program) counter(label string) int {
	for i, l := range p.labels {
		if l == label {
			return i
		}
	}
	p.labels = append(p.labels, label)
	return len(p.labels) - 1
}

func (p *Program) metric(name string, stamp bool) int {
	for i, m := range p.metrics {
		if m.Name == name {
			if stamp {
				p.metrics[i].Stamp = true
			}
			return i
		}
	}
	p.metrics = append(p.metrics, metricDef{Name: name, Stamp: stamp})
	return len(p.metrics) - 1
}

// checkSLO refuses objectives on metrics the flow does not have.
func (p *Program) checkSLO(slos []SLO) error {
	for _, o := range slos {
		if o.Name == "" {
			continue
		}
		switch o.Metric {
		case "timeouts":
			if p.labelIndex("timeouts("+o.Name+")") < 0 {
				return fmt.Errorf("objective %q: no expect is labelled %q", o.Raw, o.Name)
			}
		case "rate", "count":
			if p.labelIndex(o.Name) < 0 && p.metricIndex(o.Name) < 0 {
				return fmt.Errorf("objective %q: no metric or count is named %q (have: %s)", o.Raw, o.Name, strings.Join(p.names(), ", "))
			}
		default:
			if p.metricIndex(o.Name) < 0 {
				return fmt.Errorf("objective %q: no latency metric is named %q (have: %s)", o.Raw, o.Name, strings.Join(p.names(), ", "))
			}
		}
	}
	return nil
}

func (p *Program) names() []string {
	var out []string
	for _, m := range p.metrics {
		out = append(out, m.Name)
	}
	return append(out, p.labels...)
}

func (p *Program) labelIndex(l string) int {
	for i, x := range p.labels {
		if x == l {
			return i
		}
	}
	return -1
}

func (p *Program) metricIndex(n string) int {
	for i, m := range p.metrics {
		if m.Name == n {
			return i
		}
	}
	return -1
}

// SLOs are the flow's own objectives.
func (p *Program) SLOs() []SLO { return p.slos }

// Metrics names the flow's latency metrics, in order of declaration.
func (p *Program) Metrics() []string {
	var out []string
	for _, m := range p.metrics {
		out = append(out, m.Name)
	}
	return out
}

// parseRate reads "10/s", "10/m", "600/h", "10" (per second).
func parseRate(s string) (float64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("rate %q: want a number per s, m or h, e.g. 10/s", s)
	}
	switch strings.TrimSpace(unit) {
	case "", "s":
	case "m", "min":
		v /= 60
	case "h":
		v /= 3600
	default:
		return 0, fmt.Errorf("rate %q: unit %q: want /s, /m or /h", s, unit)
	}
	return v, nil
}
