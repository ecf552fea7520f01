package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wsfleet/wsfleet/internal/testserver"
	"github.com/wsfleet/wsfleet/loadtest"
)

func TestFlowsListsEmbedded(t *testing.T) {
	code, out, errs := wsbench(t, "flows")
	if code != 0 || !strings.Contains(out, "echo-json") || !strings.Contains(out, "correlated by an id") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = wsbench(t, "flows", "-show", "echo-json")
	if code != 0 || !strings.Contains(out, "flow:") {
		t.Fatalf("-show: exit %d\n%s", code, out)
	}
}

// A bad flow fails `check` with its place, and `run` with it before any connection is opened.
func TestBadFlowFailsBeforeAnyDial(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("flow:\n  - send: hi\n  - expect: {regex: 'a('}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := wsbench(t, "check", bad)
	if code != 1 || !strings.Contains(errs, bad+":3:5: step 2 (expect): regex") {
		t.Fatalf("check: exit %d, %s", code, errs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	code, _, errs = wsbench(t, "run", "-flow", bad, "-q", "ws://"+ln.Addr().String()+"/")
	if code != 2 || !strings.Contains(errs, "does not compile") || accepted.Load() != 0 {
		t.Fatalf("run: exit %d, %d connections accepted, %s", code, accepted.Load(), errs)
	}
	code, _, errs = wsbench(t, "run", "-flow", "echo-json", "-set", "nope=1", "-q", "ws://"+ln.Addr().String()+"/")
	if code != 2 || !strings.Contains(errs, "no parameter \"nope\"") || accepted.Load() != 0 {
		t.Fatalf("run -set: exit %d, %s", code, errs)
	}
}

func TestRunEmbeddedFlowInProcess(t *testing.T) {
	page := filepath.Join(t.TempDir(), "r.html")
	code, out, errs := wsbench(t, "run", "-flow", "echo-json", "-set", "rate=400/s", "-c", "8", "-d", "700ms", "-q", "-html", page)
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), "wsbench flow echo-json") || !strings.Contains(string(b), "Latency by percentile (rtt,") {
		t.Errorf("html report: %v", err)
	}
	// exit 1 would be the flow's own objective failing on a loaded machine: still a run
	if code == 2 || !strings.Contains(out, "== wsbench flow echo-json") || !strings.Contains(out, "SLO          p99(rtt) < 50ms") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}

// A flow with a CSV feeder (unique rows) and a fleet-wide total, run as three shards and
// merged: exactly the counts and histogram of the same run in one process.
func TestFlowShardsMergeExactly(t *testing.T) {
	s, err := testserver.Start(testserver.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("name,group\n")
	for i := range 12 {
		fmt.Fprintf(&csv, "user%d,g%d\n", i, i%2)
	}
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	write("users.csv", csv.String())
	flow := write("f.yaml", `# each connection says its row's name, then 300 requests in all at 3000/s for the fleet
data: {file: users.csv, as: user, unique: true}
connections: 12
flow:
  - send: 'I am {{user.name}}'
  - expect: {equals: 'I am {{user.name}}'}
    label: named
    others: fail
  - loop:
      rate: 3000/s
      per: fleet
      total: "300"
      do:
        - send: '{"id":{{seq}},"u":"{{user.name}}"}'
          as: rtt
        - expect: {json: {path: id, equals: "{{seq}}"}}
          measure: rtt
`)
	run := func(out string, extra ...string) *loadtest.Result {
		args := append([]string{"run", "-flow", flow, "-q", "-json", out}, extra...)
		if code, o, e := wsbench(t, append(args, s.URL()+"/echo")...); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", extra, code, o, e)
		}
		r, err := loadtest.ReadResult(out)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for i := range 3 {
		run(filepath.Join(dir, fmt.Sprintf("shard-%d.json", i)), "-shard", fmt.Sprintf("%d/3", i))
	}
	merged := filepath.Join(dir, "merged.json")
	if code, o, e := wsbench(t, "merge", "-json", merged, filepath.Join(dir, "shard-*.json")); code != 0 {
		t.Fatalf("merge: exit %d\n%s\n%s", code, o, e)
	}
	m, err := loadtest.ReadResult(merged)
	if err != nil {
		t.Fatal(err)
	}
	one := run(filepath.Join(dir, "single.json"))
	for _, r := range []*loadtest.Result{m, one} {
		if r.Count("named").Total != 12 || r.Count("rtt").Total != 300 || r.Metric("rtt").Latency.Count != 300 || r.Connections.Opened != 12 {
			t.Errorf("counts %+v, rtt %+v, connections %+v", r.Counts, r.Metric("rtt"), r.Connections)
		}
	}
	var inSeries, countedInSeries int64
	for _, p := range m.Series {
		for _, mp := range p.Metrics {
			if mp.Name == "rtt" {
				inSeries += mp.Count
			}
		}
		for _, lp := range p.Counts {
			if lp.Label == "rtt" {
				countedInSeries += lp.Count
			}
		}
	}
	if inSeries != 300 || countedInSeries != 300 {
		t.Errorf("the merged series holds %d rtt samples and counts %d, want 300 each", inSeries, countedInSeries)
	}
	if m.Flow != "f" || m.Shards != 3 {
		t.Errorf("merged flow %q shards %d", m.Flow, m.Shards)
	}
}

// The built-in echo run as a user's flow (-flow echo) counts each echo once and keeps its
// stamp integrity figures.
func TestEchoAsUserFlowCountsOnce(t *testing.T) {
	dir := t.TempDir()
	js := filepath.Join(dir, "r.json")
	code, out, errs := wsbench(t, "run", "-flow", "echo", "-c", "4", "-d", "500ms", "-q", "-json", js)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	r, err := loadtest.ReadResult(js)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Messages
	if m.SentTotal == 0 || m.ReceivedTotal != m.SentTotal || m.Lost != 0 || m.Duplicates != 0 || r.Latency.Count != m.Received {
		t.Fatalf("messages %+v, latency count %d", m, r.Latency.Count)
	}
}

// -data attaches a CSV to a flow that has no data: of its own: a column named like a
// parameter gives it per connection (here each connection must say its own name back), and a
// broken file fails the run before any dial with file:line.
func TestRunDataAttachesCSVToAnyFlow(t *testing.T) {
	s, err := testserver.Start(testserver.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	flow := write("f.yaml", `params:
  name: nobody
connections: 4
flow:
  - send: 'I am {{name}}'
  - expect: {equals: 'I am user{{id}}'}
    label: named
    others: fail
`)
	creds := write("creds.csv", "name,password\nuser0,a\nuser1,b\nuser2,c\nuser3,d\n")
	js := filepath.Join(dir, "r.json")
	code, out, errs := wsbench(t, "run", "-flow", flow, "-data", creds, "-data-unique", "-q", "-json", js, s.URL()+"/echo")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	r, err := loadtest.ReadResult(js)
	if err != nil {
		t.Fatal(err)
	}
	if r.Count("named").Total != 4 {
		t.Fatalf("named %+v, errors %+v", r.Count("named"), r.Errors)
	}
	// an embedded flow takes it too
	code, out, errs = wsbench(t, "run", "-flow", "echo-json", "-data", write("bodies.csv", "body\nx\ny\n"), "-c", "2", "-d", "300ms", "-q", s.URL()+"/echo")
	if code == 2 {
		t.Fatalf("embedded flow with -data: exit %d\n%s\n%s", code, out, errs)
	}
	for _, c := range []struct{ csv, want string }{
		{"name,password\nuser0,a\nuser1,b,extra\n", "bad.csv:3: wrong number of fields: want 2, as the header row has"},
		{"name\n\"user0\n", "bad.csv:2:"},
		{"", "bad.csv: empty"},
	} {
		bad := write("bad.csv", c.csv)
		code, _, errs = wsbench(t, "run", "-flow", flow, "-data", bad, "-q", "ws://127.0.0.1:1/")
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d, %s (want %q)", c.csv, code, errs, c.want)
		}
	}
	code, _, errs = wsbench(t, "run", "-flow", flow, "-data", filepath.Join(dir, "missing.csv"), "-q", "ws://127.0.0.1:1/")
	if code != 2 || !strings.Contains(errs, "missing.csv") {
		t.Errorf("missing file: exit %d, %s", code, errs)
	}
	code, _, errs = wsbench(t, "run", "-flow", flow, "-data", creds, "-data-unique", "-c", "5", "-q", "ws://127.0.0.1:1/")
	if code != 2 || !strings.Contains(errs, "5 connections need 5 rows, the file has 4") {
		t.Errorf("unique rows short: exit %d, %s", code, errs)
	}
	code, _, errs = wsbench(t, "run", "-data", creds, "-q", "ws://127.0.0.1:1/")
	if code != 2 || !strings.Contains(errs, "-data feeds a flow") {
		t.Errorf("-data without -flow: exit %d, %s", code, errs)
	}
}

// writeFile writes body to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
