package loadtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// ResultSchema names the JSON layout of Result; MergeResults refuses other schemas.
const ResultSchema = "wsfleet.loadtest.result/v1"

// Result is everything a run measured. It is what -json writes and what merge reads; the
// histograms inside are exact (encoded), so merged results are exact too.
type Result struct {
	Schema   string    `json:"schema"`
	Scenario Scenario  `json:"scenario"`
	Model    Model     `json:"model"`
	Targets  []string  `json:"targets"`
	Shard    Shard     `json:"shard"`
	Shards   int       `json:"shards"` // results merged into this one (1 for a single run)
	Config   RunConfig `json:"config"`
	Host     string    `json:"host,omitempty"`
	// Start is the wall-clock time of the run's origin (before ramp-up and warm-up).
	Start time.Time `json:"start"`
	// WarmupS is where the measured window starts (seconds from Start); MeasuredS its length.
	WarmupS   float64 `json:"warmup_s"`
	MeasuredS float64 `json:"measured_s"`

	Connections ConnCounts   `json:"connections"`
	Messages    MsgCounts    `json:"messages"`
	Errors      []ErrorCount `json:"errors"`
	ErrorsTotal int64        `json:"errors_total"`

	// Latency: echo round trip from the intended send time; push: server send stamp to receipt.
	Latency HistSummary `json:"latency"`
	// Connect: intended dial start to upgraded (includes waiting for a dial slot).
	Connect HistSummary `json:"connect"`
	// TCPConnect: dial start to TCP established; Handshake: TCP established to the 101.
	TCPConnect HistSummary `json:"tcp_connect"`
	Handshake  HistSummary `json:"handshake"`
	// Proxy: dial start to the proxy's tunnel being up (TCP to the proxy, TLS with an
	// https:// one, CONNECT or SOCKS5), the part of TCPConnect the proxy took; empty when
	// dials went direct.
	Proxy HistSummary `json:"proxy"`
	// SenderLag: open model, how late each send left after its intended time.
	SenderLag HistSummary `json:"sender_lag"`

	// Flow is the flow's name when the run was a flow; Metrics its named latency metrics
	// and Counts its counts by label (also "foreign" for the built-in scenarios).
	Flow    string          `json:"flow,omitempty"`
	Metrics []MetricSummary `json:"metrics,omitempty"`
	Counts  []LabelCount    `json:"counts,omitempty"`

	Series []Point      `json:"series"`
	CPU    CPUUsage     `json:"cpu"`
	SLO    []SLOResult  `json:"slo,omitempty"`
	Notes  []string     `json:"notes,omitempty"`
	Find   []FindStep   `json:"find,omitempty"`
	Extra  *ExtraCounts `json:"extra,omitempty"`
	// Reconnect: with Config.Reconnect, drops, returns, time disconnected, messages lost in gaps.
	Reconnect *ReconnectCounts `json:"reconnect,omitempty"`
}

// ExtraCounts holds counters that only some scenarios have.
type ExtraCounts struct {
	Pongs int64 `json:"pongs"`
}

// RunConfig is the part of Config that a result records.
type RunConfig struct {
	Conns       int     `json:"conns"`
	Rate        float64 `json:"rate,omitempty"`
	PerConnRate bool    `json:"per_conn_rate,omitempty"`
	Messages    int64   `json:"messages,omitempty"`
	Size        int     `json:"size,omitempty"`
	Binary      bool    `json:"binary,omitempty"`
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s"`
	Ramp        float64 `json:"ramp,omitempty"`
	PingS       float64 `json:"ping_s,omitempty"`
	SourceIPs   int     `json:"source_ips,omitempty"`
	Compress    bool    `json:"compress,omitempty"`
}

// ConnCounts are about connections. For connect, Opened counts successful dials.
type ConnCounts struct {
	Target  int64 `json:"target"`
	Opened  int64 `json:"opened"`
	Failed  int64 `json:"failed"`
	Dropped int64 `json:"dropped"` // ended without our asking, while the run went on
	Peak    int64 `json:"peak"`    // most open at once (merged: the sum of the shards' peaks)
	// Deflate: connections on which the server accepted permessage-deflate (with -compress;
	// for connect, successful dials).
	Deflate int64 `json:"deflate,omitempty"`
	// UpgradesPerS is the handshake rate in the measured window (connect).
	UpgradesPerS float64 `json:"upgrades_per_s,omitempty"`
	// Retries are dials made again after one failed (Config.ConnectRetries); a connection
	// that opened on a retry counts as opened, one whose every attempt failed as failed.
	Retries int64 `json:"retries,omitempty"`
}

