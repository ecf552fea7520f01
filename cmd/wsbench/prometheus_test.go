package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsfleet/wsfleet/internal/testserver"
	"github.com/wsfleet/wsfleet/loadtest"
)

func TestLiveMetrics(t *testing.T) {
	l := newLive("echo", loadtest.Shard{Index: 1, Count: 3})
	h := hdr.New(1, 3600e6, 2)
	for _, us := range []int64{100, 200, 5000} {
		_ = h.RecordValue(us)
	}
	enc, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	l.observe(loadtest.Point{T: 1, Sent: 10, Received: 9, Errors: 1, Open: 5, Hist: string(enc)})
	l.observe(loadtest.Point{T: 2, Sent: 10, Received: 10, Open: 5})
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(l.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`wsbench_messages_sent_total{run="echo",shard="1/3"} 20`,
		`wsbench_messages_received_total{run="echo",shard="1/3"} 19`,
		`wsbench_errors_total{run="echo",shard="1/3"} 1`,
		`wsbench_connections_open{run="echo",shard="1/3"} 5`,
		`wsbench_latency_seconds_count{metric="echo",run="echo",shard="1/3"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics have no %q:\n%s", want, body)
		}
	}
}

// A flow with two named measures (request → reply, and from a stamp in the message) run
// against the reference server: the live metrics hold both as native histograms labelled by
// name, and the counts by label and the expect timeouts by step as counters.
func TestLiveMetricsOfFlow(t *testing.T) {
	srv, err := testserver.Start(testserver.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fl, err := loadtest.ParseFlow("two.yaml", []byte(`connections: 3
flow:
  - loop:
      count: 10
      do:
        - send: '{"id":{{seq}}}'
          as: say
        - expect: {json: {path: id, equals: "{{seq}}"}}
          measure: say
          timeout: 30s
        - send: '{"ts":{{now_ms}}}'
        - expect: {prefix: '{"ts":'}
          label: fanout
          measure: {name: fanout, from: {json: ts, unit: ms}}
          timeout: 30s
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := loadtest.Compile(fl, "")
	if err != nil {
		t.Fatal(err)
	}
	l := newLive(fl.Name, loadtest.Shard{})
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Flow: prog, Targets: []string{srv.URL() + "/echo"}, Conns: 3, Duration: time.Minute, OnPoint: l.observe,
	})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := l.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]uint64{}
	counts := map[string]float64{}
	timeouts := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			lv := map[string]string{}
			for _, lp := range m.GetLabel() {
				lv[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetName() {
			case "wsbench_latency_seconds":
				h := m.GetHistogram()
				if h.GetSampleCount() > 0 && len(h.GetPositiveSpan()) == 0 && h.GetZeroCount() == 0 {
					t.Errorf("%s: not a native histogram", lv["metric"])
				}
				samples[lv["metric"]] = h.GetSampleCount()
			case "wsbench_count_total":
				counts[lv["label"]] = m.GetCounter().GetValue()
			case "wsbench_expect_timeouts_total":
				timeouts[lv["step"]] = true
			}
		}
	}
	for _, name := range []string{"say", "fanout"} {
		if samples[name] != 30 || counts[name] != 30 || !timeouts[name] {
			t.Errorf("%s: %d samples, count %v, timeouts exported %v (want 30, 30, true); result %+v", name, samples[name], counts[name], timeouts[name], res.Counts)
		}
	}
}
