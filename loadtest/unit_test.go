package loadtest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine"
)

func TestShardPartition(t *testing.T) {
	for _, total := range []int{1, 7, 100, 1001} {
		for _, n := range []int{1, 2, 3, 8} {
			seen := make([]int, total)
			sumShare := 0.0
			var sumQuota int64
			for i := range n {
				ids := Shard{i, n}.IDs(total)
				if want := total / n; len(ids) < want || len(ids) > want+1 {
					t.Fatalf("total %d shard %d/%d: %d ids, want %d or %d", total, i, n, len(ids), want, want+1)
				}
				for _, id := range ids {
					seen[id]++
					sumQuota += quota(12345, id, total)
				}
				sumShare += share(len(ids), total)
			}
			for id, c := range seen {
				if c != 1 {
					t.Fatalf("total %d over %d shards: id %d in %d shards", total, n, id, c)
				}
			}
			if sumShare < 0.999999 || sumShare > 1.000001 {
				t.Fatalf("shares sum to %v", sumShare)
			}
			if sumQuota != 12345 {
				t.Fatalf("quotas sum to %d, want 12345", sumQuota)
			}
		}
	}
	// The open schedule of the whole fleet is the union of the shards' schedules: the same
	// per-connection interval and phases whatever the shard.
	whole := scheduleFor(0, 3000, false, 30)
	for _, id := range (Shard{2, 3}).IDs(30) {
		if whole.Phase(id) != scheduleFor(0, 3000, false, 30).Phase(id) {
			t.Fatal("phase depends on the shard")
		}
	}
	if _, err := ParseShard("3/3"); err == nil {
		t.Fatal("3/3 accepted")
	}
	if s, err := ParseShard("1/4"); err != nil || s != (Shard{1, 4}) {
		t.Fatalf("1/4: %v %v", s, err)
	}
}

// Recording into several histograms and merging their encoded forms gives exactly the
// histogram of all the values: shards merge exactly.
func TestHistogramMergeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	all := newHist()
	var parts []HistSummary
	for range 3 {
		h := newHist()
		for range 10000 {
			ns := int64(rng.ExpFloat64() * 2e6)
			recordNs(h, ns)
			recordNs(all, ns)
		}
		parts = append(parts, summarize(h))
	}
	merged, err := mergeSummaries(parts)
	if err != nil {
		t.Fatal(err)
	}
	mh, err := merged.Histogram()
	if err != nil {
		t.Fatal(err)
	}
	if !mh.Equals(all) {
		t.Fatal("merged histogram differs from the histogram of all values")
	}
	if want := summarize(all); merged.P99Ms != want.P99Ms || merged.P9999 != want.P9999 || merged.Count != 30000 {
		t.Fatalf("merged %+v, want %+v", merged, want)
	}
}

func fakeResult(shard Shard, n int64, lat []int64) *Result {
	h := newHist()
	iv := newIvHist()
	for _, v := range lat {
		recordNs(h, v)
		recordNs(iv, v)
	}
	p := Point{T: 1, Sent: n, Received: n}
	setPercentiles(&p, iv)
	return &Result{
		Schema: ResultSchema, Scenario: Echo, Model: Open, Shard: shard, Shards: 1,
		Start: time.Unix(1000, 0), MeasuredS: 1,
		Connections: ConnCounts{Target: 10, Opened: 10},
		Messages:    MsgCounts{Sent: n, Received: n, SentTotal: n, ReceivedTotal: n, SendPerS: float64(n), RecvPerS: float64(n)},
		Errors:      []ErrorCount{{Kind: KindTimeout, Count: 1}}, ErrorsTotal: 1,
		Latency: summarize(h),
		Series:  []Point{p},
	}
}

