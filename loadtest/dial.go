package loadtest

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// connState is one connection's state; the engine hands it back as Conn.Value().
type connState struct {
	r    *run
	id   int // global id
	idx  int // index in run.conns
	st   *stripe
	sd   *sender
	conn *engine.Conn
	fs   *Session // flows

	// stamped messages (the built-in scenarios' stamp steps, under the session's lock)
	pl    *payload
	buf   []byte
	seq   uint64   // stamps sent
	track seqTrack // stamps received

	down      atomic.Bool
	selfClose atomic.Bool
	proxyAt   int64 // trace, on the dialing goroutine: the proxy's tunnel is up
	tcpAt     int64 // trace, on the loop before Dial returns
	upAt      int64

	// Config.Reconnect (reconnect.go): OnOpen and OnClose own these, but for sentEp and
	// recvEp, which the stamp steps and matchers keep under the session's lock
	opens, drops   int
	downSince      int64 // clock time of a drop awaiting its redial, 0 when up
	downNs         int64 // time disconnected, summed over the drops that came back
	sentEp, recvEp int64 // stamps sent and taken back since the connection last opened
	gapLost        int64 // stamps sent on a connection that then dropped, never answered
}

func (cs *connState) trace(ev engine.TraceEvent) {
	switch ev.Kind {
	case engine.TraceProxy:
		if ev.Err == nil {
			cs.proxyAt = cs.r.clk.Now()
		}
	case engine.TraceConnect:
		if ev.Err == nil {
			cs.tcpAt = cs.r.clk.Now()
		}
	case engine.TraceUpgraded:
		cs.upAt = cs.r.clk.Now()
	}
}

// dialAll opens the shard's connections, at the ramp rate if one is set.
func (r *run) dialAll(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	sem := make(chan struct{}, 1024)
	sl := r.clk.NewSleeper()
	defer sl.Close()
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
		PingInterval:   r.ping(),
		Reconnect:      r.cfg.Reconnect,
		ConnectTimeout: r.cfg.ConnectTimeout,
		TLSConfig:      r.cfg.TLSConfig,
		Proxy:          r.cfg.Proxy,
		Compression:    r.cfg.Compression,
		Trace:          cs.trace,
	}
}

// dial opens one connection and records how long it took from its intended start.
func (r *run) dial(ctx context.Context, cs *connState, intended int64) {
	start := r.clk.Now()
	_, err := r.eng.Dial(ctx, r.cfg.target(cs.id), r.dialOptions(cs))
	for try := 0; err != nil && try < r.cfg.ConnectRetries && r.sending.Load() && sleepCtx(ctx, retryDelay(try)); try++ {
		r.dialRetries.Add(1)
		start = r.clk.Now()
		_, err = r.eng.Dial(ctx, r.cfg.target(cs.id), r.dialOptions(cs))
	}
	done := r.clk.Now()
	if err != nil {
		cs.down.Store(true)
		if ctx.Err() != nil && !r.sending.Load() {
			r.cancelledDials.Add(1) // the run ended while this dial waited
			return
		}
		r.failed.Add(1)
		r.errs.addErr(err)
		if cs.fs != nil {
			cs.fs.stop()
		}
		return
	}
	r.opened.Add(1)
	r.dialMu.Lock()
	recordNs(r.connectH, done-intended)
	r.recordPhasesLocked(cs, start)
	r.dialMu.Unlock()
}

// retryDelay is the wait before dial retry n (0-based): 100 ms doubling to 5 s, ±50%, so
// that the dials a busy server refused together do not come back together.
func retryDelay(n int) time.Duration {
	d := 100 * time.Millisecond << min(n, 6)
	d = min(d, 5*time.Second)
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

// sleepCtx waits d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// recordPhasesLocked records where a successful dial's time went (under dialMu): the proxy
// leg when there was one, TCP established (through a proxy: the socket reaching its loop
// after the tunnel), and the upgrade.
func (r *run) recordPhasesLocked(cs *connState, start int64) {
	if cs.tcpAt > 0 && cs.upAt >= cs.tcpAt {
		recordNs(r.tcpH, cs.tcpAt-start)
		recordNs(r.hsH, cs.upAt-cs.tcpAt)
	}
	if cs.proxyAt > 0 {
		recordNs(r.proxyH, cs.proxyAt-start)
	}
}

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

// ping is the keepalive interval: the Config's, else the flow's.
func (r *run) ping() time.Duration {
	if r.cfg.Ping == 0 && r.prog != nil {
		return r.prog.Flow.Ping
	}
	return r.cfg.Ping
}
