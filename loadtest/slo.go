package loadtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SLO is one service-level objective, e.g. p99<50ms, p99.9<=100ms, max<1s, mean<5ms,
// errors<1% (of messages sent plus dials attempted; of dials for connect), errors<10, lost<=0.
type SLO struct {
	Raw     string
	Metric  string // p<N>, max, mean, errors, lost
	Pct     float64
	OrEqual bool
	Limit   float64 // ms for latency; a count or a percentage
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
		o := SLO{Raw: part}
		i := strings.IndexAny(part, "<")
		if i <= 0 {
			return nil, fmt.Errorf("objective %q: want metric<limit, e.g. p99<50ms", part)
		}
		o.Metric = strings.ToLower(strings.TrimSpace(part[:i]))
		rest := part[i+1:]
		if strings.HasPrefix(rest, "=") {
			o.OrEqual, rest = true, rest[1:]
		}
		rest = strings.TrimSpace(rest)
		switch {
		case o.Metric == "max" || o.Metric == "mean" || strings.HasPrefix(o.Metric, "p"):
			if strings.HasPrefix(o.Metric, "p") {
				p, err := strconv.ParseFloat(o.Metric[1:], 64)
				if err != nil || p <= 0 || p > 100 {
					return nil, fmt.Errorf("objective %q: percentile %q: want p50, p99, p99.9...", part, o.Metric)
				}
				o.Pct = p
			}
			d, err := time.ParseDuration(rest)
			if err != nil {
				return nil, fmt.Errorf("objective %q: limit %q is not a duration such as 50ms", part, rest)
			}
			o.Limit = float64(d) / 1e6
		case o.Metric == "errors" || o.Metric == "lost":
			if strings.HasSuffix(rest, "%") {
				o.Percent, rest = true, strings.TrimSuffix(rest, "%")
			}
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("objective %q: limit %q: want a count or a percentage", part, rest)
			}
			o.Limit = v
		default:
			return nil, fmt.Errorf("objective %q: unknown metric %q (pNN, max, mean, errors, lost)", part, o.Metric)
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, errors.New("no objective given")
	}
	return out, nil
}

// CheckSLO evaluates the objectives on r; latency objectives read the message latency, or
// the connect latency for the connect scenario.
func CheckSLO(r *Result, slos []SLO) ([]SLOResult, bool) {
	lat := r.Latency
	if r.Scenario == Connect {
		lat = r.Connect
	}
	all := true
	var out []SLOResult
	for _, o := range slos {
		var v float64
		unit := "ms"
		switch o.Metric {
		case "max":
			v = lat.MaxMs
		case "mean":
			v = lat.MeanMs
		case "errors", "lost":
			n := float64(r.ErrorsTotal)
			if o.Metric == "lost" {
				n = float64(r.Messages.Lost)
			}
			unit = ""
			if o.Percent {
				// Errors come from dials and from messages, so the rate is over both: a soak
				// sends few messages, and its failed dials must not read as 100%.
				dials := float64(r.Connections.Opened + r.Connections.Failed)
				base := float64(r.Messages.SentTotal) + dials
				if r.Scenario == Connect {
					base = dials
				}
				if base > 0 {
					v = 100 * n / base
				} else if n > 0 {
					v = 100
				}
				unit = "%"
			} else {
				v = n
			}
		default:
			v = lat.Quantile(o.Pct)
		}
		met := v < o.Limit || (o.OrEqual && v == o.Limit)
		if lat.Count == 0 && unit == "ms" {
			met = false // nothing measured meets nothing
		}
		all = all && met
		out = append(out, SLOResult{Objective: o.Raw, Value: v, Unit: unit, Met: met})
	}
	return out, all
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
