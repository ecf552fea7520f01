package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wsfleet/wsfleet/internal/testserver"
	"github.com/wsfleet/wsfleet/loadtest"
)

func wsbench(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunInProcessDefaultShape(t *testing.T) {
	dir := t.TempDir()
	js, page := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	code, out, errs := wsbench(t, "run", "-c", "20", "-d", "700ms", "-warmup", "200ms", "-json", js, "-html", page)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"wsbench echo, closed model", "round trip", "p99.99", "20 of 20 opened", "lost 0", "in-process"} {
		if !strings.Contains(out, want) {
			t.Errorf("report has no %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "] open 20/20") {
		t.Errorf("no progress lines on stderr:\n%s", errs)
	}
	r, err := loadtest.ReadResult(js)
	if err != nil {
		t.Fatal(err)
	}
	if r.Messages.Lost != 0 || r.Messages.Received == 0 || r.Latency.Hist == "" || len(r.Series) == 0 {
		t.Fatalf("result: %+v", r.Messages)
	}
	b, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("html: %v", err)
	}
}

// Three shards of a count-mode run, merged, have exactly the counts of the same run unsharded.
func TestShardsMergeExactly(t *testing.T) {
	s, err := testserver.Start(testserver.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := s.URL() + "/echo"
	dir := t.TempDir()
	common := []string{"-model", "open", "-r", "3000", "-n", "1500", "-c", "30", "-warmup", "0", "-q", "-binary", url}
	var files []string
	for i := range 3 {
		f := filepath.Join(dir, "shard-"+strconv.Itoa(i)+".json")
		files = append(files, f)
		args := append([]string{"run", "-shard", strconv.Itoa(i) + "/3", "-json", f}, common...)
		if code, out, errs := wsbench(t, args...); code != 0 {
			t.Fatalf("shard %d: exit %d\n%s\n%s", i, code, out, errs)
		}
	}
	merged := filepath.Join(dir, "merged.json")
	code, out, errs := wsbench(t, "merge", "-json", merged, filepath.Join(dir, "shard-*.json"))
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "3 shards merged") {
		t.Errorf("merge report:\n%s", out)
	}
	single := filepath.Join(dir, "single.json")
	if code, out, errs := wsbench(t, append([]string{"run", "-json", single}, common...)...); code != 0 {
		t.Fatalf("single: exit %d\n%s\n%s", code, out, errs)
	}
	m, err := loadtest.ReadResult(merged)
	if err != nil {
		t.Fatal(err)
	}
	one, err := loadtest.ReadResult(single)
	if err != nil {
		t.Fatal(err)
	}
	if m.Messages.SentTotal != 1500 || one.Messages.SentTotal != 1500 || m.Messages.ReceivedTotal != 1500 ||
		m.Connections.Opened != 30 || m.Latency.Count != one.Latency.Count || m.Messages.Lost != 0 {
		t.Fatalf("merged %+v %+v (latency count %d), single %+v (latency count %d)",
			m.Connections, m.Messages, m.Latency.Count, one.Messages, one.Latency.Count)
	}
	var sum int64
	for _, f := range files {
		r, err := loadtest.ReadResult(f)
		if err != nil {
			t.Fatal(err)
		}
		sum += r.Latency.Count
	}
	if sum != m.Latency.Count {
		t.Fatalf("merged histogram holds %d values, shards %d", m.Latency.Count, sum)
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-scenario", "nope", "ws://127.0.0.1:1/"}, "unknown scenario"},
		{[]string{"run", "-model", "closed", "-r", "10", "ws://127.0.0.1:1/"}, "closed model has no rate"},
		{[]string{"run", "-shard", "2/2"}, "-shard"},
		{[]string{"run", "-find"}, "needs an objective"},
		{[]string{"run", "-H", "X: {{token}}", "ws://127.0.0.1:1/"}, "no tokens"},
	} {
		code, _, errs := wsbench(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
}

func TestRunHelpListsFlagsAndExamples(t *testing.T) {
	code, _, errs := wsbench(t, "run", "-h")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"-c int", "-d duration", "-r float", "-scenario", "-model", "-slo", "-shard", "-source-ips", "-start-at",
		"-prometheus", "-ramp", "-warmup", "-payload", "-tokens", "(default 200)", "-scenario push", "-scenario connect", "-scenario soak", "wsbench find"} {
		if !strings.Contains(errs, want) {
			t.Errorf("help has no %q", want)
		}
	}
}

func TestRefusedIsCountedByKind(t *testing.T) {
	// A port nobody listens on: every dial is refused, and the report says so.
	code, out, _ := wsbench(t, "run", "-c", "3", "-d", "200ms", "-warmup", "0", "-q", "-json", "-", "ws://127.0.0.1:1/echo")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (no connection)", code)
	}
	i := strings.Index(out, "{")
	var r loadtest.Result
	if i < 0 || json.Unmarshal([]byte(out[i:]), &r) != nil {
		t.Fatalf("no JSON on stdout:\n%s", out)
	}
	if r.Connections.Failed != 3 || len(r.Errors) != 1 || r.Errors[0].Kind != loadtest.KindRefused {
		t.Fatalf("connections %+v errors %+v", r.Connections, r.Errors)
	}
}

// wss:// to a server that answers in plain HTTP fails the TLS handshake: counted as "tls".
func TestTLSFailureIsCountedByKind(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			_ = c.Close()
		}
	}()
	url := "wss://" + ln.Addr().String() + "/echo"
	code, out, errs := wsbench(t, "run", "-insecure", "-c", "2", "-d", "1s", "-warmup", "0", "-q", "-json", "-", url)
	var r loadtest.Result
	if code != 1 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if r.Connections.Failed != 2 || len(r.Errors) != 1 || r.Errors[0].Kind != loadtest.KindTLS {
		t.Fatalf("connections %+v errors %+v", r.Connections, r.Errors)
	}
}

// The reference server negotiates no extension: -compress is offered and declined, and the
// report says so.
func TestCompressOfferedAndCounted(t *testing.T) {
	code, out, errs := wsbench(t, "run", "-compress", "-size", "300", "-c", "4", "-d", "300ms", "-warmup", "0", "-q")
	if code != 0 || !strings.Contains(out, "accepted it on 0 of 4 connections") || !strings.Contains(out, "lost 0") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}

func TestFindStepsUp(t *testing.T) {
	code, out, errs := wsbench(t, "find", "-slo", "p99<2s", "-r", "100", "-c", "4", "-d", "300ms", "-warmup", "0", "-find-steps", "2", "-q")
	if code != 0 || !strings.Contains(out, "find:") || strings.Count(errs, "wsbench find: rate") != 2 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}
