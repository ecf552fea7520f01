package loadtest

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// fmtMs prints a duration in ms with a unit that suits it.
func fmtMs(ms float64) string {
	switch {
	case ms == 0:
		return "0"
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1fms", ms)
	default:
		return fmt.Sprintf("%.2fs", ms/1000)
	}
}

// fmtCount prints an integer with thousands separators.
func fmtCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtRate(r float64) string {
	if r >= 100 {
		return fmtCount(int64(r+0.5)) + "/s"
	}
	return fmt.Sprintf("%.1f/s", r)
}

// WriteText prints the terminal report.
func (r *Result) WriteText(w io.Writer) {
	if r.Flow != "" {
		fmt.Fprintf(w, "\n== wsbench flow %s", r.Flow)
	} else {
		fmt.Fprintf(w, "\n== wsbench %s, %s", r.Scenario, r.modelName())
	}
	if r.Shards > 1 {
		fmt.Fprintf(w, ", %d shards merged", r.Shards)
	} else if r.Shard.Count > 1 {
		fmt.Fprintf(w, ", shard %d/%d", r.Shard.Index, r.Shard.Count)
	}
	fmt.Fprintln(w, " ==")
	fmt.Fprintf(w, "target       %s\n", strings.Join(r.Targets, " "))
	cfg := r.Config
	load := fmt.Sprintf("%d connections", cfg.Conns)
	if r.Scenario == Connect && r.Model == Open {
		load = "dials on a schedule"
	} else if r.Scenario == Connect {
		load = fmt.Sprintf("%d dial loops", cfg.Conns)
	}
	if cfg.Rate > 0 {
		unit := "msg/s"
		if r.Scenario == Connect {
			unit = "dials/s"
		}
		if r.Scenario == Push {
			unit = "msg/s per connection (server push)"
		}
		per := ""
		if cfg.PerConnRate && r.Scenario != Push {
			per = " per connection"
		}
		load += fmt.Sprintf(", rate %g %s%s", cfg.Rate, unit, per)
	}
	if cfg.Size > 0 {
		kind := "text"
		if cfg.Binary {
			kind = "binary"
		}
		load += fmt.Sprintf(", %d-byte %s messages", cfg.Size, kind)
	}
	if cfg.Messages > 0 {
		load += fmt.Sprintf(", %d messages", cfg.Messages)
	}
	fmt.Fprintf(w, "load         %s\n", load)
	fmt.Fprintf(w, "time         %s, measured %.1f s after %.1f s warm-up\n", r.Start.Format("2006-01-02 15:04:05 MST"), r.MeasuredS, r.WarmupS)

	c := r.Connections
	conns := fmt.Sprintf("%s opened, %s failed, %s dropped (peak %s open)", fmtCount(c.Opened), fmtCount(c.Failed), fmtCount(c.Dropped), fmtCount(c.Peak))
	if r.Scenario == Connect {
		conns = fmt.Sprintf("%s dials succeeded, %s failed: %s handshakes in the window", fmtCount(c.Opened), fmtCount(c.Failed), fmtRate(c.UpgradesPerS))
	} else {
		conns = fmt.Sprintf("%s of %s opened, %s failed, %s dropped (peak %s open)", fmtCount(c.Opened), fmtCount(c.Target), fmtCount(c.Failed), fmtCount(c.Dropped), fmtCount(c.Peak))
	}
	if c.Retries > 0 {
		conns += fmt.Sprintf("; %s dials retried", fmtCount(c.Retries))
	}
	fmt.Fprintf(w, "connections  %s\n", conns)
	if rc := r.Reconnect; rc != nil {
		d := rc.Disconnected
		fmt.Fprintf(w, "reconnects   %s returns, %s connections dropped at least once (%s still down at the end); policy %s\n",
			fmtCount(rc.Reconnects), fmtCount(rc.Conns), fmtCount(rc.DownAtEnd), rc.Policy)
		if rc.Conns > 0 {
			fmt.Fprintf(w, "downtime     per dropped connection p50 %s p99 %s max %s; %s messages lost in the gaps\n",
				fmtMs(d.P50Ms), fmtMs(d.P99Ms), fmtMs(d.MaxMs), fmtCount(rc.LostInGaps))
		}
	}
	if cfg.Compress {
		fmt.Fprintf(w, "compression  permessage-deflate offered; the server accepted it on %s of %s connections\n", fmtCount(c.Deflate), fmtCount(c.Opened))
	}
	m := r.Messages
	switch r.Scenario {
	case Echo, Soak:
		if m.SentTotal > 0 || r.Scenario == Echo {
			fmt.Fprintf(w, "messages     sent %s (%s), echoed %s (%s) in the window\n", fmtCount(m.Sent), fmtRate(m.SendPerS), fmtCount(m.Received), fmtRate(m.RecvPerS))
			fmt.Fprintf(w, "integrity    lost %s, duplicates %s, reordered %s, corrupt %s, unsent %s (of %s sent in all)\n",
				fmtCount(m.Lost), fmtCount(m.Duplicates), fmtCount(m.Reordered), fmtCount(m.Corrupt), fmtCount(m.Unsent), fmtCount(m.SentTotal))
		}
	case Push:
		fmt.Fprintf(w, "messages     received %s (%s) in the window\n", fmtCount(m.Received), fmtRate(m.RecvPerS))
		fmt.Fprintf(w, "integrity    lost %s (sequence gaps), duplicates %s, reordered %s, corrupt %s (of %s pushed in all)\n",
			fmtCount(m.Lost), fmtCount(m.Duplicates), fmtCount(m.Reordered), fmtCount(m.Corrupt), fmtCount(m.SentTotal))
	}
	if r.Scenario == FlowRun && m.Lost+m.Duplicates+m.Reordered+m.Corrupt > 0 {
		fmt.Fprintf(w, "integrity    stamps lost %s, duplicates %s, reordered %s, corrupt %s\n", fmtCount(m.Lost), fmtCount(m.Duplicates), fmtCount(m.Reordered), fmtCount(m.Corrupt))
	}
	if r.Extra != nil {
		fmt.Fprintf(w, "keepalive    %s pongs received (ping every %gs)\n", fmtCount(r.Extra.Pongs), cfg.PingS)
	}

	type row struct {
		name string
		h    HistSummary
	}
	var rows []row
	switch r.Scenario {
	case Echo, Soak:
		what := "round trip"
		if r.Model == Open {
			what = "round trip*"
		}
		rows = append(rows, row{what, r.Latency})
	case Push:
		rows = append(rows, row{"push→recv", r.Latency})
	case FlowRun:
		for _, m := range r.Metrics {
			name := m.Name
			if m.Stamp {
				name += "†"
			}
			rows = append(rows, row{name, m.Latency})
		}
	}
	rows = append(rows, row{"connect", r.Connect}, row{"tcp connect", r.TCPConnect}, row{"proxy", r.Proxy}, row{"handshake", r.Handshake}, row{"sender lag", r.SenderLag})
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := false
	for _, x := range rows {
		h := x.h
		if h.Count == 0 {
			continue
		}
		if !header {
			fmt.Fprintln(tw, "latency\tcount\tmin\tp50\tp90\tp99\tp99.9\tp99.99\tmax\t")
			header = true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", x.name, fmtCount(h.Count), fmtMs(h.MinMs), fmtMs(h.P50Ms), fmtMs(h.P90Ms),
			fmtMs(h.P99Ms), fmtMs(h.P999Ms), fmtMs(h.P9999), fmtMs(h.MaxMs))
	}
	if !header {
		fmt.Fprintln(tw, "latency: nothing measured")
	}
	tw.Flush()
	switch {
	case r.Model == Open && r.Latency.Count > 0:
		fmt.Fprintln(w, "* from each message's intended send time (open model: no coordinated omission)")
	case r.Model == Closed && r.Scenario == Echo:
		fmt.Fprintln(w, "  (closed model: each connection waits for its echo, so server stalls are under-represented; use -model open -r RATE)")
	case r.Scenario == Push:
		fmt.Fprintln(w, "  (push latency compares the server's clock with ours: exact on one host, else as good as clock sync)")
	}
	r.writeFlowNotes(w)

	fmt.Fprintln(w)
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "errors       none")
	} else {
		fmt.Fprintf(w, "errors       %s in all\n", fmtCount(r.ErrorsTotal))
		for _, e := range r.Errors {
			ex := e.Example
			if len(ex) > 160 {
				ex = ex[:160] + "…"
			}
			fmt.Fprintf(w, "  %-22s %10s  e.g. %s\n", e.Kind, fmtCount(e.Count), ex)
		}
	}
	cpu := r.CPU
	if cpu.WallS > 0 {
		fmt.Fprintf(w, "generator    CPU %.0f%% of %d cores (user %.1fs, sys %.1fs over %.1fs)", cpu.Percent, cpu.Cores, cpu.UserS, cpu.SysS, cpu.WallS)
		if cpu.IncludesServer {
			fmt.Fprint(w, ", including the in-process server")
		}
		if cpu.LoadAvg > 0 {
			fmt.Fprintf(w, "; load average %.1f", cpu.LoadAvg)
		}
		fmt.Fprintln(w)
		if cpu.Saturated {
			fmt.Fprintf(w, "WARNING      the generator ran above %.0f%% CPU: the figures include its own queueing; use fewer connections or a lower rate per process, or shard (-shard i/n) across machines\n", SaturationThreshold)
		}
	}
	for _, s := range r.SLO {
		verdict := "MET"
		if !s.Met {
			verdict = "FAILED"
		}
		v := fmt.Sprintf("%.3g%s", s.Value, s.Unit)
		if s.Unit == "ms" {
			v = fmtMs(s.Value)
		}
		fmt.Fprintf(w, "SLO          %-18s %-8s (measured %s)\n", s.Objective, verdict, v)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note         %s\n", n)
	}
}

