package loadtest

import (
	"fmt"
)

// collect takes a point every second of the run (and a last, partial one at the end).
func (r *run) collect(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	sl := r.clk.NewSleeper()
	defer sl.Close()
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
	if r.cfg.Reconnect != nil {
		rc := r.reconnects.Load()
		p.Down, p.Reconnects = r.redialing.Load(), rc-r.prevReconnects
		r.prevReconnects = rc
	}
	if r.prog != nil {
		for i, m := range r.prog.metrics {
			h := newIvHist()
			for _, s := range r.stripes {
				s.mu.Lock()
				h.Merge(s.mIv[i])
				s.mIv[i].Reset()
				s.mu.Unlock()
			}
			p.Metrics = append(p.Metrics, metricPoint(m.Name, h))
		}
		if r.prevCnt == nil {
			r.prevCnt = make([]int64, len(r.prog.labels))
		}
		for i, l := range r.prog.labels {
			var n int64
			for _, s := range r.stripes {
				n += s.ctr[2*i].Load()
			}
			p.Counts = append(p.Counts, LabelPoint{Label: l, Count: n - r.prevCnt[i]})
			r.prevCnt[i] = n
		}
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
