package faulttest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Env names of the child-process roles: a test binary started with RoleEnv set runs that role
// (see ChildMain) instead of its tests.
const (
	RoleEnv = "WSFLEET_FAULTTEST_ROLE"
	AddrEnv = "WSFLEET_FAULTTEST_ADDR"
)

// Peer is a WebSocket server in its own process: the reference server (this test binary
// re-executed in the server role) or the Python websockets echo server. A server restart is
// a real one: Kill ends the process with SIGKILL, as a crash or a hard deploy would.
type Peer struct {
	Name string
	URL  string // ws://127.0.0.1:port
	Addr string // 127.0.0.1:port

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	log   *tailBuffer

	mu         sync.Mutex
	handshakes []HandshakeSample // reference server only: upgrades counted over time
	msgsIn     int64             // reference server only: data messages received, last reported
}

// HandshakeSample says that the server had completed N upgrades by At (Unix ns).
type HandshakeSample struct {
	At int64
	N  int64
}

// StartRefServer runs the reference server in a child process on addr ("127.0.0.1:0" for a
// free port). It reports its completed upgrades every 5 ms, which gives the handshake rate.
func StartRefServer(addr string) (*Peer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), RoleEnv+"=server", AddrEnv+"="+addr)
	return startPeer("reference", cmd)
}

// StartPythonServer runs testdata/echo_server.py under Debian's /usr/bin/python3 (websockets).
func StartPythonServer(port int) (*Peer, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "internal", "faulttest", "testdata", "echo_server.py")
	cmd := exec.Command("/usr/bin/python3", script, "--port", strconv.Itoa(port))
	return startPeer("python-websockets", cmd)
}

func startPeer(name string, cmd *exec.Cmd) (*Peer, error) {
	p := &Peer{Name: name, cmd: cmd, done: make(chan struct{}), log: newTailBuffer(8 << 10)}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s server: %w", name, err)
	}
	listening := make(chan string, 1)
	go p.readOutput(out, listening)
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case addr := <-listening:
		p.Addr = addr
		p.URL = "ws://" + addr
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s server exited before listening: %s", name, p.log)
	case <-time.After(30 * time.Second):
		p.Kill()
		return nil, fmt.Errorf("%s server did not listen within 30 s: %s", name, p.log)
	}
}

// readOutput parses the child's stdout: "LISTENING host:port", then (reference server)
// "HS <unix ns> <upgrades>" and "IN <messages>" lines.
func (p *Peer) readOutput(r io.Reader, listening chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "LISTENING":
			listening <- strings.TrimPrefix(f[1], "ws://")
		case len(f) == 3 && f[0] == "HS":
			at, _ := strconv.ParseInt(f[1], 10, 64)
			n, _ := strconv.ParseInt(f[2], 10, 64)
			p.mu.Lock()
			p.handshakes = append(p.handshakes, HandshakeSample{At: at, N: n})
			p.mu.Unlock()
		case len(f) == 2 && f[0] == "IN":
			n, _ := strconv.ParseInt(f[1], 10, 64)
			p.mu.Lock()
			p.msgsIn = n
			p.mu.Unlock()
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// Handshakes returns the upgrade samples reported so far.
func (p *Peer) Handshakes() []HandshakeSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]HandshakeSample(nil), p.handshakes...)
}

// MessagesIn is the reference server's count of data messages received (its last report).
func (p *Peer) MessagesIn() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msgsIn
}

// Kill ends the process at once (SIGKILL) and waits for it.
func (p *Peer) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop closes the child's stdin (its cue to exit cleanly) and waits, killing it after 10 s.
func (p *Peer) Stop() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// tailBuffer keeps the last bytes written to it: a child's log, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
