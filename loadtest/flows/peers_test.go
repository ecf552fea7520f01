package flows_test

// The real servers the protocol flows are tested against, started on free loopback ports by
// the tests themselves (`bash .ci/install-peers` installs them; no system service is used):
//
//	testdata/node/socketio-chat.js   Socket.IO v4 chat (npm socket.io)
//	testdata/node/graphql-server.js  GraphQL over WebSocket (npm graphql-ws on ws)
//	testdata/node/market-data.js     plain JSON market-data feed (npm ws)
//	testdata/brokers/rabbitmq.sh     RabbitMQ with Web STOMP and Web MQTT (Debian rabbitmq-server)
//	testdata/brokers/mosquitto.sh    Mosquitto with WebSocket listeners (Debian mosquitto)
//
// Each prints one line once it serves ("LISTENING <port>" for the Node servers, "READY" for the
// brokers) and is stopped when its test ends: the Node servers exit when their stdin closes, the
// broker scripts on SIGTERM (taking their broker and its Erlang port mapper with them).

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/testkit"
)

// peerStartTimeout bounds a server's start; RabbitMQ boots in 5-10 s on a loaded 2-core machine.
const peerStartTimeout = 90 * time.Second

// requirePeer skips the test when a peer's program is missing, or fails it under CI (CI set),
// where .ci/install-peers must have installed it.
func requirePeer(t testing.TB, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := fmt.Sprintf("%s is not installed (%s missing): run `bash .ci/install-peers`", what, path)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// peerLog collects a peer's stderr for failure messages.
type peerLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *peerLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() < 64<<10 {
		l.buf.Write(p)
	}
	return len(p), nil
}

func (l *peerLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startPeerProcess starts cmd, waits for its first stdout line starting with ready and returns
// that line. The process is stopped in t.Cleanup: stdin closed and SIGTERM, SIGKILL after 20 s.
func startPeerProcess(t testing.TB, name string, cmd *exec.Cmd, ready string) string {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	stderr := &peerLog{}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() || os.Getenv("WSFLEET_PEER_LOG") != "" {
			if s := stderr.String(); s != "" {
				t.Logf("%s stderr:\n%s", name, s)
			}
		}
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first && strings.HasPrefix(sc.Text(), ready) {
				lines <- sc.Text()
				first = false
			}
		}
	}()
	select {
	case line := <-lines:
		return line
	case <-exited:
		t.Fatalf("%s exited before it was ready: %v\n%s", name, cmd.ProcessState, stderr.String())
	case <-time.After(peerStartTimeout):
		t.Fatalf("%s not ready after %v\n%s", name, peerStartTimeout, stderr.String())
	}
	return ""
}

// nodeServer is a running Node fixture server.
type nodeServer struct {
	addr   string // 127.0.0.1:port
	scheme string // http or https (ws or wss for WebSocket URLs)
}

// startNode runs testdata/node/<script>.js with args and returns its address.
func startNode(t testing.TB, script string, args ...string) nodeServer {
	t.Helper()
	dir, err := filepath.Abs("testdata/node")
	if err != nil {
		t.Fatal(err)
	}
	requirePeer(t, filepath.Join(dir, "node_modules", "socket.io", "package.json"), "the Node protocol peers")
	node, err := exec.LookPath("node")
	if err != nil {
		requirePeer(t, "/usr/bin/node", "node")
	}
	cmd := exec.Command(node, append([]string{script + ".js"}, args...)...)
	cmd.Dir = dir
	line := startPeerProcess(t, script, cmd, "LISTENING ")
	port := strings.TrimPrefix(line, "LISTENING ")
	s := nodeServer{addr: "127.0.0.1:" + port, scheme: "http"}
	for _, a := range args {
		if a == "--tls" {
			s.scheme = "https"
		}
	}
	return s
}

// wsURL is the server's WebSocket URL for path (which may carry a query).
func (s nodeServer) wsURL(path string) string {
	return strings.Replace(s.scheme, "http", "ws", 1) + "://" + s.addr + path
}

