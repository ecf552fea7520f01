package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsfleet/wsfleet/loadtest"
)

// live exports a run's per-second points through prometheus/client_golang: counters of
// messages and errors, a gauge of open connections, and the latency (the run's, or a flow's
// first metric) as a native histogram fed from each second's HdrHistogram.
type live struct {
	reg              *prometheus.Registry
	sent, recv, errs prometheus.Counter
	open, lagMax     prometheus.Gauge
	latency          prometheus.Histogram
}

func newLive(what string, shard loadtest.Shard) *live {
	if shard.Count == 0 {
		shard = loadtest.Shard{Index: 0, Count: 1}
	}
	labels := prometheus.Labels{"run": what, "shard": fmt.Sprintf("%d/%d", shard.Index, shard.Count)}
	l := &live{reg: prometheus.NewRegistry()}
	f := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "wsbench", Name: name, Help: help, ConstLabels: labels}
	}
	l.sent = prometheus.NewCounter(prometheus.CounterOpts(f("messages_sent_total", "Messages sent (dials attempted for connect).")))
	l.recv = prometheus.NewCounter(prometheus.CounterOpts(f("messages_received_total", "Replies or pushes received (successful dials for connect).")))
	l.errs = prometheus.NewCounter(prometheus.CounterOpts(f("errors_total", "Errors of every kind.")))
	l.open = prometheus.NewGauge(prometheus.GaugeOpts(f("connections_open", "Connections open now (successful dials so far for connect).")))
	l.lagMax = prometheus.NewGauge(prometheus.GaugeOpts(f("sender_lag_max_seconds", "Open schedules: the latest send behind its intended time over the last second.")))
	l.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "wsbench", Name: "latency_seconds", ConstLabels: labels,
		Help:                           "Latency: echo round trip, push delay, connect time, or a flow's first metric.",
		NativeHistogramBucketFactor:    1.1,
		NativeHistogramMaxBucketNumber: 160,
	})
	l.reg.MustRegister(l.sent, l.recv, l.errs, l.open, l.lagMax, l.latency)
	return l
}

// observe takes one per-second point (Config.OnPoint).
func (l *live) observe(p loadtest.Point) {
	l.sent.Add(float64(p.Sent))
	l.recv.Add(float64(p.Received))
	l.errs.Add(float64(p.Errors))
	l.open.Set(float64(p.Open))
	l.lagMax.Set(p.LagMaxMs / 1000)
	if p.Hist == "" {
		return
	}
	h, err := hdr.Decode([]byte(p.Hist))
	if err != nil {
		return
	}
	for _, b := range h.Distribution() { // µs buckets of the second's histogram, replayed
		v := float64(b.To) / 1e6
		for range b.Count {
			l.latency.Observe(v)
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
