package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsfleet/wsfleet/loadtest"
)

// live exports a run's per-second points through prometheus/client_golang: counters of
// messages and errors, a gauge of open connections, every latency metric (a flow's named
// measures, or the connect time) as a native histogram labelled by its name, and a flow's
// counts by label and expect timeouts by step as counters. It is fed once a second from the
// histograms and counters the run keeps anyway, so nothing is added to the message path.
type live struct {
	reg              *prometheus.Registry
	what             string
	sent, recv, errs prometheus.Counter
	open, lagMax     prometheus.Gauge
	latency          *prometheus.HistogramVec
	counts, timeouts *prometheus.CounterVec
}

func newLive(what string, shard loadtest.Shard) *live {
	if shard.Count == 0 {
		shard = loadtest.Shard{Index: 0, Count: 1}
	}
	labels := prometheus.Labels{"run": what, "shard": fmt.Sprintf("%d/%d", shard.Index, shard.Count)}
	l := &live{reg: prometheus.NewRegistry(), what: what}
	f := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "wsbench", Name: name, Help: help, ConstLabels: labels}
	}
	l.sent = prometheus.NewCounter(prometheus.CounterOpts(f("messages_sent_total", "Messages sent (dials attempted for connect).")))
	l.recv = prometheus.NewCounter(prometheus.CounterOpts(f("messages_received_total", "Replies or pushes received (successful dials for connect).")))
	l.errs = prometheus.NewCounter(prometheus.CounterOpts(f("errors_total", "Errors of every kind.")))
	l.open = prometheus.NewGauge(prometheus.GaugeOpts(f("connections_open", "Connections open now (successful dials so far for connect).")))
	l.lagMax = prometheus.NewGauge(prometheus.GaugeOpts(f("sender_lag_max_seconds", "Open schedules: the latest send behind its intended time over the last second.")))
	l.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "wsbench", Name: "latency_seconds", ConstLabels: labels,
		Help:                           "Latency by metric: a flow's named measure (request → reply or from a stamp in the message; echo's and push's are flows too), or connect for the connect scenario.",
		NativeHistogramBucketFactor:    1.1,
		NativeHistogramMaxBucketNumber: 160,
	}, []string{"metric"})
	l.counts = prometheus.NewCounterVec(prometheus.CounterOpts(f("count_total", "A flow's counts by label: an expect's matches, a rule's count, others(label), unexpected, foreign.")), []string{"label"})
	l.timeouts = prometheus.NewCounterVec(prometheus.CounterOpts(f("expect_timeouts_total", "Expects that timed out, by the step's label.")), []string{"step"})
	l.reg.MustRegister(l.sent, l.recv, l.errs, l.open, l.lagMax, l.latency, l.counts, l.timeouts)
	return l
}

// observe takes one per-second point (Config.OnPoint).
func (l *live) observe(p loadtest.Point) {
	l.sent.Add(float64(p.Sent))
	l.recv.Add(float64(p.Received))
	l.errs.Add(float64(p.Errors))
	l.open.Set(float64(p.Open))
	l.lagMax.Set(p.LagMaxMs / 1000)
	for _, m := range p.Metrics {
		l.replay(l.latency.WithLabelValues(m.Name), m.Hist)
	}
	if len(p.Metrics) == 0 && p.Hist != "" { // connect: its dial times are the run's latency
		l.replay(l.latency.WithLabelValues(l.what), p.Hist)
	}
	for _, c := range p.Counts {
		if step, ok := strings.CutPrefix(c.Label, "timeouts("); ok && strings.HasSuffix(step, ")") {
			l.timeouts.WithLabelValues(step[:len(step)-1]).Add(float64(c.Count))
		} else {
			l.counts.WithLabelValues(c.Label).Add(float64(c.Count))
		}
	}
}

// replay observes one second's HdrHistogram (µs) bucket by bucket into a native histogram.
func (l *live) replay(o prometheus.Observer, enc string) {
	if enc == "" {
		return
	}
	h, err := hdr.Decode([]byte(enc))
	if err != nil {
		return
	}
	for _, b := range h.Distribution() {
		v := float64(b.To) / 1e6
		for range b.Count {
			o.Observe(v)
		}
	}
}

// serveLive serves the metrics at addr/metrics; it returns the function that stops it.
func serveLive(addr string, l *live, stderr io.Writer) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(l.reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	fmt.Fprintf(stderr, "wsbench: metrics at http://%s/metrics\n", ln.Addr())
	return func() { _ = hs.Close() }, nil
}
