package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

// newEngine starts an engine for one test and closes it afterwards.
func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	eng, err := engine.New(engine.Options{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// refServer starts the reference server in-process; it returns the ws:// base URL.
func refServer(t testing.TB, o testserver.Options) string {
	t.Helper()
	s, err := testserver.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.URL()
}

// waitStats polls the engine's stats until ok holds (state changes finish on the loops).
func waitStats(t testing.TB, eng *engine.Engine, ok func(engine.Stats) bool) engine.Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := eng.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never settled: %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

// checkNoLeaks records goroutines and fds now and, at cleanup, waits for them to come back.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, f := runtime.NumGoroutine(), openFDs(t)
			if g <= g0 && f <= f0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				n := runtime.Stack(buf, true)
				t.Errorf("leak: goroutines %d → %d, fds %d → %d\n%s", g0, g, f0, f, onlyOurs(string(buf[:n])))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func onlyOurs(stacks string) string {
	var keep []string
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "wsfleet") {
			keep = append(keep, g)
		}
	}
	return strings.Join(keep, "\n\n")
}

var _ = filepath.Join

// TestMain runs the tests, or, in the copy of this binary that externalServer starts, the
// reference server.
func TestMain(m *testing.M) {
	if testkit.IsChild() {
		if err := testserver.ServeUntilStdinEOF(testserver.Options{}, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// externalServer starts the reference server in its own process (this test binary, run
// again): the client's descriptors and allocations are then the test's alone. It returns
// the ws:// base URL; the server stops with the test.
func externalServer(t testing.TB) string {
	t.Helper()
	return testkit.StartChild(t)
}
