package loadtest

import (
	"context"
	"sync"
)

// startConnect runs the connect scenario: dials opened and closed again, on a schedule (open
// model: Rate dials/s for the fleet, attempt j due at j/Rate, this shard taking every
// Count-th) or by Conns workers that dial again as soon as their last dial ended (closed).
func (r *run) startConnect(ctx context.Context, ids []int, wg *sync.WaitGroup) {
	cfg := r.cfg
	if cfg.Model == Closed {
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ctx.Err() == nil && r.sending.Load() && r.clk.Now() < r.end; n++ {
					// successive attempts of worker id use ids id, id+Conns, ... (headers, source IPs)
					r.attempt(ctx, id+n*cfg.Conns, r.clk.Now())
				}
			}()
		}
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sem := make(chan struct{}, 1024)
		sl := r.clk.NewSleeper()
		defer sl.Close()
		for j := cfg.Shard.Index; ; j += cfg.Shard.Count {
			intended := r.t0 + int64(float64(j)/cfg.Rate*1e9)
			if intended >= r.end {
				return
			}
			sl.SleepUntil(intended, ctx.Done())
			select {
			case sem <- struct{}{}: // a full semaphore makes attempts late: the lag is measured
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				r.attempt(ctx, j, intended)
			}()
		}
	}()
}

// attempt dials once, records the connect latency from the intended start, and closes.
func (r *run) attempt(ctx context.Context, id int, intended int64) {
	st := r.stripes[id%len(r.stripes)]
	measured := intended >= r.warmEnd
	st.sent.Add(1)
	if measured {
		st.sentM.Add(1)
	}
	cs := &connState{r: r, id: id, st: st}
	start := r.clk.Now()
	c, err := r.eng.Dial(ctx, r.cfg.target(id), r.dialOptions(cs))
	done := r.clk.Now()
	if err != nil {
		if ctx.Err() != nil && !r.sending.Load() {
			r.cancelledDials.Add(1)
			return
		}
		r.failed.Add(1)
		r.errs.addErr(err)
		return
	}
	r.opened.Add(1)
	st.recv.Add(1)
	if measured {
		st.recvM.Add(1)
	}
	st.recordLat(done-intended, measured)
	if measured {
		r.dialMu.Lock()
		r.recordPhasesLocked(cs, start)
		r.dialMu.Unlock()
	}
	cs.selfClose.Store(true)
	_ = c.Close()
}