// MsgCounts are about messages. Sent and Received cover the measured window (by intended
// send time); the integrity counts cover the whole run.
type MsgCounts struct {
	Sent          int64   `json:"sent"`
	Received      int64   `json:"received"`
	SentTotal     int64   `json:"sent_total"`
	ReceivedTotal int64   `json:"received_total"`
	SendPerS      float64 `json:"send_per_s"`
	RecvPerS      float64 `json:"recv_per_s"`
	// Lost: sent and never answered (echo), or sequence numbers never seen (push).
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	Reordered  int64 `json:"reordered"`
	Corrupt    int64 `json:"corrupt"`
	// Unsent: open-model sends that were due but not made (connection gone or backed up).
	Unsent int64 `json:"unsent"`
}

// Point is one second of the run.
type Point struct {
	T        float64 `json:"t"` // seconds from Start at the interval's end
	Warmup   bool    `json:"warmup,omitempty"`
	Sent     int64   `json:"sent"`
	Received int64   `json:"received"`
	Errors   int64   `json:"errors"`
	Open     int64   `json:"open"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	LagMaxMs float64 `json:"lag_max_ms,omitempty"`
	// Down: connections disconnected and waiting for a redial at the interval's end;
	// Reconnects: returns in the interval (Config.Reconnect).
	Down       int64 `json:"down,omitempty"`
	Reconnects int64 `json:"reconnects,omitempty"`
	// Hist is the interval's latency histogram (µs, 2 digits), encoded.
	Hist string `json:"hdr_v2_us,omitempty"`
	// Metrics: a flow's named metrics in the interval (the top-level figures are the first's).
	Metrics []MetricPoint `json:"metrics,omitempty"`
	// Counts: a flow's counts by label in the interval (see LabelCount), every label each second.
	Counts []LabelPoint `json:"counts,omitempty"`
}

// LabelPoint is one label's count in one second of a flow run.
type LabelPoint struct {
	Label string `json:"label"`
	Count int64  `json:"count"`
}

// MetricPoint is one named metric in one second of a flow run.
type MetricPoint struct {
	Name  string  `json:"name"`
	Count int64   `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	Hist  string  `json:"hdr_v2_us,omitempty"`
}

func metricPoint(name string, h *hdr.Histogram) MetricPoint {
	m := MetricPoint{Name: name}
	if h == nil || h.TotalCount() == 0 {
		return m
	}
	m.Count = h.TotalCount()
	q := h.ValueAtPercentiles([]float64{50, 99})
	m.P50Ms, m.P99Ms, m.MaxMs = us2ms(q[50]), us2ms(q[99]), us2ms(h.Max())
	if b, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
		m.Hist = string(b)
	}
	return m
}

// CPUUsage is the generator process's own CPU time over the run (getrusage).
type CPUUsage struct {
	UserS   float64 `json:"user_s"`
	SysS    float64 `json:"sys_s"`
	WallS   float64 `json:"wall_s"`
	Cores   int     `json:"cores"`
	Percent float64 `json:"percent"` // of all cores
	// Saturated: above 80%; latency then includes the generator's own queueing.
	Saturated bool `json:"saturated"`
	// IncludesServer: the in-process reference server ran in the same process.
	IncludesServer bool `json:"includes_server,omitempty"`
	// LoadAvg is the machine's 1-minute load average at the end (Linux), to tell a starved
	// generator (load above the core count, our share low) from a saturated one.
	LoadAvg float64 `json:"load_avg,omitempty"`
}

// SaturationThreshold is the CPU share above which a report warns that the generator, not
// the target, may be what was measured.
const SaturationThreshold = 80.0

// EncodeJSON writes r as indented JSON.
func (r *Result) EncodeJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteJSON writes r to the file at path.
func (r *Result) WriteJSON(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.EncodeJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadResult reads a JSON result.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != ResultSchema {
		return nil, fmt.Errorf("%s: schema %q, want %q", path, r.Schema, ResultSchema)
	}
	return &r, nil
}

