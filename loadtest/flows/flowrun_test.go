package flows_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/loadtest"
	"github.com/wsfleet/wsfleet/loadtest/flows"
)

// flowRun is one run of a flow against a real server, as `wsbench run -flow NAME URL` does it.
type flowRun struct {
	name     string            // embedded flow, or a file under testdata/ ("testdata/x.yaml")
	url      string            // ws:// or wss:// (a wss:// server's certificate is not verified)
	conns    int               // connections
	duration time.Duration     // measured window (the flow's own loops may end sooner)
	set      map[string]string // -set parameters
	compress bool              // offer permessage-deflate (-compress)
}

// run parses and compiles the flow, runs it and returns the result; a flow or run error
// fails the test.
func (fr flowRun) run(t *testing.T) *loadtest.Result {
	t.Helper()
	var src []byte
	if strings.HasPrefix(fr.name, "testdata/") {
		b, err := os.ReadFile(fr.name)
		if err != nil {
			t.Fatal(err)
		}
		src = b
	} else {
		b, ok := flows.Source(fr.name)
		if !ok {
			t.Fatalf("no embedded flow %q", fr.name)
		}
		src = b
	}
	f, err := loadtest.ParseFlow(filepath.Base(fr.name), src, fr.set)
	if err != nil {
		t.Fatalf("%s: %v", fr.name, err)
	}
	p, err := loadtest.Compile(f, ".")
	if err != nil {
		t.Fatalf("%s: %v", fr.name, err)
	}
	cfg := loadtest.Config{Flow: p, Targets: []string{fr.url}, Conns: fr.conns, Duration: fr.duration}
	if strings.HasPrefix(fr.url, "wss://") {
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true} // the test's own self-signed certificate
	}
	if fr.compress {
		cfg.Compression = &engine.Compression{Threshold: -1} // compress every message, however small
	}
	ctx, cancel := context.WithTimeout(context.Background(), fr.duration+2*time.Minute)
	defer cancel()
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("%s against %s: %v", fr.name, fr.url, err)
	}
	if res.Connections.Opened != int64(fr.conns) {
		t.Errorf("%s: %d of %d connections opened (%d failed); errors %+v", fr.name, res.Connections.Opened, fr.conns, res.Connections.Failed, res.Errors)
	}
	// A rule's reply (a pong) to a message read in the same batch as the run's end may meet
	// the connection already closed by it: at most one such send per connection is the
	// run's shutdown, not the protocol (loadtest counts it as send_on_closed).
	errs := res.ErrorsTotal
	for _, e := range res.Errors {
		if e.Kind == "send_on_closed" && e.Count <= int64(fr.conns) {
			errs -= e.Count
		}
	}
	if errs != 0 {
		t.Errorf("%s: %d errors: %+v", fr.name, res.ErrorsTotal, res.Errors)
	}
	if fr.compress && res.Connections.Deflate != int64(fr.conns) {
		t.Errorf("%s: the server accepted permessage-deflate on %d of %d connections", fr.name, res.Connections.Deflate, fr.conns)
	}
	return res
}

// count is a label's count over the whole run.
func count(res *loadtest.Result, label string) int64 {
	for _, c := range res.Counts {
		if c.Label == label {
			return c.Total
		}
	}
	return 0
}

// latency is a named metric's summary; a missing or empty metric fails the test.
func latency(t *testing.T, res *loadtest.Result, name string) loadtest.HistSummary {
	t.Helper()
	for _, m := range res.Metrics {
		if m.Name == name {
			if m.Latency.Count == 0 {
				t.Fatalf("metric %s: no samples", name)
			}
			return m.Latency
		}
	}
	t.Fatalf("no metric %s", name)
	return loadtest.HistSummary{}
}

// between fails the test unless lo <= v <= hi.
func between(t *testing.T, what string, v, lo, hi float64) {
	t.Helper()
	if v < lo || v > hi {
		t.Errorf("%s = %v, want %v … %v", what, v, lo, hi)
	}
}

// Upper bounds on latencies that should be close to a server's delay: wide, because a
// loaded 2-core machine under -race stretches everything (p50s of 3.4 s were seen at load
// average 28, against a 30 ms delay). The lower bound — at least the server's delay — is the
// sharp one; minBound keeps the fastest sample near it too.
const (
	slowBound = 10000.0 // ms, for medians
	minBound  = 3000.0  // ms, for the fastest sample above the delay
)

// serverVariant is one way of reaching a server: ws://, wss://, or ws:// with permessage-deflate.
// For a Node fixture, args are what its command line needs for it; for a broker, url is the
// listener to use.
type serverVariant struct {
	name     string
	args     []string
	url      string
	compress bool
}

// nodeVariants are the three ways the Node fixtures serve: plain, TLS with cert, deflate.
func nodeVariants(cert testCert) []serverVariant {
	return []serverVariant{
		{name: "ws"},
		{name: "wss", args: []string{"--tls", cert.certFile, cert.keyFile}},
		{name: "deflate", args: []string{"--compress"}, compress: true},
	}
}
