package testkit

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// childEnv marks the test binary re-run by StartChild.
const childEnv = "WSFLEET_TESTKIT_CHILD"

// IsChild reports whether this test binary was started by StartChild. A TestMain calls it
// first and, when true, runs the server the child stands for instead of the tests.
func IsChild() bool { return os.Getenv(childEnv) == "1" }

// StartChild runs the test binary again as a helper process (its TestMain sees IsChild) and
// returns the URL it announces; see StartLineServer. A server in its own process keeps its
// descriptors and its allocations out of the test's counts.
func StartChild(t testing.TB, args ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return startLineServer(t, self, []string{childEnv + "=1"}, args...)
}

// StartLineServer runs a server program that prints "LISTENING <url>" once ready and exits
// when its standard input closes; it returns the URL and stops the process in t.Cleanup.
func StartLineServer(t testing.TB, bin string, args ...string) string {
	t.Helper()
	return startLineServer(t, bin, nil, args...)
}

func startLineServer(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
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
