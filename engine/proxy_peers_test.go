package engine_test

// Real proxies for the proxy tests, started on free loopback ports with their own config:
// tinyproxy (HTTP CONNECT) and microsocks (SOCKS5), installed by .ci/peers.d/proxies.sh; a TLS
// front (testkit.TLSFront) makes an https:// proxy of tinyproxy and a wss:// server
// of the reference server. When a proxy binary is missing the test skips, or fails under CI.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/testkit"
)

// needBinary returns name's path, skipping the test when it is missing (failing it under CI).
func needBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s is not installed (bash .ci/install-peers installs it)", name)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs a proxy until the test ends and waits until it accepts on port.
func startProcess(t testing.TB, port int, name string, args ...string) {
	t.Helper()
	var log bytes.Buffer
	var mu sync.Mutex
	// The proxy carries two sockets per tunnel: lift its open-file limit to the hard one
	// (Go gives children the limit the process started with).
	cmd := exec.Command("sh", append([]string{"-c", `ulimit -n "$(ulimit -Hn)"; exec "$@"`, "sh", name}, args...)...)
	cmd.Stdout = &lockedWriter{w: &log, mu: &mu}
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			mu.Lock()
			t.Logf("%s output:\n%s", filepath.Base(name), log.String())
			mu.Unlock()
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%s exited before listening on %s:\n%s", name, addr, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within 15 s", name, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// tinyproxy starts tinyproxy with the given extra config lines (e.g. "BasicAuth user pass")
// and returns its URL, http://127.0.0.1:PORT. Without an Allow line it serves loopback clients.
func tinyproxy(t testing.TB, extra ...string) string {
	t.Helper()
	bin := needBinary(t, "tinyproxy")
	port := freePort(t)
	conf := []string{
		fmt.Sprintf("Port %d", port),
		"Listen 127.0.0.1",
		"Timeout 120",
		"MaxClients 4000", // a thread per client: the 1,000-connection test needs room
		"LogLevel Warning",
		"DisableViaHeader Yes",
		// No ConnectPort line: CONNECT to any port (the test servers' are random).
	}
	allow := true
	for _, l := range extra {
		if strings.HasPrefix(l, "Allow ") {
			allow = false
		}
	}
	if allow {
		conf = append(conf, "Allow 127.0.0.1")
	}
	conf = append(conf, extra...)
	path := filepath.Join(t.TempDir(), "tinyproxy.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, port, bin, "-d", "-c", path)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// microsocks starts microsocks, requiring user and pass unless user is empty, and returns its
// URL, socks5://127.0.0.1:PORT (without credentials).
func microsocks(t testing.TB, user, pass string) string {
	t.Helper()
	bin := needBinary(t, "microsocks")
	port := freePort(t)
	args := []string{"-i", "127.0.0.1", "-p", fmt.Sprint(port)}
	if user != "" {
		args = append(args, "-u", user, "-P", pass)
	}
	startProcess(t, port, bin, args...)
	return fmt.Sprintf("socks5://127.0.0.1:%d", port)
}

// silentProxy accepts connections, reads what comes and never answers; it returns its address.
func silentProxy(t testing.TB) string {
	t.Helper()
	url := testkit.RawServer(t, func(_ net.Conn, br *bufio.Reader) { _, _ = io.Copy(io.Discard, br) })
	return strings.TrimPrefix(url, "ws://")
}

// closeWrite half-closes c when it can (the copy to it is done), else closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.Close()
}
