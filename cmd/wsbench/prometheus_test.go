package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
		`wsbench_latency_seconds_count{run="echo",shard="1/3"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics have no %q:\n%s", want, body)
		}
	}
}
