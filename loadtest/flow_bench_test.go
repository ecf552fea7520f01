package loadtest

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

// The per-message work of a flow — rendering, matching, capturing, measuring — allocates
// nothing once a connection's buffers have grown (go test -bench Flow -benchmem).

func benchSession(b *testing.B, src string) (*Program, *Session) {
	b.Helper()
	f, err := ParseFlow("b.yaml", []byte(src), nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(f, "")
	if err != nil {
		b.Fatal(err)
	}
	st := newStripe(p)
	r := &run{prog: p, cfg: &Config{Conns: 1}, clk: newRealClock(), examples: make([]string, len(p.labels))}
	cs := &connState{r: r, st: st}
	s := &Session{r: r, p: p, cs: cs, id: 42, vars: make([][]byte, len(p.vars)), sentAt: make([]int64, len(p.metrics))}
	cs.fs = s
	return p, s
}

const benchFlow = `
flow:
  - send: '{"op":"say","id":{{seq}},"conn":{{id}},"room":"lobby","ts":{{now_ms}},"text":"hello hello hello"}'
    as: say
  - expect: {json: {path: id, equals: "{{seq}}"}, prefix: '{"op":"ack"'}
    capture: {room: {json: room}, sid: {json: "meta.sid"}, n: {json: "meta.list[1]"}}
    measure: say
`

var benchReply = []byte(`{"op":"ack","id":123456,"room":"lobby","meta":{"sid":"a1b2c3d4","list":[1,22,333]}}`)

func BenchmarkFlowRenderText(b *testing.B) {
	p, s := benchSession(b, benchFlow)
	t := p.ins[0].tmpl
	s.buf = t.render(s.buf[:0], s, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.buf = t.render(s.buf[:0], s, uint64(i))
	}
}

func BenchmarkFlowRenderBinaryMQTT(b *testing.B) {
	sc := &scope{vars: map[string]int{}}
	t, err := compileHex(`32 {{varlen}} {{len16}}"sensors/"{{id}}{{end}} {{u16 seq}} "t="{{now_ms}} {{end}}`, sc)
	if err != nil {
		b.Fatal(err)
	}
	s := &Session{id: 7}
	buf := t.render(nil, s, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = t.render(buf[:0], s, uint64(i))
	}
}

func BenchmarkFlowMatchJSONCorrelated(b *testing.B) {
	p, s := benchSession(b, benchFlow)
	m := p.ins[1].m
	if !m.match(s, 123456, engine.Text, benchReply) {
		b.Fatal("no match")
	}
	b.ReportAllocs()
	for b.Loop() {
		m.match(s, 123456, engine.Text, benchReply)
	}
}

func BenchmarkFlowMatchRegex(b *testing.B) {
	_, s := benchSession(b, benchFlow)
	m, err := compileMatch(&Match{Regex: `"id":12345\d`}, &scope{vars: map[string]int{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.match(s, 0, engine.Text, benchReply)
	}
}

func BenchmarkFlowCaptureJSON3(b *testing.B) {
	p, s := benchSession(b, benchFlow)
	caps := p.ins[1].caps
	for _, c := range caps {
		c.take(s, benchReply)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range caps {
			c.take(s, benchReply)
		}
	}
	if string(s.Var("n")) != "22" || string(s.Var("sid")) != "a1b2c3d4" {
		b.Fatalf("captured %q %q", s.Var("n"), s.Var("sid"))
	}
}

// The whole reply path of an expect: match, three captures, count, request → reply measure.
func BenchmarkFlowMatchedMeasure(b *testing.B) {
	p, s := benchSession(b, benchFlow)
	in := &p.ins[1]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if in.m.match(s, 123456, engine.Text, benchReply) {
			s.matched(in, int64(i), int64(i)+50_000, benchReply)
		}
	}
}

func BenchmarkFlowStampMeasure(b *testing.B) {
	_, s := benchSession(b, `
on:
  - match: {prefix: '{"op":"said"'}
    measure: {name: fanout, from: {json: ts, unit: ms}}
`)
	msg := []byte(`{"op":"said","room":"lobby","ts":` + strings.Repeat("1", 13) + `}`)
	st := s.p.rules[0].stamp
	b.ReportAllocs()
	for b.Loop() {
		s.recordStamp(st, msg, 1)
	}
}

// Memory of a running flow that captured three variables, against an idle connection's:
// the same connections held by a flow without steps. Reported as B/conn more.
func BenchmarkFlowMemoryPerConn(b *testing.B) {
	const conns = 2000
	srv, err := testserver.Start(testserver.Options{Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	heap := func(src string) uint64 {
		f, err := ParseFlow("m.yaml", []byte(src), nil)
		if err != nil {
			b.Fatal(err)
		}
		p, err := Compile(f, "")
		if err != nil {
			b.Fatal(err)
		}
		var at uint64
		cfg := Config{Flow: p, Targets: []string{srv.URL() + "/echo"}, Conns: conns, Duration: 4 * time.Second, Loops: 1}
		cfg.OnPoint = func(pt Point) {
			if pt.T > 2.5 && at == 0 && pt.Open == conns {
				runtime.GC()
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				at = ms.HeapAlloc
			}
		}
		if _, err := Run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
		if at == 0 {
			b.Fatal("no measurement: connections did not all open in time")
		}
		return at
	}
	var idle, flow uint64
	for b.Loop() {
		idle = heap("# idle\nunmatched: other\n")
		flow = heap(`# three captures, then waiting
flow:
  - send: '{"user":"u{{id}}","token":"t-{{id}}-0123456789abcdef","room":"room-{{id}}"}'
  - expect: {prefix: '{'}
    capture: {user: {json: user}, token: {json: token}, room: {json: room}}
  - expect: {equals: never}
    timeout: 1h
`)
	}
	b.ReportMetric(float64(int64(flow)-int64(idle))/conns, "B/conn-more")
}
