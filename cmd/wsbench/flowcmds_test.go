package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
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
	code, out, errs := wsbench(t, "run", "-flow", "echo-json", "-set", "rate=400/s", "-c", "8", "-d", "700ms", "-q")
	// exit 1 would be the flow's own objective failing on a loaded machine: still a run
	if code == 2 || !strings.Contains(out, "== wsbench flow echo-json") || !strings.Contains(out, "SLO          p99(rtt) < 50ms") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}
