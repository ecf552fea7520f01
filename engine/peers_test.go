package engine_test

// Real interop peers for the engine tests: WebSocket servers written with Python's websockets
// (testdata/peers/python/server.py) and Node's ws (testdata/peers/node/server.js), started on
// loopback by startPeer. `bash .ci/install-peers` installs their runtimes.
//
// Both peers behave the same:
//
//	--port N                   listen on 127.0.0.1:N (0, the default, picks a free port)
//	--tls CERT KEY             serve wss:// with that certificate (see testkit.SelfSignedFiles)
//	--compress off|on|no-context
//	                           permessage-deflate: off (default); on = the library's defaults,
//	                           with context takeover; no-context = server_no_context_takeover and
//	                           client_no_context_takeover forced. Every message is compressed,
//	                           however small. (Python's defaults also answer server_max_window_bits=12.)
//
// Messages up to 64 MiB are accepted. Subprotocols chat.v2 and chat.v1 are supported: the first
// one the client offers that is supported is selected, else none. Paths (any other one: HTTP 404):
//
//	/echo                      echo every text and binary message back with the same type
//	/headers                   send one text message, a JSON object of the request headers
//	                           (lower-cased names, repeats joined with ", "), then echo
//	/close?code=4001&reason=bye
//	                           close right after the handshake with that code (default 1000) and reason
//	/ping?data=hello           send a ping with that payload; once a pong arrives send the text
//	                           "pong:<pong payload>", then echo (messages that came before the pong too)
//	/push?count=N&size=S       send N binary messages of S bytes (see peerPushPayload), then close 1000 "done"
//
// A route that fails (bad parameters, invalid close code) closes with 1011 "server error".

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// peerKinds are the peers startPeer knows, for table-driven interop tests.
var peerKinds = []string{"python", "node"}

const peerStartTimeout = 15 * time.Second

// startPeer starts a peer ("python" or "node") with extra args, waits for LISTENING, returns
// "ws://127.0.0.1:PORT" (or wss:// when args contain --tls), and kills it in t.Cleanup (stdin
// pipe closed + Process.Kill + Wait). When the peer's runtime is missing it skips the test, or
// fails it when the CI environment variable is set. The peer's stderr is logged if the test
// fails, or always with WSFLEET_PEER_LOG=1 (and go test -v).
func startPeer(t testing.TB, kind string, args ...string) string {
	t.Helper()
	p := launchPeer(t, kind, args...)
	scheme := "ws"
	for _, a := range args {
		if a == "--tls" {
			scheme = "wss"
		}
	}
	return scheme + "://127.0.0.1:" + strconv.Itoa(p.port)
}

// peerProc is a running peer started by launchPeer.
type peerProc struct {
	kind   string
	port   int
	cmd    *exec.Cmd
	stdin  *os.File // write end of the peer's stdin; closing it tells the peer to exit
	stderr *peerLog
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's result, valid after exited is closed
	shown  bool          // stderr already went into a failure message
}

// launchPeer is startPeer's engine: it returns the process too, for tests of the helper itself.
func launchPeer(t testing.TB, kind string, args ...string) *peerProc {
	t.Helper()
	dir := peerDir(t, kind)
	var cmd *exec.Cmd
	switch kind {
	case "python":
		cmd = exec.Command(pythonPeerInterpreter, append([]string{"-u", filepath.Join(dir, "server.py")}, args...)...)
	case "node":
		node, _ := exec.LookPath("node")
		cmd = exec.Command(node, append([]string{filepath.Join(dir, "server.js")}, args...)...)
	}
	cmd.Dir = dir

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatalf("peer %s: %v", kind, err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatalf("peer %s: %v", kind, err)
	}
	p := &peerProc{kind: kind, cmd: cmd, stdin: stdinW, stderr: &peerLog{}, exited: make(chan struct{})}
	cmd.Stdin = stdinR
	cmd.Stdout = stdoutW
	cmd.Stderr = p.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		stdinR.Close()
		stdinW.Close()
		stdoutR.Close()
		stdoutW.Close()
		t.Fatalf("peer %s: start: %v", kind, err)
	}
	// The child holds its own copies now.
	stdinR.Close()
	stdoutW.Close()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if (t.Failed() && !p.shown) || os.Getenv("WSFLEET_PEER_LOG") != "" {
			if s := p.stderr.String(); s != "" {
				t.Logf("peer %s %v stderr:\n%s", kind, args, s)
			}
		}
	})

	// Read stdout until LISTENING, then keep draining it so the peer never blocks on it.
	ports := make(chan int, 1)
	go func() {
		defer stdoutR.Close()
		sc := bufio.NewScanner(stdoutR)
		found := false
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !found && strings.HasPrefix(line, "LISTENING ") {
				if n, err := strconv.Atoi(strings.TrimPrefix(line, "LISTENING ")); err == nil && n > 0 && n < 65536 {
					found = true
					ports <- n
					continue
				}
			}
			p.stderr.Write([]byte("stdout: " + line + "\n"))
		}
		io.Copy(io.Discard, stdoutR)
	}()

	timer := time.NewTimer(peerStartTimeout)
	defer timer.Stop()
	select {
	case p.port = <-ports:
		return p
	case <-p.exited:
		p.shown = true
		// It may have printed LISTENING just before dying; either way it is not serving.
		t.Fatalf("peer %s %v exited before LISTENING (%v); stderr:\n%s", kind, args, p.err, p.stderr.String())
	case <-timer.C:
		p.shown = true
		t.Fatalf("peer %s %v: no LISTENING line within %v; stderr:\n%s", kind, args, peerStartTimeout, p.stderr.String())
	}
	return nil
}

