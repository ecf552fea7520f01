package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/engine"
)

// stripe gathers the measurements of one share of the connections (those of one sender):
// loops record reply latencies under mu, the sender records its lag under lagMu, and the
// collector swaps the per-second histograms out under the same locks.
type stripe struct {
	mu    sync.Mutex
	lat   *hdr.Histogram // measured window
	latIv *hdr.Histogram // current second
	spare *hdr.Histogram

	lagMu    sync.Mutex
	lag      *hdr.Histogram
	lagIvMax int64

	sent, sentM, recv, recvM, unsent, pongs atomic.Int64

	// a flow's named metrics (under mu) and counts by label (total, measured) — see Program
	mh  []*hdr.Histogram
	ctr []atomic.Int64
	_   [64]byte
}

func newStripe(p *Program) *stripe {
	s := &stripe{lat: newHist(), latIv: newIvHist(), spare: newIvHist(), lag: newHist()}
	if p != nil {
		for range p.metrics {
			s.mh = append(s.mh, newHist())
		}
		s.ctr = make([]atomic.Int64, 2*len(p.labels))
	}
	return s
}

// recordMetric records a flow metric; the first metric also feeds the per-second series.
func (s *stripe) recordMetric(i int, ns int64, measured bool) {
	s.mu.Lock()
	if i == 0 {
		recordNs(s.latIv, ns)
	}
	if measured {
		recordNs(s.mh[i], ns)
	}
	s.mu.Unlock()
}

func (s *stripe) recordLat(ns int64, measured bool) {
	s.mu.Lock()
	recordNs(s.latIv, ns)
	if measured {
		recordNs(s.lat, ns)
	}
	s.mu.Unlock()
}

func (s *stripe) recordLag(ns int64, measured bool) {
	s.lagMu.Lock()
	if ns > s.lagIvMax {
		s.lagIvMax = ns
	}
	if measured {
		recordNs(s.lag, ns)
	}
	s.lagMu.Unlock()
}

// seqTrack counts one connection's replies by sequence number: fresh, duplicate, or out of
// order, remembering the last 1024 numbers below the highest seen. Older ones cannot be told
// apart and count as reordered (and fresh).
type seqTrack struct {
	next                uint64 // highest seen + 1
	recv                uint64 // distinct sequence numbers received
	dup, reord, corrupt uint64
	win                 [seqWindow / 64]uint64
}

const seqWindow = 1024

func (t *seqTrack) bit(s uint64) (*uint64, uint64) {
	i := s % seqWindow
	return &t.win[i/64], 1 << (i % 64)
}

// see records sequence number s and reports whether it is new.
func (t *seqTrack) see(s uint64) bool {
	switch {
	case s >= t.next:
		if s-t.next >= seqWindow {
			t.win = [seqWindow / 64]uint64{}
		} else {
			for x := t.next; x < s; x++ {
				w, b := t.bit(x)
				*w &^= b
			}
		}
		w, b := t.bit(s)
		*w |= b
		t.next = s + 1
		t.recv++
		return true
	case t.next-s > seqWindow:
		t.reord++
		t.recv++
		return true
	}
	w, b := t.bit(s)
	if *w&b != 0 {
		t.dup++
		return false
	}
	*w |= b
	t.reord++
	t.recv++
	return true
}

// connState is one connection's state; the engine hands it back as Conn.Value().
type connState struct {
	r    *run
	id   int // global id
	idx  int // index in run.conns
	st   *stripe
	sd   *sender
	conn *engine.Conn
	fs   *Session // flows

	// send side: owned by the sender (open model) or the loop (closed model)
	buf   []byte
	seq   uint64
	quota int64 // messages left, -1 unlimited

	track seqTrack // loop-owned

	down      atomic.Bool
	selfClose atomic.Bool
	tcpAt     int64 // trace, on the loop before Dial returns
	upAt      int64
}

func (cs *connState) trace(ev engine.TraceEvent) {
	switch ev.Kind {
	case engine.TraceConnect:
		if ev.Err == nil {
			cs.tcpAt = cs.r.clk.Now()
		}
	case engine.TraceUpgraded:
		cs.upAt = cs.r.clk.Now()
	}
}