// stats fetches the server's own counts from GET /stats.
func (s nodeServer) stats(t testing.TB) map[string]any {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed certificate
	}}
	resp, err := client.Get(s.scheme + "://" + s.addr + "/stats")
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("stats: %v", err)
	}
	return m
}

// statsWhen polls the server's counts until ok holds for them (what the client sent last, a
// complete before its close say, the server may still be reading) or 20 s pass, and returns
// the last counts either way.
func (s nodeServer) statsWhen(t testing.TB, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := s.stats(t)
		if ok(m) || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// statInt reads a numeric count from a stats object.
func statInt(t testing.TB, m map[string]any, key string) int {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("stats: no number %q in %v", key, m)
	}
	return int(v)
}

// freePorts returns n distinct free loopback ports (all held open until every one is chosen).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// rabbitMQ is a running private RabbitMQ: its WebSocket URLs.
type rabbitMQ struct {
	stomp, stompTLS string // ws://…/ws and wss://…/ws, Web STOMP (permessage-deflate offered)
	mqtt, mqttTLS   string // ws://…/ws and wss://…/ws, Web MQTT
}

// startRabbitMQ runs testdata/brokers/rabbitmq.sh on free ports, TLS with cert.
func startRabbitMQ(t testing.TB, cert testCert) rabbitMQ {
	t.Helper()
	requirePeer(t, "/usr/lib/rabbitmq/bin/rabbitmq-server", "RabbitMQ (Debian rabbitmq-server)")
	p := freePorts(t, 6)
	cmd := exec.Command("bash", "testdata/brokers/rabbitmq.sh", t.TempDir())
	cmd.Env = append(os.Environ(),
		"STOMP_PORT="+strconv.Itoa(p[0]), "STOMP_TLS_PORT="+strconv.Itoa(p[1]),
		"MQTT_PORT="+strconv.Itoa(p[2]), "MQTT_TLS_PORT="+strconv.Itoa(p[3]),
		"DIST_PORT="+strconv.Itoa(p[4]), "EPMD_PORT="+strconv.Itoa(p[5]),
		"TLS_CERT="+cert.certFile, "TLS_KEY="+cert.keyFile,
		fmt.Sprintf("NODENAME=wsfleet-test-%d-%d@localhost", os.Getpid(), p[4]))
	startPeerProcess(t, "rabbitmq", cmd, "READY")
	u := func(scheme string, port int) string { return fmt.Sprintf("%s://127.0.0.1:%d/ws", scheme, port) }
	return rabbitMQ{stomp: u("ws", p[0]), stompTLS: u("wss", p[1]), mqtt: u("ws", p[2]), mqttTLS: u("wss", p[3])}
}

// mosquitto is a running private Mosquitto: its WebSocket URLs.
type mosquitto struct {
	ws, wss string
}

// startMosquitto runs testdata/brokers/mosquitto.sh on free ports, TLS with cert.
func startMosquitto(t testing.TB, cert testCert) mosquitto {
	t.Helper()
	requirePeer(t, "/usr/sbin/mosquitto", "Mosquitto (Debian mosquitto)")
	p := freePorts(t, 2)
	cmd := exec.Command("bash", "testdata/brokers/mosquitto.sh", t.TempDir())
	cmd.Env = append(os.Environ(), "WS_PORT="+strconv.Itoa(p[0]), "WSS_PORT="+strconv.Itoa(p[1]),
		"TLS_CERT="+cert.certFile, "TLS_KEY="+cert.keyFile)
	startPeerProcess(t, "mosquitto", cmd, "READY")
	return mosquitto{ws: fmt.Sprintf("ws://127.0.0.1:%d/mqtt", p[0]), wss: fmt.Sprintf("wss://127.0.0.1:%d/mqtt", p[1])}
}

// testCert is a self-signed certificate for 127.0.0.1 and localhost, as PEM files readable by
// the servers (RabbitMQ and Mosquitto may read them as another user).
type testCert struct {
	certFile, keyFile string
}

func newTestCert(t testing.TB) testCert {
	t.Helper()
	certFile, keyFile, _ := testkit.SelfSignedFiles(t)
	return testCert{certFile: certFile, keyFile: keyFile}
}
