package loadtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SLO is one service-level objective: p99<50ms, p99.9<=100ms, max<1s, mean<5ms, errors<1%
// (of messages sent plus dials attempted; of dials for connect), errors<10, lost<=0 on the
// run's latency; and on a flow's named metrics p99(say)<100ms, mean(fanout)<20ms,
// rate(say)>=900/s, count(pong)>0, timeouts(say)<0.1% (of that expect's outcomes).
type SLO struct {
	Raw    string
	Metric string // p<N>, max, mean, errors, lost, rate, count, timeouts
	Name   string // the named metric or label, "" for the run's latency
	Pct    float64
	Op     string // <, <=, >, >=
	Limit  float64
	// Percent: the limit is a percentage (errors, lost, timeouts).
	Percent bool
}

// SLOResult is an objective checked against a result.
type SLOResult struct {
	Objective string  `json:"objective"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Met       bool    `json:"met"`
}

// ParseSLO reads a comma-separated list of objectives.
func ParseSLO(s string) ([]SLO, error) {
	var out []SLO
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		o, err := parseObjective(part)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, errors.New("no objective given")
	}
	return out, nil
}

func parseObjective(part string) (SLO, error) {
	o := SLO{Raw: part}
	i := strings.IndexAny(part, "<>")
	if i <= 0 {
		return o, fmt.Errorf("objective %q: want metric<limit, e.g. p99<50ms or p99(say)<100ms", part)
	}
	o.Op = part[i : i+1]
	rest := part[i+1:]
	if strings.HasPrefix(rest, "=") {
		o.Op, rest = o.Op+"=", rest[1:]
	}
	rest = strings.TrimSpace(rest)
	o.Metric = strings.ToLower(strings.TrimSpace(part[:i]))
	if j := strings.IndexByte(o.Metric, '('); j > 0 {
		if !strings.HasSuffix(o.Metric, ")") {
			return o, fmt.Errorf("objective %q: %q lacks its )", part, o.Metric)
		}
		o.Name = strings.TrimSpace(strings.TrimSpace(part[:i])[j+1 : len(strings.TrimSpace(part[:i]))-1])
		o.Metric = o.Metric[:j]
		if o.Name == "" {
			return o, fmt.Errorf("objective %q: empty name in ()", part)
		}
	}
	count := func() error {
		if strings.HasSuffix(rest, "%") {
			o.Percent, rest = true, strings.TrimSuffix(rest, "%")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil || v < 0 {
			return fmt.Errorf("objective %q: limit %q: want a count or a percentage", part, rest)
		}
		o.Limit = v
		return nil
	}
	switch {
	case o.Metric == "max" || o.Metric == "mean" || (strings.HasPrefix(o.Metric, "p") && len(o.Metric) > 1 && o.Metric[1] >= '0' && o.Metric[1] <= '9'):
		if strings.HasPrefix(o.Metric, "p") {
			p, err := strconv.ParseFloat(o.Metric[1:], 64)
			if err != nil || p <= 0 || p > 100 {
				return o, fmt.Errorf("objective %q: percentile %q: want p50, p99, p99.9...", part, o.Metric)
			}
			o.Pct = p
		}
		d, err := time.ParseDuration(rest)
		if err != nil {
			return o, fmt.Errorf("objective %q: limit %q is not a duration such as 50ms", part, rest)
		}
		o.Limit = float64(d) / 1e6
	case o.Metric == "errors" || o.Metric == "lost":
		if o.Name != "" {
			return o, fmt.Errorf("objective %q: %s takes no name", part, o.Metric)
		}
		if err := count(); err != nil {
			return o, err
		}
	case o.Metric == "timeouts" || o.Metric == "count":
		if o.Name == "" {
			return o, fmt.Errorf("objective %q: %s needs a label, e.g. %s(say)", part, o.Metric, o.Metric)
		}
		if err := count(); err != nil {
			return o, err
		}
		if o.Percent && o.Metric == "count" {
			return o, fmt.Errorf("objective %q: count takes a number, not a percentage", part)
		}
	case o.Metric == "rate":
		if o.Name == "" {
			return o, fmt.Errorf("objective %q: rate needs a name, e.g. rate(say)>=900/s", part)
		}
		v, err := parseRate(rest)
		if err != nil {
			return o, fmt.Errorf("objective %q: %v", part, err)
		}
		o.Limit = v
	default:
		return o, fmt.Errorf("objective %q: unknown metric %q (pNN, max, mean, errors, lost; for flows also rate, count, timeouts)", part, o.Metric)
	}
	return o, nil
}

func (o SLO) met(v float64) bool {
	switch o.Op {
	case "<":
		return v < o.Limit
	case "<=":
		return v <= o.Limit
	case ">":
		return v > o.Limit
	}
	return v >= o.Limit
}

// CheckSLO evaluates the objectives on r; unnamed latency objectives read the message
// latency (the connect latency for connect), named ones a flow's metric of that name.
func CheckSLO(r *Result, slos []SLO) ([]SLOResult, bool) {
	all := true
	var out []SLOResult
	for _, o := range slos {
		v, unit, ok := r.sloValue(o)
		met := ok && o.met(v)
		all = all && met
		out = append(out, SLOResult{Objective: o.Raw, Value: v, Unit: unit, Met: met})
	}
	return out, all
}

// sloValue is the figure an objective reads; ok is false when there is none (nothing
// measured meets no latency objective).
func (r *Result) sloValue(o SLO) (float64, string, bool) {
	lat := r.Latency
	if r.Scenario == Connect {
		lat = r.Connect
	}
	if o.Name != "" {
		switch o.Metric {
		case "timeouts", "count", "rate":
		default:
			m := r.Metric(o.Name)
			if m == nil {
				return 0, "ms", false
			}
			lat = m.Latency
		}
	}
	pct := func(n, base float64) float64 {
		if base > 0 {
			return 100 * n / base
		}
		if n > 0 {
			return 100
		}
		return 0
	}
	switch o.Metric {
	case "max":
		return lat.MaxMs, "ms", lat.Count > 0
	case "mean":
		return lat.MeanMs, "ms", lat.Count > 0
	case "errors", "lost":
		n := float64(r.ErrorsTotal)
		if o.Metric == "lost" {
			n = float64(r.Messages.Lost)
		}
		if !o.Percent {
			return n, "", true
		}
		// Errors come from dials and from messages, so the rate is over both: a soak sends
		// few messages, and its failed dials must not read as 100%.
		dials := float64(r.Connections.Opened + r.Connections.Failed)
		base := float64(r.Messages.SentTotal) + dials
		if r.Scenario == Connect {
			base = dials
		}
		return pct(n, base), "%", true
	case "timeouts":
		n := float64(r.Count("timeouts(" + o.Name + ")").Total)
		if !o.Percent {
			return n, "", true
		}
		return pct(n, n+float64(r.Count(o.Name).Total)), "%", true
	case "count":
		if m := r.Metric(o.Name); m != nil {
			return float64(m.Latency.Count), "", true
		}
		return float64(r.Count(o.Name).Count), "", true
	case "rate":
		n := float64(r.Count(o.Name).Count)
		if m := r.Metric(o.Name); m != nil {
			n = float64(m.Latency.Count)
		}
		if r.MeasuredS <= 0 {
			return 0, "/s", false
		}
		return n / r.MeasuredS, "/s", true
	}
	return lat.Quantile(o.Pct), "ms", lat.Count > 0
}

// FindStep is one rate tried by Find.
type FindStep struct {
	Rate     float64     `json:"rate"`
	Met      bool        `json:"met"`
	Achieved float64     `json:"achieved_per_s"`
	P50Ms    float64     `json:"p50_ms"`
	P99Ms    float64     `json:"p99_ms"`
	MaxMs    float64     `json:"max_ms"`
	Errors   int64       `json:"errors"`
	SLO      []SLOResult `json:"slo"`
}

// FindOptions steer Find.
type FindOptions struct {
	Start    float64 // first rate (default: cfg.Rate, else 1000/s)
	Factor   float64 // rate multiplier per step (default 1.5)
	MaxSteps int     // default 12
	// OnStep is called after each step.
	OnStep func(FindStep, *Result)
}

// Find runs cfg in the open model at increasing rates until the objectives break. It returns
// the last result that met them (nil if the first step failed) and every step.
func Find(ctx context.Context, cfg Config, slos []SLO, fo FindOptions) (*Result, []FindStep, error) {
	if cfg.Scenario == Push || cfg.Scenario == Soak {
		return nil, nil, fmt.Errorf("find steps a send rate: it works with the echo and connect scenarios, not %s", cfg.Scenario)
	}
	cfg.Model = Open
	rate := fo.Start
	if rate <= 0 {
		rate = cfg.Rate
	}
	if rate <= 0 {
		rate = 1000
	}
	if fo.Factor <= 1 {
		fo.Factor = 1.5
	}
	if fo.MaxSteps <= 0 {
		fo.MaxSteps = 12
	}
	var best *Result
	var steps []FindStep
	for i := 0; i < fo.MaxSteps; i++ {
		if ctx.Err() != nil {
			break
		}
		c := cfg
		c.Rate = rate
		res, err := Run(ctx, c)
		if err != nil {
			return best, steps, err
		}
		sr, met := CheckSLO(res, slos)
		res.SLO = sr
		lat := res.Latency
		achieved := res.Messages.RecvPerS
		if cfg.Scenario == Connect {
			lat, achieved = res.Connect, res.Connections.UpgradesPerS
		}
		st := FindStep{Rate: rate, Met: met, Achieved: achieved, P50Ms: lat.P50Ms, P99Ms: lat.P99Ms, MaxMs: lat.MaxMs, Errors: res.ErrorsTotal, SLO: sr}
		steps = append(steps, st)
		if fo.OnStep != nil {
			fo.OnStep(st, res)
		}
		if !met {
			break
		}
		best = res
		rate *= fo.Factor
	}
	if best != nil {
		best.Find = steps
	}
	return best, steps, nil
}