// MergeResults combines shard results exactly: counts added, histograms merged (never
// averaged), series aligned by second. The shards should have started together (-start-at).
func MergeResults(parts []*Result) (*Result, error) {
	if len(parts) == 0 {
		return nil, errors.New("merge: no results")
	}
	first := parts[0]
	m := &Result{
		Schema: ResultSchema, Scenario: first.Scenario, Model: first.Model, Targets: first.Targets,
		Flow: first.Flow, Shard: Shard{0, 1}, Config: first.Config, Start: first.Start, WarmupS: first.WarmupS,
	}
	errs := map[string]*ErrorCount{}
	var lat, con, tcp, hs, prx, lag []HistSummary
	seen := map[int]bool{}
	for _, p := range parts {
		if p.Scenario != first.Scenario || p.Model != first.Model || p.Flow != first.Flow {
			return nil, fmt.Errorf("merge: mixing %s/%s with %s/%s", first.Scenario, first.Model, p.Scenario, p.Model)
		}
		if p.Shard.Count > 1 {
			if seen[p.Shard.Index] && p.Shards <= 1 {
				return nil, fmt.Errorf("merge: shard %d/%d given twice", p.Shard.Index, p.Shard.Count)
			}
			seen[p.Shard.Index] = true
		}
		m.Shards += max(p.Shards, 1)
		if p.Start.Before(m.Start) {
			m.Start = p.Start
		}
		m.MeasuredS = math.Max(m.MeasuredS, p.MeasuredS)
		if p.Host != "" && m.Host != p.Host {
			if m.Host == "" {
				m.Host = p.Host
			} else {
				m.Host = "several"
			}
		}
		c, mc := &m.Connections, &m.Messages
		c.Target += p.Connections.Target
		c.Opened += p.Connections.Opened
		c.Failed += p.Connections.Failed
		c.Retries += p.Connections.Retries
		c.Dropped += p.Connections.Dropped
		c.Peak += p.Connections.Peak
		c.Deflate += p.Connections.Deflate
		c.UpgradesPerS += p.Connections.UpgradesPerS
		mc.Sent += p.Messages.Sent
		mc.Received += p.Messages.Received
		mc.SentTotal += p.Messages.SentTotal
		mc.ReceivedTotal += p.Messages.ReceivedTotal
		mc.SendPerS += p.Messages.SendPerS
		mc.RecvPerS += p.Messages.RecvPerS
		mc.Lost += p.Messages.Lost
		mc.Duplicates += p.Messages.Duplicates
		mc.Reordered += p.Messages.Reordered
		mc.Corrupt += p.Messages.Corrupt
		mc.Unsent += p.Messages.Unsent
		for _, e := range p.Errors {
			if x, ok := errs[e.Kind]; ok {
				x.Count += e.Count
			} else {
				e := e
				errs[e.Kind] = &e
			}
		}
		m.ErrorsTotal += p.ErrorsTotal
		lat = append(lat, p.Latency)
		con = append(con, p.Connect)
		tcp = append(tcp, p.TCPConnect)
		hs = append(hs, p.Handshake)
		prx = append(prx, p.Proxy)
		lag = append(lag, p.SenderLag)
		if p.Extra != nil {
			if m.Extra == nil {
				m.Extra = &ExtraCounts{}
			}
			m.Extra.Pongs += p.Extra.Pongs
		}
		// CPU: each shard ran on its own; the merged figure is the busiest shard's.
		if p.CPU.Percent >= m.CPU.Percent {
			m.CPU = p.CPU
		}
		if p.CPU.Saturated {
			m.CPU.Saturated = true
		}
		for _, n := range p.Notes {
			m.addNote(n)
		}
	}
	m.Config.Conns = int(m.Connections.Target)
	m.Errors = []ErrorCount{}
	for _, e := range errs {
		m.Errors = append(m.Errors, *e)
	}
	sortErrors(m.Errors)
	var err error
	if m.Latency, err = mergeSummaries(lat); err != nil {
		return nil, err
	}
	if m.Connect, err = mergeSummaries(con); err != nil {
		return nil, err
	}
	if m.TCPConnect, err = mergeSummaries(tcp); err != nil {
		return nil, err
	}
	if m.Handshake, err = mergeSummaries(hs); err != nil {
		return nil, err
	}
	if m.Proxy, err = mergeSummaries(prx); err != nil {
		return nil, err
	}
	if m.SenderLag, err = mergeSummaries(lag); err != nil {
		return nil, err
	}
	if m.Reconnect, err = mergeReconnects(parts); err != nil {
		return nil, err
	}
	if err = mergeFlowParts(m, parts); err != nil {
		return nil, err
	}
	if m.Series, err = mergeSeries(parts); err != nil {
		return nil, err
	}
	if first := parts[0].Shard.Count; first > 1 && len(seen) != first {
		m.addNote(fmt.Sprintf("merged %d of %d shards: the total is partial", len(seen), first))
	}
	return m, nil
}

