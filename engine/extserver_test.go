package engine_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	wsbenchOnce sync.Once
	wsbenchBin  string
	wsbenchErr  error
	wsbenchDir  string
)

// buildWSBench builds cmd/wsbench once per test binary, for servers in their own process: a
// process may hold at most 20,000 open files here, and a benchmark must not count the
// server's allocations as the client's.
func buildWSBench(t testing.TB) string {
	t.Helper()
	wsbenchOnce.Do(func() {
		wsbenchDir, wsbenchErr = os.MkdirTemp("", "wsfleet-wsbench")
		if wsbenchErr != nil {
			return
		}
		wsbenchBin = filepath.Join(wsbenchDir, "wsbench")
		out, err := exec.Command("go", "build", "-o", wsbenchBin, "../cmd/wsbench").CombinedOutput()
		if err != nil {
			wsbenchErr = &buildError{out: string(out), err: err}
		}
	})
	if wsbenchErr != nil {
		t.Fatal(wsbenchErr)
	}
	return wsbenchBin
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build ./cmd/wsbench: " + e.err.Error() + "\n" + e.out }

// externalServer starts `wsbench serve` in its own process; it dies with the test (stdin EOF).
func externalServer(t testing.TB, args ...string) string {
	t.Helper()
	return startLineServer(t, buildWSBench(t), append([]string{"serve", "-addr", "127.0.0.1:0", "-stdin-eof-exit"}, args...)...)
}

// startLineServer runs a server binary that prints "LISTENING <url>" once ready and exits when
// its standard input closes; it returns the URL and stops the process in t.Cleanup.
func startLineServer(t testing.TB, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("%s did not start: %v", filepath.Base(bin), err)
	}
	go io.Copy(io.Discard, stdout)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if !ok {
		t.Fatalf("%s said %q", filepath.Base(bin), line)
	}
	return url
}
