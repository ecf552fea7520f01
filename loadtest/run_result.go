package loadtest

import (
	"fmt"
	"math"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

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
		res.Config.Size, res.Config.Binary = r.msgSize, cfg.Binary
	}
	res.Host, _ = os.Hostname()
	c := &res.Connections
	c.Target = int64(len(ids))
	c.Opened, c.Failed, c.Dropped, c.Peak = r.opened.Load(), r.failed.Load(), r.dropped.Load(), r.peak.Load()
	c.Retries = r.dialRetries.Load()
	if cfg.Compression != nil {
		res.Config.Compress = true
		c.Deflate = r.deflate.Load()
	}

	lat, lag := newHist(), newHist()
	var sentM, recvM, unsent, pongs int64
	for _, s := range r.stripes {
		lat.Merge(s.lat)
		lag.Merge(s.lag)
		sentM += s.sentM.Load()
		recvM += s.recvM.Load()
		unsent += s.unsent.Load()
		pongs += s.pongs.Load()
	}
	m := &res.Messages
	m.Unsent = unsent
	switch cfg.Scenario {
	case Connect:
		res.Connect = summarize(lat)
		m.SentTotal, m.ReceivedTotal = 0, 0
		if res.MeasuredS > 0 {
			c.UpgradesPerS = float64(recvM) / res.MeasuredS
		}
	default:
		res.Latency = summarize(lat)
		res.Connect = summarize(r.connectH)
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
	if r.prog != nil {
		r.flowResult(res)
	}
	res.TCPConnect = summarize(r.tcpH)
	res.Handshake = summarize(r.hsH)
	res.Proxy = summarize(r.proxyH)
	if cfg.Model == Open && r.messages || r.user && lag.TotalCount() > 0 {
		res.SenderLag = summarize(lag) // how late open loops' iterations started
	}
	if cfg.Ping > 0 {
		res.Extra = &ExtraCounts{Pongs: pongs}
	}
	if cfg.Model == Open && r.messages && cfg.Messages == 0 && res.MeasuredS > 0 {
		want := cfg.Rate * share(r.nconns, cfg.Conns)
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
	res.Reconnect = r.reconnectResult(sendEnd)
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
