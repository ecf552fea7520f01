package loadtest

import (
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram values are microseconds, from 1 µs to one hour (longer is clamped to an hour).
const (
	histMaxUS    = int64(3600e6)
	histDigits   = 3 // totals
	ivHistDigits = 2 // per-second intervals: smaller, still 1% precise
)

func newHist() *hdr.Histogram   { return hdr.New(1, histMaxUS, histDigits) }
func newIvHist() *hdr.Histogram { return hdr.New(1, histMaxUS, ivHistDigits) }

// recordNs records a duration in ns (negative ones, from clock skew between hosts, as 0).
func recordNs(h *hdr.Histogram, ns int64) {
	us := ns / 1000
	if us < 0 {
		us = 0
	}
	if us > histMaxUS {
		us = histMaxUS
	}
	_ = h.RecordValue(us)
}

// Percentiles reported everywhere.
var reportQuantiles = []float64{50, 90, 99, 99.9, 99.99}

// HistSummary is a latency distribution in the JSON result: figures in milliseconds, and the
// histogram itself (values in µs) in HdrHistogram's compressed V2 encoding (base64), which
// MergeResults decodes and merges exactly.
type HistSummary struct {
	Count  int64   `json:"count"`
	MinMs  float64 `json:"min_ms"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	P9999  float64 `json:"p99_99_ms"`
	MaxMs  float64 `json:"max_ms"`
	// Hist is the encoded histogram (µs), "" when empty.
	Hist string `json:"hdr_v2_us,omitempty"`
}

func us2ms(v int64) float64 { return float64(v) / 1000 }

// summarize builds the JSON summary of h (nil or empty: a zero summary).
func summarize(h *hdr.Histogram) HistSummary {
	if h == nil || h.TotalCount() == 0 {
		return HistSummary{}
	}
	q := h.ValueAtPercentiles(reportQuantiles)
	s := HistSummary{
		Count:  h.TotalCount(),
		MinMs:  us2ms(h.Min()),
		MeanMs: h.Mean() / 1000,
		P50Ms:  us2ms(q[50]),
		P90Ms:  us2ms(q[90]),
		P99Ms:  us2ms(q[99]),
		P999Ms: us2ms(q[99.9]),
		P9999:  us2ms(q[99.99]),
		MaxMs:  us2ms(h.Max()),
	}
	if b, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
		s.Hist = string(b)
	}
	return s
}

// Histogram decodes the summary's histogram (an empty one when there is none).
func (s HistSummary) Histogram() (*hdr.Histogram, error) {
	if s.Hist == "" {
		return newHist(), nil
	}
	h, err := hdr.Decode([]byte(s.Hist))
	if err != nil {
		return nil, fmt.Errorf("bad histogram encoding: %w", err)
	}
	return h, nil
}

// Quantile is the value (ms) at percentile p of the summary's histogram, for SLOs on
// percentiles that the summary does not list.
func (s HistSummary) Quantile(p float64) float64 {
	h, err := s.Histogram()
	if err != nil || h.TotalCount() == 0 {
		return 0
	}
	return us2ms(h.ValueAtPercentile(p))
}

// mergeSummaries merges encoded histograms exactly and summarizes the result.
func mergeSummaries(parts []HistSummary) (HistSummary, error) {
	var total *hdr.Histogram
	for _, p := range parts {
		if p.Count == 0 {
			continue
		}
		h, err := p.Histogram()
		if err != nil {
			return HistSummary{}, err
		}
		if total == nil {
			total = h
			continue
		}
		if dropped := total.Merge(h); dropped != 0 {
			return HistSummary{}, fmt.Errorf("histogram merge dropped %d values", dropped)
		}
	}
	return summarize(total), nil
}
