package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The flow tests talk to servers that share nothing with wsbench: testdata/peers/flowserver.py
// (Python websockets) and flowserver.js (Node ws), one contract. A missing peer fails the
// test under CI (CI=true) and skips it elsewhere.

type peer struct {
	url   string
	stdin io.WriteCloser
	out   *bufio.Reader
	cmd   *exec.Cmd
}

func startFlowPeer(t *testing.T, kind string, args ...string) *peer {
	t.Helper()
	var cmd *exec.Cmd
	switch kind {
	case "python":
		cmd = exec.Command("/usr/bin/python3", append([]string{"testdata/peers/flowserver.py"}, args...)...)
	case "node":
		mods, _ := filepath.Abs("../engine/testdata/peers/node/node_modules")
		if _, err := os.Stat(filepath.Join(mods, "ws")); err != nil {
			missingPeer(t, "node ws (bash .ci/install-peers): "+err.Error())
		}
		cmd = exec.Command("node", append([]string{"testdata/peers/flowserver.js"}, args...)...)
		cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		missingPeer(t, fmt.Sprintf("%s peer: %v", kind, err))
	}
	p := &peer{stdin: in, out: bufio.NewReader(outp), cmd: cmd}
	line := make(chan string, 1)
	go func() {
		l, _ := p.out.ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		port, ok := strings.CutPrefix(strings.TrimSpace(l), "LISTENING ")
		if !ok {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			missingPeer(t, fmt.Sprintf("%s peer did not start: %q; stderr: %s", kind, l, stderr.String()))
		}
		p.url = "ws://127.0.0.1:" + port
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s peer: no LISTENING line in 30 s; stderr: %s", kind, stderr.String())
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

func missingPeer(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("peer missing under CI: %s", why)
	}
	t.Skipf("peer missing: %s", why)
}

// stats stops the peer and returns its counters.
func (p *peer) stats(t *testing.T) map[string]int64 {
	t.Helper()
	_ = p.stdin.Close()
	done := make(chan string, 1)
	go func() {
		l, _ := p.out.ReadString('\n')
		done <- l
	}()
	var l string
	select {
	case l = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("peer printed no stats in 30 s")
	}
	var m map[string]int64
	if err := json.Unmarshal([]byte(l), &m); err != nil {
		t.Fatalf("peer stats %q: %v", l, err)
	}
	return m
}

func compileFile(t *testing.T, path string, set map[string]string) *Program {
	t.Helper()
	f, err := ParseFlowFile(path, set)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(f, filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runFlow(t *testing.T, p *Program, url string, conns int, d time.Duration) *Result {
	t.Helper()
	cfg := Config{Flow: p, Targets: []string{url}, Conns: conns, Duration: d, Loops: 1}
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		res.WriteText(os.Stderr)
	}
	if res.Connections.Opened != int64(conns) || res.Connections.Dropped != 0 {
		t.Fatalf("connections %+v, errors %+v", res.Connections, res.Errors)
	}
	return res
}

func mustCount(t *testing.T, r *Result, label string) int64 {
	t.Helper()
	return r.Count(label).Total
}

// Requests on an open schedule, replies overtaking each other (the server delays request n by
// 50 + (n%3)*10 ms): every reply is matched to its own request by id, and the measured median
// shows the server's delay.
func TestFlowRequestReplyCorrelated(t *testing.T) {
	for _, kind := range []string{"python", "node"} {
		t.Run(kind, func(t *testing.T) {
			srv := startFlowPeer(t, kind, "--delay-ms", "50")
			p := compileFile(t, "testdata/flows/rr.yaml", nil)
			const conns, perConn = 10, 20
			res := runFlow(t, p, srv.url+"/rr", conns, 20*time.Second)
			st := srv.stats(t)
			if st["requests"] != conns*perConn {
				t.Errorf("server saw %d requests, want %d", st["requests"], conns*perConn)
			}
			if got := mustCount(t, res, "rtt"); got != conns*perConn {
				t.Errorf("matched %d replies, want %d; counts %+v", got, conns*perConn, res.Counts)
			}
			if n := mustCount(t, res, "timeouts(rtt)") + mustCount(t, res, UnexpectedLabel); n != 0 {
				t.Errorf("timeouts or unexpected messages: %+v", res.Counts)
			}
			m := res.Metric("rtt")
			if m == nil || m.Latency.Count != conns*perConn {
				t.Fatalf("rtt metric %+v", m)
			}
			// delays are 50, 60, 70 ms in equal shares: the median is 60 ms plus our overhead,
			// and the overhead of a starved machine (load averages of 10-30 here) is seconds
			if p50 := m.Latency.P50Ms; p50 < 59 || p50 > 60+3000 {
				t.Errorf("p50 %.1f ms; the server delays the median reply by 60 ms", p50)
			}
			if m.Latency.MinMs < 49 {
				t.Errorf("min %.1f ms is below the server's 50 ms delay", m.Latency.MinMs)
			}
			if res.Messages.SentTotal != conns*perConn {
				t.Errorf("sent %d", res.Messages.SentTotal)
			}
		})
	}
}

// A chat: the session id captured from the welcome goes back in the join (the server refuses
// any other), rooms come from the CSV feeder, acks are timed per say, broadcasts timed from
// the sender's stamp, pings answered by a rule.
func TestFlowChatCapturesAndRules(t *testing.T) {
	for _, kind := range []string{"python", "node"} {
		t.Run(kind, func(t *testing.T) {
			srv := startFlowPeer(t, kind, "--ping-ms", "100")
			p := compileFile(t, "testdata/flows/chat.yaml", nil)
			const conns, says = 6, 10
			res := runFlow(t, p, srv.url+"/chat", conns, 30*time.Second)
			st := srv.stats(t)
			if st["joins_ok"] != conns || st["joins_bad"] != 0 {
				t.Errorf("server joins: ok %d bad %d (the captured sid goes back in the join)", st["joins_ok"], st["joins_bad"])
			}
			if mustCount(t, res, "welcome") != conns {
				t.Errorf("welcome count: %+v", res.Counts)
			}
			if got := mustCount(t, res, "say"); got != conns*says || st["says"] != conns*says {
				t.Errorf("acks matched %d, server says %d, want %d", got, st["says"], conns*says)
			}
			if m := res.Metric("say"); m == nil || m.Latency.Count != conns*says {
				t.Errorf("say metric %+v", m)
			}
			// rooms r1 (4 members: ids 0, 2, 3, 5) and r2 (2 members): every say goes to the other
			// members of its room; a member that closed (300 ms after its own last ack) misses
			// the broadcasts that come later, which a loaded machine makes possible
			const want = says * (4*3 + 2*1)
			f := res.Metric("fanout")
			if f == nil || !f.Stamp || f.Latency.Count > st["said"] || st["said"] > want || f.Latency.Count < want*9/10 {
				t.Errorf("fanout %+v, server said %d, want %d", f, st["said"], want)
			}
			pings := mustCount(t, res, "ping")
			if pings == 0 || st["pongs"] > st["pings"] || pings-st["pongs"] > conns || st["pongs"] > pings {
				t.Errorf("pings counted %d, server sent %d pings and got %d pongs", pings, st["pings"], st["pongs"])
			}
			if res.ErrorsTotal != 0 {
				t.Errorf("errors: %+v", res.Errors)
			}
			if !strings.Contains(strings.Join(res.Notes, " "), "fanout is measured from a time inside the messages") {
				t.Errorf("no clock note: %v", res.Notes)
			}
		})
	}
}

// A server that pushes unstamped text (an Engine.IO open packet) and 32-byte binary messages
// (a field of 0x07 bytes, which the raw layouts would read as a stamp): the push and echo
// scenarios count them as foreign, with an example, and never turn them into sequence
// numbers or latencies.
func TestForeignMessagesAreNotStamps(t *testing.T) {
	for _, kind := range []string{"python", "node"} {
		t.Run(kind, func(t *testing.T) {
			srv := startFlowPeer(t, kind)
			for _, cfg := range []Config{
				{Scenario: Push},
				{Scenario: Echo, Binary: true, Size: 32},
				{Scenario: Echo},
			} {
				cfg.Targets, cfg.Conns, cfg.Duration, cfg.Loops, cfg.Drain = []string{srv.url + "/foreign"}, 4, 600*time.Millisecond, 1, 100*time.Millisecond
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				m := res.Messages
				f := res.Count(ForeignLabel)
				if res.Connections.Opened != 4 || f.Total < 8 || f.Example == "" {
					t.Fatalf("%s: connections %+v, foreign %+v", cfg.Scenario, res.Connections, f)
				}
				if m.ReceivedTotal != 0 || m.Duplicates != 0 || m.Reordered != 0 || m.Corrupt != 0 || res.Latency.Count != 0 {
					t.Errorf("%s binary=%v: foreign messages read as stamps: %+v, latency count %d", cfg.Scenario, cfg.Binary, m, res.Latency.Count)
				}
				if cfg.Scenario == Push && (m.Lost != 0 || m.SentTotal != 0) {
					t.Errorf("push: lost %d of %d: sequence numbers made up from foreign messages", m.Lost, m.SentTotal)
				}
				var text strings.Builder
				res.WriteText(&text)
				if !strings.Contains(text.String(), "count        foreign") {
					t.Errorf("report has no foreign line:\n%s", text.String())
				}
			}
		})
	}
}