func (r *Result) addNote(n string) {
	for _, x := range r.Notes {
		if x == n {
			return
		}
	}
	r.Notes = append(r.Notes, n)
}

// mergeSeries adds the shards' points second by second (by T), merging interval histograms.
func mergeSeries(parts []*Result) ([]Point, error) {
	type acc struct {
		p     Point
		h     *hdr.Histogram
		mh    map[string]*hdr.Histogram
		names []string
		cnt   map[string]int // index in p.Counts by label
	}
	bySec := map[int]*acc{}
	last := -1
	for _, r := range parts {
		off := r.Start.Sub(parts[0].Start).Seconds()
		if n := len(r.Series); n > 0 {
			last = max(last, int(math.Round(r.Series[n-1].T+off)))
		}
	}
	for _, r := range parts {
		// Align on wall-clock seconds when the shards' starts differ.
		off := r.Start.Sub(parts[0].Start).Seconds()
		shardLast, lastOpen := -1, int64(0)
		for _, p := range r.Series {
			sec := int(math.Round(p.T + off))
			a := bySec[sec]
			if a == nil {
				a = &acc{p: Point{T: float64(sec), Warmup: p.Warmup}}
				bySec[sec] = a
			}
			a.p.Warmup = a.p.Warmup && p.Warmup
			a.p.Sent += p.Sent
			a.p.Received += p.Received
			a.p.Errors += p.Errors
			a.p.Open += p.Open
			a.p.LagMaxMs = math.Max(a.p.LagMaxMs, p.LagMaxMs)
			a.p.Down += p.Down
			a.p.Reconnects += p.Reconnects
			if p.Hist != "" {
				h, err := hdr.Decode([]byte(p.Hist))
				if err != nil {
					return nil, fmt.Errorf("series at %.0fs: %w", p.T, err)
				}
				if a.h == nil {
					a.h = h
				} else {
					a.h.Merge(h)
				}
			}
			for _, mp := range p.Metrics {
				if a.mh == nil {
					a.mh = map[string]*hdr.Histogram{}
				}
				if _, ok := a.mh[mp.Name]; !ok {
					a.mh[mp.Name] = newIvHist()
					a.names = append(a.names, mp.Name)
				}
				if mp.Hist == "" {
					continue
				}
				h, err := hdr.Decode([]byte(mp.Hist))
				if err != nil {
					return nil, fmt.Errorf("series at %.0fs, metric %s: %w", p.T, mp.Name, err)
				}
				a.mh[mp.Name].Merge(h)
			}
			for _, lp := range p.Counts {
				if a.cnt == nil {
					a.cnt = map[string]int{}
				}
				i, ok := a.cnt[lp.Label]
				if !ok {
					i = len(a.p.Counts)
					a.cnt[lp.Label] = i
					a.p.Counts = append(a.p.Counts, LabelPoint{Label: lp.Label})
				}
				a.p.Counts[i].Count += lp.Count
			}
			shardLast, lastOpen = sec, p.Open
		}
		// Open is a gauge: a shard whose series ends a second early still holds its
		// connections in the seconds after, so the merged count does not dip.
		for sec := shardLast + 1; shardLast >= 0 && sec <= last; sec++ {
			if a := bySec[sec]; a != nil {
				a.p.Open += lastOpen
			}
		}
	}
	var out []Point
	for sec := 0; sec <= last; sec++ {
		a := bySec[sec]
		if a == nil {
			continue
		}
		setPercentiles(&a.p, a.h)
		for _, n := range a.names {
			a.p.Metrics = append(a.p.Metrics, metricPoint(n, a.mh[n]))
		}
		out = append(out, a.p)
	}
	return out, nil
}

func setPercentiles(p *Point, h *hdr.Histogram) {
	if h == nil || h.TotalCount() == 0 {
		p.Hist = ""
		return
	}
	q := h.ValueAtPercentiles([]float64{50, 90, 99})
	p.P50Ms, p.P90Ms, p.P99Ms, p.MaxMs = us2ms(q[50]), us2ms(q[90]), us2ms(q[99]), us2ms(h.Max())
	if b, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
		p.Hist = string(b)
	}
}