type run struct {
	cfg     *Config
	clk     *RealClock
	eng     *engine.Engine
	pl      *Payload
	msgType engine.MessageType
	sched   Schedule
	h       engine.Handler

	t0, warmEnd, end int64
	warmEndWall      int64 // UnixNano, for push stamps

	stripes []*stripe
	senders []*sender
	conns   []*connState
	nconns  int // this shard's connections

	sending, closing atomic.Bool
	dialsDone        atomic.Bool
	messages         bool // connections exchange messages (echo, soak with a rate)
	open, peak       atomic.Int64
	deflate          atomic.Int64 // connections on which permessage-deflate was negotiated
	cancelledDials   atomic.Int64
	opened, failed   atomic.Int64
	dropped          atomic.Int64
	remaining        atomic.Int64 // messages left to send in count mode (-1: unlimited)
	errs             *errCounter
	waiting          atomic.Int64 // flows: expects outstanding
	flowsDone        atomic.Int64 // flows: connections whose flow ended (or never began)

	exMu     sync.Mutex // flows: an example message per label
	examples []string
	exSet    []atomic.Bool

	dialMu         sync.Mutex
	connectH, tcpH *hdr.Histogram
	hsH            *hdr.Histogram

	seriesMu sync.Mutex
	series   []Point
	prevCtr  [4]int64
	prevErr  int64
	prevT    int64
}

// Run runs one load test as cfg says and returns what it measured. ctx cancels it early (the
// partial result is returned with a note).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.StartAt.IsZero() {
		if d := time.Until(cfg.StartAt); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
	}
	r := &run{cfg: &cfg, errs: newErrCounter(), connectH: newHist(), tcpH: newHist(), hsH: newHist()}
	r.messages = cfg.Scenario == Echo || (cfg.Scenario == Soak && cfg.Rate > 0)
	r.h = &handler{r: r}
	if p := cfg.Flow; p != nil {
		r.h = &flowHandler{r: r}
		r.examples = make([]string, len(p.labels))
		r.exSet = make([]atomic.Bool, len(p.labels))
	}
	if r.messages {
		pl, err := NewPayload(cfg.Payload, cfg.Size, cfg.Binary)
		if err != nil {
			return nil, err
		}
		r.pl = pl
		r.msgType = engine.Text
		if cfg.Binary {
			r.msgType = engine.Binary
		}
	}
	eng, err := engine.New(engine.Options{Loops: cfg.Loops})
	if err != nil {
		return nil, fmt.Errorf("start engine: %w", err)
	}
	r.eng = eng
	return r.run(ctx)
}