func (r *Result) modelName() string { return ModelName(r.Scenario, r.Model) }

// ModelName describes how a scenario offers load ("open model", "server-paced"...).
func ModelName(s Scenario, m Model) string {
	switch {
	case s == FlowRun:
		return "scripted"
	case m != "":
		return string(m) + " model"
	case s == Push:
		return "server-paced"
	}
	return "connections held, no messages"
}

// writeFlowNotes prints a flow's counts by label and what the marks in its table mean.
func (r *Result) writeFlowNotes(w io.Writer) {
	if r.Scenario != FlowRun && r.Count(ForeignLabel).Total == 0 {
		return
	}
	for _, m := range r.Metrics {
		if m.Stamp {
			fmt.Fprintln(w, "† from a time inside the message: compares the sender's (or server's) clock with ours; exact on one host, else as good as clock sync")
			break
		}
	}
	for _, m := range r.Metrics {
		if !m.Stamp && m.Latency.Count > 0 {
			fmt.Fprintln(w, "  request → reply metrics count from each send's intended time (open loops) or from the send itself")
			break
		}
	}
	if len(r.Counts) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, c := range r.Counts {
		if r.Flow == "" && (c.Label != ForeignLabel || c.Total == 0) {
			continue // a built-in scenario's counts are its messages and integrity lines
		}
		line := fmt.Sprintf("count        %-22s %10s in the window (%s in all", c.Label, fmtCount(c.Count), fmtCount(c.Total))
		if r.MeasuredS > 0 {
			line += ", " + fmtRate(float64(c.Count)/r.MeasuredS)
		}
		line += ")"
		if c.Example != "" {
			line += "  e.g. " + c.Example
		}
		fmt.Fprintln(w, line)
	}
}