// stop closes the peer's stdin, kills it and waits for it. Safe to call more than once.
func (p *peerProc) stop() {
	p.stdin.Close()
	p.cmd.Process.Kill()
	<-p.exited
}

const pythonPeerInterpreter = "/usr/bin/python3"

var (
	peerCheckMu   sync.Mutex
	peerCheckDone = map[string]error{}
)

// peerDir returns the absolute testdata folder of a peer, after checking that its runtime is
// installed (skipping or failing the test if not).
func peerDir(t testing.TB, kind string) string {
	t.Helper()
	if kind != "python" && kind != "node" {
		t.Fatalf("startPeer: unknown peer kind %q (want one of %v)", kind, peerKinds)
	}
	// Tests run with the package directory as working directory.
	dir, err := filepath.Abs(filepath.Join("testdata", "peers", kind))
	if err != nil {
		t.Fatalf("peer %s: %v", kind, err)
	}
	peerCheckMu.Lock()
	missing, checked := peerCheckDone[kind]
	if !checked {
		missing = checkPeerRuntime(kind, dir)
		peerCheckDone[kind] = missing
	}
	peerCheckMu.Unlock()
	if missing != nil {
		msg := fmt.Sprintf("%s interop peer unavailable: %v; run `bash .ci/install-peers` (from the repository root) to install it", kind, missing)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// checkPeerRuntime says what is missing to run a peer, or nil.
func checkPeerRuntime(kind, dir string) error {
	switch kind {
	case "python":
		if _, err := os.Stat(filepath.Join(dir, "server.py")); err != nil {
			return err
		}
		if _, err := os.Stat(pythonPeerInterpreter); err != nil {
			return fmt.Errorf("no %s", pythonPeerInterpreter)
		}
		out, err := exec.Command(pythonPeerInterpreter, "-c", "import websockets").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s cannot import websockets (Debian package python3-websockets): %v: %s",
				pythonPeerInterpreter, err, bytes.TrimSpace(out))
		}
	case "node":
		if _, err := os.Stat(filepath.Join(dir, "server.js")); err != nil {
			return err
		}
		if _, err := exec.LookPath("node"); err != nil {
			return fmt.Errorf("no node on PATH")
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws", "package.json")); err != nil {
			return fmt.Errorf("no node_modules/ws in %s (npm ci)", dir)
		}
	}
	return nil
}

// peerPushPayload is message i (counting from 0) of /push?size=size: byte j is (i+j) mod 256.
func peerPushPayload(i, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(i + j)
	}
	return b
}

// peerLog collects a peer's stderr (bounded, keeping the start and the end).
type peerLog struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte
	dropped int
}

const peerLogHalf = 32 << 10

func (l *peerLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(b)
	if room := peerLogHalf - len(l.head); room > 0 {
		k := min(room, len(b))
		l.head = append(l.head, b[:k]...)
		b = b[k:]
	}
	l.tail = append(l.tail, b...)
	if over := len(l.tail) - peerLogHalf; over > 0 {
		l.dropped += over
		l.tail = append(l.tail[:0], l.tail[over:]...)
	}
	return n, nil
}

func (l *peerLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped == 0 {
		return string(l.head) + string(l.tail)
	}
	return fmt.Sprintf("%s\n[... %d bytes dropped ...]\n%s", l.head, l.dropped, l.tail)
}
