package loadtest

import (
	"fmt"
	"strings"

	"github.com/wsfleet/wsfleet/engine"
)

// ReconnectCounts say how a run with Config.Reconnect rode through drops: a server restarted
// by a deploy, a proxy that cut its connections.
type ReconnectCounts struct {
	// Policy is the ReconnectPolicy as given (zero fields: the engine's defaults).
	Policy string `json:"policy"`
	// Reconnects counts returns after a drop; Conns the connections that dropped at least once.
	Reconnects int64 `json:"reconnects"`
	Conns      int64 `json:"conns"`
	// DownAtEnd: connections disconnected when the run ended (still redialing, or given up
	// after MaxAttempts).
	DownAtEnd int64 `json:"down_at_end"`
	// LostInGaps: messages sent on a connection that then dropped and never answered (the
	// engine discards what a dropped connection had not written; the server's echoes of the
	// rest went to the old socket).
	LostInGaps int64 `json:"lost_in_gaps"`
	// Disconnected: per connection that dropped, its total time disconnected over the run.
	Disconnected HistSummary `json:"disconnected"`
}

// policyString describes p for reports.
func policyString(p *engine.ReconnectPolicy) string {
	if p == nil {
		return ""
	}
	var parts []string
	add := func(name string, set bool, v any) {
		if set {
			parts = append(parts, fmt.Sprintf("%s=%v", name, v))
		}
	}
	add("min", p.MinDelay > 0, p.MinDelay)
	add("max", p.MaxDelay > 0, p.MaxDelay)
	add("x", p.Multiplier > 0, p.Multiplier)
	add("jitter", p.Jitter > 0, p.Jitter)
	add("attempts", p.MaxAttempts > 0, p.MaxAttempts)
	if len(parts) == 0 {
		return "engine defaults"
	}
	return strings.Join(parts, ",")
}

// reopened accounts for an OnOpen: it reports whether it is a return after a drop (under
// Config.Reconnect the same connection opens again) rather than the first. The engine runs a
// connection's OnClose and its next OnOpen one after the other, so they share these fields.
func (r *run) reopened(cs *connState) bool {
	cs.opens++
	if cs.opens == 1 {
		return false
	}
	if cs.downSince > 0 {
		cs.downNs += r.clk.Now() - cs.downSince
		cs.downSince = 0
		r.redialing.Add(-1)
	}
	r.reconnects.Add(1)
	cs.down.Store(false)
	return true
}

// dropForRedial accounts for an OnClose that the engine will follow with a redial (a drop
// under Config.Reconnect, while the run goes on; c.Err() is nil until a connection ends for
// good): the connection is down until its next OnOpen.
func (r *run) dropForRedial(cs *connState, c *engine.Conn) bool {
	if r.cfg.Reconnect == nil || r.closing.Load() || cs.selfClose.Load() || c.Err() != nil {
		return false
	}
	cs.drops++
	cs.downSince = r.clk.Now()
	r.redialing.Add(1)
	return true
}

// reconnectResult sums the connections' drops; end is when sending ended.
func (r *run) reconnectResult(end int64) *ReconnectCounts {
	if r.cfg.Reconnect == nil {
		return nil
	}
	rc := &ReconnectCounts{Policy: policyString(r.cfg.Reconnect), Reconnects: r.reconnects.Load()}
	h := newHist()
	for _, cs := range r.conns {
		if cs.drops == 0 {
			continue
		}
		rc.Conns++
		rc.LostInGaps += cs.gapLost
		down := cs.downNs
		if cs.downSince > 0 {
			rc.DownAtEnd++
			down += max(0, end-cs.downSince)
		}
		recordNs(h, down)
	}
	rc.Disconnected = summarize(h)
	return rc
}

// mergeReconnects adds the shards' counts and merges their histograms exactly.
func mergeReconnects(parts []*Result) (*ReconnectCounts, error) {
	var m *ReconnectCounts
	var hs []HistSummary
	for _, p := range parts {
		rc := p.Reconnect
		if rc == nil {
			continue
		}
		if m == nil {
			m = &ReconnectCounts{Policy: rc.Policy}
		}
		m.Reconnects += rc.Reconnects
		m.Conns += rc.Conns
		m.DownAtEnd += rc.DownAtEnd
		m.LostInGaps += rc.LostInGaps
		hs = append(hs, rc.Disconnected)
	}
	if m == nil {
		return nil, nil
	}
	var err error
	m.Disconnected, err = mergeSummaries(hs)
	return m, err
}

// outages are the spans of the series (seconds since Start) during which connections were
// disconnected waiting for a redial, for the HTML charts.
func (r *Result) outages() []span {
	var out []span
	prevT := 0.0
	for _, p := range r.Series {
		if p.Down > 0 {
			if n := len(out); n > 0 && out[n-1].to >= prevT-1e-9 {
				out[n-1].to = p.T
			} else {
				out = append(out, span{prevT, p.T})
			}
		}
		prevT = p.T
	}
	return out
}

type span struct{ from, to float64 }