func (r *run) run(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	ids := cfg.Shard.IDs(cfg.Conns)
	r.nconns = len(ids)
	nstripes := min(runtime.GOMAXPROCS(0), len(ids))
	if cfg.Scenario == Connect && cfg.Model == Open {
		nstripes = runtime.GOMAXPROCS(0)
	}
	for range nstripes {
		r.stripes = append(r.stripes, newStripe(cfg.Flow))
	}

	r.clk = NewRealClock()
	r.t0 = r.clk.Now()
	r.prevT = r.t0
	r.warmEnd = r.t0 + int64(cfg.Warmup)
	r.warmEndWall = r.clk.Wall(r.warmEnd).UnixNano()
	r.end = r.warmEnd + int64(cfg.Duration)
	if cfg.Duration == 0 {
		r.end = r.warmEnd + int64(24*time.Hour) // count mode without a cap
	}
	var ru0 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)

	stop := make(chan struct{}) // closed when sending ends
	var sendWG sync.WaitGroup
	if r.messages {
		r.remaining.Store(-1)
		if cfg.Messages > 0 {
			var total int64
			for _, id := range ids {
				total += Quota(cfg.Messages, id, cfg.Conns)
			}
			r.remaining.Store(total)
		}
		if cfg.Model == Open {
			r.sched = ScheduleFor(r.t0, cfg.Rate, cfg.PerConnRate, cfg.Conns)
		}
		iv := r.sched.Interval
		r.startSenders(nstripes, cfg.Model == Open, func(idx int, intended int64) int64 {
			if r.openSend(r.conns[idx], intended) {
				return intended + iv
			}
			return -1
		}, stop, &sendWG)
	}
	if cfg.Flow != nil {
		// the senders' heaps are the flow's timers: thinks, deadlines, open loops
		r.startSenders(nstripes, true, r.flowTimer, stop, &sendWG)
	}
	r.sending.Store(true)

	collectDone := make(chan struct{})
	collectStop := make(chan struct{})
	go r.collect(collectStop, collectDone)

	dialCtx, cancelDials := context.WithCancel(ctx)
	defer cancelDials()
	var dialWG sync.WaitGroup
	if cfg.Scenario == Connect {
		r.startConnect(dialCtx, ids, &dialWG)
	} else {
		r.conns = make([]*connState, len(ids))
		for i, id := range ids {
			cs := &connState{r: r, id: id, idx: i, st: r.stripes[i%nstripes], quota: Quota(cfg.Messages, id, cfg.Conns)}
			if r.messages {
				cs.buf = r.pl.NewBuffer()
			}
			if len(r.senders) > 0 {
				cs.sd = r.senders[i%nstripes]
			}
			if cfg.Flow != nil {
				fs, err := r.newSession(cs)
				if err != nil {
					return nil, err
				}
				cs.fs = fs
			}
			r.conns[i] = cs
		}
		dialWG.Add(1)
		go r.dialAll(dialCtx, &dialWG)
		go func() { dialWG.Wait(); r.dialsDone.Store(true) }()
	}

	// Wait for the end of the window, the last message (count mode), or cancellation.
	interrupted, allGone := false, false
	tick := time.NewTicker(10 * time.Millisecond)
	for {
		select {
		case <-ctx.Done():
			interrupted = true
		case <-tick.C:
		}
		if interrupted || r.clk.Now() >= r.end || (cfg.Messages > 0 && r.remaining.Load() == 0) {
			break
		}
		if cfg.Flow != nil && r.flowsDone.Load() == int64(r.nconns) && r.waiting.Load() == 0 {
			break // every connection's flow has finished
		}
		if cfg.Scenario != Connect && r.dialsDone.Load() && r.open.Load() == 0 {
			allGone = true // every connection failed or dropped: nothing left to measure
			break
		}
	}
	tick.Stop()
	sendEnd := min(r.clk.Now(), r.end)
	r.sending.Store(false)
	close(stop)
	sendWG.Wait()
	var ru1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	cancelDials()

	// Drain: wait for the replies still on their way.
	if r.messages && !interrupted {
		deadline := time.Now().Add(cfg.Drain)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			var sent, recv int64
			for _, s := range r.stripes {
				sent += s.sent.Load()
				recv += s.recv.Load()
			}
			if recv >= sent {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if cfg.Flow != nil && !interrupted {
		deadline := time.Now().Add(cfg.Drain)
		for time.Now().Before(deadline) && ctx.Err() == nil && r.waiting.Load() > 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(collectStop)
	<-collectDone

	r.closing.Store(true)
	dialWG.Wait()
	_ = r.eng.Close()

	res := r.result(sendEnd, &ru0, &ru1)
	if interrupted {
		res.addNote("interrupted before the end: partial result")
	}
	if allGone {
		res.addNote("stopped early: no connection was left open")
	}
	return res, nil
}

// dialAll opens the shard's connections, at the ramp rate if one is set.
func (r *run) dialAll(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	sem := make(chan struct{}, 1024)
	sl := r.clk.NewSleeper()
	for _, cs := range r.conns {
		intended := r.clk.Now()
		if r.cfg.Ramp > 0 {
			intended = r.t0 + int64(float64(cs.id)/r.cfg.Ramp*1e9)
			sl.SleepUntil(intended, ctx.Done())
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r.dial(ctx, cs, intended)
		}()
	}
}

func (r *run) dialOptions(cs *connState) *engine.DialOptions {
	return &engine.DialOptions{
		Handler:        r.h,
		Value:          cs,
		Header:         r.cfg.header(cs),
		Protocols:      r.cfg.Subprotocols,
		LocalAddr:      r.cfg.localAddr(cs.id),
		PingInterval:   r.cfg.Ping,
		ConnectTimeout: r.cfg.ConnectTimeout,
		TLSConfig:      r.cfg.TLSConfig,
		Compression:    r.cfg.Compression,
		Trace:          cs.trace,
	}
}

// dial opens one connection and records how long it took from its intended start.
func (r *run) dial(ctx context.Context, cs *connState, intended int64) {
	start := r.clk.Now()
	_, err := r.eng.Dial(ctx, r.cfg.target(cs.id), r.dialOptions(cs))
	done := r.clk.Now()
	if err != nil {
		cs.down.Store(true)
		if ctx.Err() != nil && !r.sending.Load() {
			r.cancelledDials.Add(1) // the run ended while this dial waited
			return
		}
		r.failed.Add(1)
		r.errs.addErr(err)
		r.forfeit(cs) // nobody else owns the quota of a connection that never opened
		if cs.fs != nil {
			cs.fs.stop()
		}
		return
	}
	r.opened.Add(1)
	r.dialMu.Lock()
	recordNs(r.connectH, done-intended)
	if cs.tcpAt > 0 && cs.upAt >= cs.tcpAt {
		recordNs(r.tcpH, cs.tcpAt-start)
		recordNs(r.hsH, cs.upAt-cs.tcpAt)
	}
	r.dialMu.Unlock()
}

// openSend makes one scheduled send (open model, on a sender goroutine).
func (r *run) openSend(cs *connState, intended int64) bool {
	if cs.quota == 0 {
		return false
	}
	st := cs.st
	if cs.down.Load() || cs.conn == nil {
		st.unsent.Add(1)
		if cs.quota > 0 {
			r.forfeit(cs) // count mode: this connection's remaining messages will never go
			return false
		}
		return true // keep the slot: every due send that is not made is counted
	}
	r.pl.Fill(cs.buf, uint64(cs.id), cs.seq, intended)
	err := cs.conn.TrySend(r.msgType, cs.buf) // a sender goroutine must keep the schedule: never wait
	now := r.clk.Now()
	if err != nil {
		st.unsent.Add(1)
		if errors.Is(err, engine.ErrBackedUp) {
			r.errs.add(KindBackedUp, err)
		}
		return true
	}
	r.sentOne(cs, intended)
	st.recordLag(now-intended, intended >= r.warmEnd)
	return true
}

func (r *run) sentOne(cs *connState, intended int64) {
	cs.seq++
	if cs.quota > 0 {
		cs.quota--
		r.remaining.Add(-1)
	}
	cs.st.sent.Add(1)
	if intended >= r.warmEnd {
		cs.st.sentM.Add(1)
	}
}

// forfeit gives up the rest of a connection's message quota (count mode), so that the run
// does not wait for messages that cannot be sent. Only the quota's owner may call it.
func (r *run) forfeit(cs *connState) {
	if cs.quota > 0 {
		r.remaining.Add(-cs.quota)
		cs.st.unsent.Add(cs.quota)
		cs.quota = 0
	}
}

// closedSend sends a connection's next message now (closed model, on its loop).
func (r *run) closedSend(cs *connState, c *engine.Conn) {
	if cs.quota == 0 || !r.sending.Load() {
		return
	}
	now := r.clk.Now()
	r.pl.Fill(cs.buf, uint64(cs.id), cs.seq, now)
	if err := c.Send(r.msgType, cs.buf); err != nil {
		if errors.Is(err, engine.ErrBackedUp) {
			r.errs.add(KindBackedUp, err)
		}
		return
	}
	r.sentOne(cs, now)
}

// handler is the engine Handler of every connection of a run.
type handler struct{ r *run }

// connOpened counts an open connection (every handler).
func (r *run) connOpened(c *engine.Conn) {
	n := r.open.Add(1)
	for p := r.peak.Load(); n > p && !r.peak.CompareAndSwap(p, n); p = r.peak.Load() {
	}
	if r.cfg.Compression != nil {
		if _, ok := c.Compression(); ok {
			r.deflate.Add(1)
		}
	}
}

// connClosed counts a closed connection: dropped unless the run or the flow closed it.
func (r *run) connClosed(cs *connState, err error) {
	cs.down.Store(true)
	r.open.Add(-1)
	if !r.closing.Load() && !cs.selfClose.Load() {
		r.dropped.Add(1)
		r.errs.addErr(err)
	}
}

func (h *handler) OnOpen(c *engine.Conn) {
	r := h.r
	cs := c.Value().(*connState)
	r.connOpened(c)
	if !r.messages {
		return
	}
	if r.cfg.Model == Closed {
		cs.conn = c
		r.closedSend(cs, c)
		return
	}
	cs.conn = c // published to the sender by add's mutex
	iv := r.sched.Interval
	cs.sd.add(cs.idx, FirstSlot(r.sched.Phase(cs.id), iv, r.clk.Now()))
}

var (
	errBadReply     = errors.New("a reply does not carry the stamp it was sent with")
	errForeignReply = errors.New("a reply carries another connection's id")
	errBadPush      = errors.New("a pushed message is shorter than the 16-byte stamp")
)

func (h *handler) OnMessage(c *engine.Conn, _ engine.MessageType, data []byte) {
	r := h.r
	cs := c.Value().(*connState)
	st := cs.st
	if r.cfg.Scenario == Push {
		seq, wall, ok := parsePush(data)
		now := time.Now().UnixNano()
		if !ok {
			cs.track.corrupt++
			r.errs.add(KindBadReply, errBadPush)
			return
		}
		if cs.track.see(seq) {
			measured := wall >= r.warmEndWall
			st.recv.Add(1)
			if measured {
				st.recvM.Add(1)
			}
			st.recordLat(now-wall, measured)
		}
		return
	}
	if !r.messages {
		return
	}
	now := r.clk.Now()
	id, seq, ts, hasID, ok := r.pl.Parse(data)
	switch {
	case !ok:
		cs.track.corrupt++
		r.errs.add(KindBadReply, errBadReply)
	case hasID && id != uint64(cs.id):
		cs.track.corrupt++
		r.errs.add(KindForeignReply, errForeignReply)
	case cs.track.see(seq):
		measured := ts >= r.warmEnd
		st.recv.Add(1)
		if measured {
			st.recvM.Add(1)
		}
		st.recordLat(now-ts, measured)
	}
	if r.cfg.Model == Closed {
		r.closedSend(cs, c)
	}
}

func (h *handler) OnClose(c *engine.Conn, err error) {
	r := h.r
	cs := c.Value().(*connState)
	cs.down.Store(true)
	if r.messages && r.cfg.Model == Closed {
		r.forfeit(cs) // the loop owns the closed model's quota
	}
	r.connClosed(cs, err)
}

func (h *handler) OnPong(c *engine.Conn, _ []byte) {
	c.Value().(*connState).st.pongs.Add(1)
}

// collect takes a point every second of the run (and a last, partial one at the end).
func (r *run) collect(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	sl := r.clk.NewSleeper()
	for sec := int64(1); ; sec++ {
		sl.SleepUntil(r.t0+sec*1e9, stop)
		select {
		case <-stop:
			r.takePoint(true)
			return
		default:
		}
		r.takePoint(false)
	}
}

func (r *run) takePoint(final bool) {
	now := r.clk.Now()
	var ctr [4]int64
	iv := newIvHist()
	var lagMax int64
	for _, s := range r.stripes {
		ctr[0] += s.sent.Load()
		ctr[1] += s.recv.Load()
		s.mu.Lock()
		h := s.latIv
		s.latIv = s.spare
		s.mu.Unlock()
		iv.Merge(h)
		h.Reset()
		s.mu.Lock()
		s.spare = h
		s.mu.Unlock()
		s.lagMu.Lock()
		lagMax = max(lagMax, s.lagIvMax)
		s.lagIvMax = 0
		s.lagMu.Unlock()
	}
	errs := r.errs.total.Load()
	p := Point{
		T:        float64(now-r.t0) / 1e9,
		Warmup:   r.prevT < r.warmEnd,
		Sent:     ctr[0] - r.prevCtr[0],
		Received: ctr[1] - r.prevCtr[1],
		Errors:   errs - r.prevErr,
		Open:     r.open.Load(),
		LagMaxMs: float64(lagMax) / 1e6,
	}
	if r.cfg.Scenario == Connect {
		p.Open = r.opened.Load() // dials that succeeded so far
	}
	dt := float64(now-max(r.prevT, r.t0)) / 1e9
	r.prevCtr, r.prevErr, r.prevT = ctr, errs, now
	setPercentiles(&p, iv)
	if final && p.T-float64(int64(p.T)) < 0.05 && p.Sent == 0 && p.Received == 0 && p.Errors == 0 {
		return // nothing happened in the last sliver of a second
	}
	r.seriesMu.Lock()
	r.series = append(r.series, p)
	r.seriesMu.Unlock()
	if r.cfg.OnPoint != nil {
		r.cfg.OnPoint(p)
	}
	if r.cfg.Progress != nil {
		r.progress(p, dt, final)
	}
}

func (r *run) progress(p Point, dt float64, final bool) {
	if dt <= 0 {
		dt = 1
	}
	perS := func(n int64) int64 { return int64(float64(n)/dt + 0.5) }
	cfg := r.cfg
	phase := "measure"
	switch {
	case final:
		phase = "done"
	case p.Warmup:
		phase = "warm-up"
	}
	target := r.nconns
	var line string
	switch cfg.Scenario {
	case Connect:
		line = fmt.Sprintf("[%5.1fs %-7s] dials %d/s ok %d/s err %d | connect p50 %s p99 %s max %s",
			p.T, phase, perS(p.Sent), perS(p.Received), p.Errors, fmtMs(p.P50Ms), fmtMs(p.P99Ms), fmtMs(p.MaxMs))
	case Soak:
		if !r.messages {
			line = fmt.Sprintf("[%5.1fs %-7s] open %d/%d | dropped %d | err %d", p.T, phase, p.Open, target, r.dropped.Load(), p.Errors)
			break
		}
		fallthrough
	case Push:
		line = fmt.Sprintf("[%5.1fs %-7s] open %d/%d | recv %d/s | err %d | p50 %s p99 %s max %s",
			p.T, phase, p.Open, target, perS(p.Received), p.Errors, fmtMs(p.P50Ms), fmtMs(p.P99Ms), fmtMs(p.MaxMs))
	default:
		line = fmt.Sprintf("[%5.1fs %-7s] open %d/%d | sent %d/s recv %d/s | err %d | p50 %s p99 %s max %s",
			p.T, phase, p.Open, target, perS(p.Sent), perS(p.Received), p.Errors, fmtMs(p.P50Ms), fmtMs(p.P99Ms), fmtMs(p.MaxMs))
		if cfg.Model == Open && r.messages {
			line += " | lag " + fmtMs(p.LagMaxMs)
		}
	}
	if cfg.ProgressTTY {
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(cfg.Progress, "\r%s\x1b[K%s", line, end)
	} else {
		fmt.Fprintln(cfg.Progress, line)
	}
}

func (r *run) result(sendEnd int64, ru0, ru1 *unix.Rusage) *Result {
	cfg := r.cfg
	ids := cfg.Shard.IDs(cfg.Conns)
	res := &Result{
		Schema: ResultSchema, Scenario: cfg.Scenario, Model: cfg.Model, Targets: cfg.Targets,
		Shard: cfg.Shard, Shards: 1,
		Config: RunConfig{
			Conns: cfg.Conns, Rate: cfg.Rate, PerConnRate: cfg.PerConnRate, Messages: cfg.Messages,
			DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(), Ramp: cfg.Ramp,
			PingS: cfg.Ping.Seconds(), SourceIPs: len(cfg.SourceIPs),
		},
		Start:     r.clk.Origin,
		WarmupS:   cfg.Warmup.Seconds(),
		MeasuredS: max(0, float64(sendEnd-r.warmEnd)/1e9),
		Notes:     append([]string(nil), cfg.Notes...),
	}
	if r.messages {
		res.Config.Size, res.Config.Binary = r.pl.Size(), cfg.Binary
	}
	res.Host, _ = os.Hostname()
	c := &res.Connections
	c.Target = int64(len(ids))
	c.Opened, c.Failed, c.Dropped, c.Peak = r.opened.Load(), r.failed.Load(), r.dropped.Load(), r.peak.Load()
	if cfg.Compression != nil {
		res.Config.Compress = true
		c.Deflate = r.deflate.Load()
	}

	lat, lag := newHist(), newHist()
	var sentM, recvM, sentAll, recvAll, unsent, pongs int64
	for _, s := range r.stripes {
		lat.Merge(s.lat)
		lag.Merge(s.lag)
		sentM += s.sentM.Load()
		recvM += s.recvM.Load()
		sentAll += s.sent.Load()
		recvAll += s.recv.Load()
		unsent += s.unsent.Load()
		pongs += s.pongs.Load()
	}
	m := &res.Messages
	m.Unsent = unsent
	switch cfg.Scenario {
	case Connect:
		res.Connect = Summarize(lat)
		m.SentTotal, m.ReceivedTotal = 0, 0
		if res.MeasuredS > 0 {
			c.UpgradesPerS = float64(recvM) / res.MeasuredS
		}
	default:
		res.Latency = Summarize(lat)
		res.Connect = Summarize(r.connectH)
		m.Sent, m.Received = sentM, recvM
		for _, cs := range r.conns {
			t := &cs.track
			m.Duplicates += int64(t.dup)
			m.Reordered += int64(t.reord)
			m.Corrupt += int64(t.corrupt)
			m.ReceivedTotal += int64(t.recv)
			if cfg.Scenario == Push {
				m.SentTotal += int64(t.next)
				m.Lost += int64(t.next - t.recv)
			} else {
				m.SentTotal += int64(cs.seq)
				if cs.seq > t.recv {
					m.Lost += int64(cs.seq - t.recv)
				}
			}
		}
		if cfg.Scenario == Push {
			m.Sent = 0 // the server sends; its sends in the window are not known here
		}
		if res.MeasuredS > 0 {
			m.SendPerS = float64(m.Sent) / res.MeasuredS
			m.RecvPerS = float64(m.Received) / res.MeasuredS
		}
	}
	_ = sentAll
	_ = recvAll
	if cfg.Flow != nil {
		r.flowResult(res)
	}
	res.TCPConnect = Summarize(r.tcpH)
	res.Handshake = Summarize(r.hsH)
	if cfg.Model == Open && r.messages {
		res.SenderLag = Summarize(lag)
	}
	if cfg.Ping > 0 {
		res.Extra = &ExtraCounts{Pongs: pongs}
	}
	if cfg.Model == Open && r.messages && cfg.Messages == 0 && res.MeasuredS > 0 {
		want := cfg.Rate * Share(r.nconns, cfg.Conns)
		if cfg.PerConnRate {
			want = cfg.Rate * float64(r.nconns)
		}
		if got := res.Messages.SendPerS; got < 0.98*want {
			res.addNote(fmt.Sprintf("offered %.0f msg/s of the %.0f scheduled (%.0f%%): %d connections not open, %d sends unsent; the missing load was not offered", got, want, 100*got/want, r.nconns-int(r.open.Load()), res.Messages.Unsent))
		}
	}
	if n := r.cancelledDials.Load(); n > 0 {
		res.addNote(fmt.Sprintf("%d dials were still in progress when the run ended: cancelled, counted neither as opened nor as failed", n))
	}
	if cfg.Ramp > 0 && cfg.Scenario != Connect {
		if rampS := float64(cfg.Conns) / cfg.Ramp; rampS > cfg.Warmup.Seconds() {
			res.addNote(fmt.Sprintf("the ramp-up (%d connections at %g/s: %.1f s) outlasts the warm-up (%.1f s): the measured window includes part of it; use -warmup %.0fs or more", cfg.Conns, cfg.Ramp, rampS, cfg.Warmup.Seconds(), math.Ceil(rampS)))
		}
	}
	res.Errors, res.ErrorsTotal = r.errs.snapshot()
	r.seriesMu.Lock()
	res.Series = r.series
	r.seriesMu.Unlock()

	wall := float64(sendEnd-r.t0) / 1e9
	cores := runtime.GOMAXPROCS(0)
	user := tvSec(ru1.Utime) - tvSec(ru0.Utime)
	sys := tvSec(ru1.Stime) - tvSec(ru0.Stime)
	res.CPU = CPUUsage{UserS: user, SysS: sys, WallS: wall, Cores: cores, IncludesServer: cfg.InProcessServer}
	if wall > 0 {
		res.CPU.Percent = 100 * (user + sys) / (wall * float64(cores))
	}
	res.CPU.Saturated = res.CPU.Percent > SaturationThreshold
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		var la float64
		if _, err := fmt.Sscan(string(b), &la); err == nil {
			res.CPU.LoadAvg = la
			if n := runtime.NumCPU(); la > float64(n) {
				res.addNote(fmt.Sprintf("the machine was busy: load average %.1f on %d CPUs; latency includes waiting for a CPU behind other processes", la, n))
			}
		}
	}
	return res
}

func tvSec(t unix.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
