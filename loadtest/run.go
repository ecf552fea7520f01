package loadtest

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/engine"
)

// run is one load test in progress. Every scenario but connect is a flow: prog is the
// Config's flow, or the built-in scenario's (scenarioFlow), walked by every connection.
type run struct {
	cfg  *Config
	prog *Program
	user bool // prog is the caller's flow (not a built-in scenario's)
	clk  *realClock
	eng  *engine.Engine
	h    engine.Handler

	t0, warmEnd, end int64
	t0Wall           int64 // UnixNano of t0, for push stamps
	warmEndWall      int64

	stripes []*stripe
	senders []*sender
	conns   []*connState
	nconns  int // this shard's connections

	sending, closing atomic.Bool
	dialsDone        atomic.Bool
	messages         bool // connections exchange stamped messages (echo, soak with a rate)
	msgSize          int  // their size
	open, peak       atomic.Int64
	deflate          atomic.Int64 // connections on which permessage-deflate was negotiated
	cancelledDials   atomic.Int64
	opened, failed   atomic.Int64
	dialRetries      atomic.Int64 // Config.ConnectRetries: dials made again after one failed
	dropped          atomic.Int64
	redialing        atomic.Int64 // Config.Reconnect: connections down, waiting for a redial
	reconnects       atomic.Int64
	lostInGaps       atomic.Int64
	prevReconnects   int64
	errs             *errCounter
	waiting          atomic.Int64 // expects outstanding
	flowsDone        atomic.Int64 // connections whose flow ended (or never began)

	exMu     sync.Mutex // an example message per label
	examples []string
	exSet    []atomic.Bool

	dialMu         sync.Mutex
	connectH, tcpH *hdr.Histogram
	hsH, proxyH    *hdr.Histogram

	seriesMu sync.Mutex
	series   []Point
	prevCtr  [4]int64
	prevCnt  []int64 // a flow's counts by label at the last point
	prevErr  int64
	prevT    int64
}

// Run runs one load test as cfg says and returns what it measured. ctx cancels it early (the
// partial result is returned with a note).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &run{cfg: &cfg, errs: newErrCounter(), connectH: newHist(), tcpH: newHist(), hsH: newHist(), proxyH: newHist()}
	r.messages = cfg.Scenario == Echo || (cfg.Scenario == Soak && cfg.Rate > 0)
	r.prog, r.user = cfg.Flow, cfg.Flow != nil
	if r.messages {
		pl, err := newPayload(cfg.Payload, cfg.Size, cfg.Binary)
		if err != nil {
			return nil, err
		}
		r.msgSize = pl.Size()
	}
	if cfg.Scenario != Connect && r.prog == nil {
		p, err := scenarioFlow(&cfg)
		if err != nil {
			return nil, err
		}
		r.prog = p
	}
	if p := r.prog; p != nil {
		r.h = &flowHandler{r: r}
		r.examples = make([]string, len(p.labels))
		r.exSet = make([]atomic.Bool, len(p.labels))
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
	eng, err := engine.New(engine.Options{Loops: cfg.Loops})
	if err != nil {
		return nil, fmt.Errorf("start engine: %w", err)
	}
	r.eng = eng
	return r.run(ctx)
}

// run: start the clock and the timers, dial, wait for the end, drain, report.
func (r *run) run(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	ids := cfg.Shard.IDs(cfg.Conns)
	r.nconns = len(ids)
	nstripes := min(runtime.GOMAXPROCS(0), len(ids))
	if cfg.Scenario == Connect && cfg.Model == Open {
		nstripes = runtime.GOMAXPROCS(0)
	}
	for range nstripes {
		r.stripes = append(r.stripes, newStripe(r.prog))
	}
	r.startClock()
	var ru0, ru1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)

	stop := make(chan struct{}) // closed when sending ends
	var sendWG sync.WaitGroup
	if r.prog != nil {
		// the senders' heaps are the flow's timers: thinks, deadlines, open loops
		r.startSenders(nstripes, r.flowTimer, stop, &sendWG)
	}
	r.sending.Store(true)
	collectDone, collectStop := make(chan struct{}), make(chan struct{})
	go r.collect(collectStop, collectDone)

	dialCtx, cancelDials := context.WithCancel(ctx)
	defer cancelDials()
	var dialWG sync.WaitGroup
	if cfg.Scenario == Connect {
		r.startConnect(dialCtx, ids, &dialWG)
	} else {
		if err := r.newConns(ids); err != nil {
			return nil, err
		}
		dialWG.Add(1)
		go r.dialAll(dialCtx, &dialWG)
		go func() { dialWG.Wait(); r.dialsDone.Store(true) }()
	}

	interrupted, allGone := r.wait(ctx)
	sendEnd := min(r.clk.Now(), r.end)
	r.sending.Store(false)
	close(stop)
	sendWG.Wait()
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	cancelDials()
	if !interrupted {
		r.drain(ctx)
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

func (r *run) startClock() {
	cfg := r.cfg
	r.clk = newRealClock()
	r.t0 = r.clk.Now()
	r.t0Wall = r.clk.Wall(r.t0).UnixNano()
	r.prevT = r.t0
	r.warmEnd = r.t0 + int64(cfg.Warmup)
	r.warmEndWall = r.clk.Wall(r.warmEnd).UnixNano()
	r.end = r.warmEnd + int64(cfg.Duration)
	if cfg.Duration == 0 {
		r.end = r.warmEnd + int64(24*time.Hour) // count mode without a cap
	}
}

// newConns makes the state of this shard's connections, each with its flow session.
func (r *run) newConns(ids []int) error {
	r.conns = make([]*connState, len(ids))
	for i, id := range ids {
		cs := &connState{r: r, id: id, idx: i, st: r.stripes[i%len(r.stripes)]}
		if len(r.senders) > 0 {
			cs.sd = r.senders[i%len(r.senders)]
		}
		fs, err := r.newSession(cs)
		if err != nil {
			return err
		}
		cs.fs = fs
		r.conns[i] = cs
	}
	return nil
}

// wait returns at the end of the window, when every flow has finished (count mode and flows
// that end), when no connection is left, or on cancellation.
func (r *run) wait(ctx context.Context) (interrupted, allGone bool) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, false
		case <-tick.C:
		}
		if r.clk.Now() >= r.end {
			return false, false
		}
		if r.prog != nil && len(r.prog.ins) > 0 && r.flowsDone.Load() == int64(r.nconns) && r.waiting.Load() == 0 {
			return false, false // every connection's flow has finished
		}
		if r.cfg.Scenario != Connect && r.dialsDone.Load() && r.open.Load() == 0 && r.redialing.Load() == 0 {
			return false, true // every connection failed or dropped: nothing left to measure
		}
	}
}

// drain waits, up to Config.Drain, for the replies still on their way: stamped messages
// not yet echoed, expects not yet matched.
func (r *run) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var sent, recv int64
		for _, s := range r.stripes {
			sent += s.sent.Load()
			recv += s.recv.Load()
		}
		// stamps lost in a drop's gap will not come back
		if (!r.messages || recv+r.lostInGaps.Load() >= sent) && r.waiting.Load() == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