func TestMergeResults(t *testing.T) {
	a := fakeResult(Shard{0, 2}, 3, []int64{1e6, 2e6, 3e6})
	b := fakeResult(Shard{1, 2}, 2, []int64{4e6, 100e6})
	m, err := MergeResults([]*Result{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m.Shards != 2 || m.Connections.Target != 20 || m.Messages.Sent != 5 || m.ErrorsTotal != 2 || m.Errors[0].Count != 2 {
		t.Fatalf("merged counts: %+v %+v %+v", m.Connections, m.Messages, m.Errors)
	}
	if m.Latency.Count != 5 || m.Latency.MaxMs < 99 || m.Latency.MinMs > 1.01 {
		t.Fatalf("merged latency %+v", m.Latency)
	}
	if len(m.Series) != 1 || m.Series[0].Sent != 5 || m.Series[0].MaxMs < 99 {
		t.Fatalf("merged series %+v", m.Series)
	}
	if _, err := MergeResults([]*Result{a, a}); err == nil {
		t.Fatal("the same shard twice was accepted")
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, c := range []struct {
		tmpl   []byte
		size   int
		binary bool
	}{
		{nil, 64, false}, {nil, 10, true}, {nil, 200, true},
		{[]byte(`{"type":"ping","id":"{{id}}","seq":"{{seq}}","ts":"{{ts}}"}`), 0, false},
		{[]byte(`seq={{seq}} ts={{ts}} {{other}}`), 0, true},
	} {
		p, err := newPayload(c.tmpl, c.size, c.binary)
		if err != nil {
			t.Fatal(err)
		}
		buf := p.NewBuffer()
		p.Fill(buf, 4242, 1<<40+7, 123456789012345)
		id, seq, ts, hasID, ok := p.Parse(buf)
		if !ok || seq != 1<<40+7 || ts != 123456789012345 || (hasID && id != 4242) {
			t.Fatalf("%q: parsed %d %d %d %v %v", c.tmpl, id, seq, ts, hasID, ok)
		}
		if c.tmpl == nil && !c.binary && len(buf) != c.size {
			t.Fatalf("text payload of %d bytes, want %d", len(buf), c.size)
		}
		buf[len(buf)/2] ^= 0xff
		if c.tmpl != nil {
			if _, _, _, _, ok := p.Parse(buf[:len(buf)-1]); ok {
				t.Fatal("truncated reply parsed")
			}
		}
	}
	if _, err := newPayload([]byte("no markers"), 0, false); err == nil {
		t.Fatal("template without markers accepted")
	}
}

func TestSeqTrack(t *testing.T) {
	var tr seqTrack
	for _, s := range []uint64{0, 1, 3, 2, 2, 5, 4, 5, 2000, 10} {
		tr.see(s)
	}
	// fresh: 0 1 3 2 5 4 2000 10 (10 is too old to tell: counted reordered, fresh)
	if tr.recv != 8 || tr.dup != 2 || tr.reord != 3 || tr.next != 2001 {
		t.Fatalf("%+v", tr)
	}
}

func TestParseSLO(t *testing.T) {
	slos, err := ParseSLO("p99<50ms, p99.9<=100ms,max<1s,errors<1%")
	if err != nil || len(slos) != 4 || slos[0].Pct != 99 || slos[0].Limit != 50 || slos[1].Op != "<=" || !slos[3].Percent {
		t.Fatalf("%+v %v", slos, err)
	}
	for _, bad := range []string{"p99=5ms", "p101<5ms", "rate<5", "timeouts<1", "foo<1", "p99<fast"} {
		if _, err := ParseSLO(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	r := fakeResult(Shard{}, 3, []int64{1e6, 2e6, 60e6})
	res, met := CheckSLO(r, slos)
	if met || res[0].Met || !res[2].Met {
		t.Fatalf("%+v", res)
	}
}

func TestParseSourceIPs(t *testing.T) {
	ips, err := ParseSourceIPs("127.0.0.2-127.0.0.200")
	if err != nil || len(ips) != 199 || ips[0].String() != "127.0.0.2" || ips[198].String() != "127.0.0.200" {
		t.Fatalf("%d %v", len(ips), err)
	}
	ips, err = ParseSourceIPs("127.0.1.0/24,127.0.0.9")
	if err != nil || len(ips) != 255 || ips[0].String() != "127.0.1.1" || ips[254].String() != "127.0.0.9" {
		t.Fatalf("%d %v", len(ips), err)
	}
	if _, err := ParseSourceIPs("127.0.0.9-127.0.0.1"); err == nil {
		t.Fatal("reversed range accepted")
	}
}

func TestConfigHeaders(t *testing.T) {
	c := Config{Targets: []string{"ws://x"}, Headers: []string{"Authorization: Bearer {{token}}", "X-Conn: {{id}}"}, Tokens: []string{"a", "b"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	h := c.header(&connState{id: 3})
	if h.Get("Authorization") != "Bearer b" || h.Get("X-Conn") != "3" {
		t.Fatalf("%v", h)
	}
	c2 := Config{Targets: []string{"ws://x"}, Headers: []string{"A: {{token}}"}}
	if err := c2.Validate(); err == nil {
		t.Fatal("{{token}} without tokens accepted")
	}
}

func TestReportRendering(t *testing.T) {
	r := fakeResult(Shard{0, 1}, 3, []int64{1e6, 2e6, 30e6})
	r.Series = append(r.Series, Point{T: 2, Sent: 7, Received: 6, P50Ms: 1, P99Ms: 2, MaxMs: 3})
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "scenario", "model", "connections", "messages", "errors", "latency", "connect", "sender_lag", "series", "cpu", "measured_s"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON result has no %q", k)
		}
	}
	lat := m["latency"].(map[string]any)
	for _, k := range []string{"count", "p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "p99_99_ms", "max_ms", "hdr_v2_us"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency has no %q", k)
		}
	}
	var h bytes.Buffer
	if err := r.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	for _, want := range []string{"<svg", "Throughput over time", "Latency over time", "Latency by percentile", `id="wsbench-series"`, `"received":6`, "series-p99", "series-received-s"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML has no %q", want)
		}
	}
	for _, bad := range []string{"<script src", "<link", "@import", "src=\"http", "href=\"http"} {
		if strings.Contains(page, bad) {
			t.Errorf("HTML fetches something: %q", bad)
		}
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"p99.99", "round trip", "timeout", "connections"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report has no %q:\n%s", want, text.String())
		}
	}
}

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("websocket: dial ws://x: %w", err) }
	for _, c := range []struct {
		err  error
		want string
	}{
		{wrap(syscall.ECONNREFUSED), KindRefused},
		{wrap(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}), KindAddrNotAvail},
		{wrap(syscall.EMFILE), KindTooManyFiles},
		{wrap(engine.ErrTimeout), KindTimeout},
		{wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), KindTLS},
		{wrap(x509.UnknownAuthorityError{}), KindTLS},
		{&engine.HandshakeError{StatusCode: 401, Status: "401 Unauthorized"}, "handshake_401"},
		{&engine.HandshakeError{StatusCode: 101, Reason: "bad Sec-WebSocket-Accept"}, KindHandshake},
		{&engine.CloseError{Code: 1001, Remote: true}, "close_1001"},
		{&engine.CloseError{Code: 1000}, "close_1000_by_client"},
		{&engine.ProtocolError{Code: engine.CloseProtocolError, Err: codec.ErrMaskedFrame}, KindProtocol},
		{engine.ErrSlowConsumer, KindSlowConsumer},
		{engine.ErrBackedUp, KindBackedUp},
		{wrap(syscall.ECONNRESET), KindReset},
		{engine.ErrAbnormalClose, KindAbnormal},
		{errors.New("something else"), KindOther},
		{&engine.ProxyError{StatusCode: 407, SOCKSReply: -1, SOCKSAuth: -1}, "proxy_407"},
		{&engine.ProxyError{SOCKSReply: 5, SOCKSAuth: -1}, "proxy_socks_5"},
		{&engine.ProxyError{SOCKSReply: -1, SOCKSAuth: 1}, "proxy_socks_auth"},
		{&engine.ProxyError{SOCKSReply: -1, SOCKSAuth: -1, Err: wrap(engine.ErrTimeout)}, "proxy_timeout"},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
