// Command robustness-doc writes docs/robustness.md from the results of fault rounds: the JSON
// lines that `go test ./internal/faulttest -results FILE` appends, one per round.
//
//	go run ./internal/faulttest/cmd/robustness-doc -o docs/robustness.md bench/results/faults-*.jsonl
//
// Every figure in the document comes from those files; the prose around the tables is fixed.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wsfleet/wsfleet/internal/faulttest"
)

func main() {
	out := flag.String("o", "docs/robustness.md", "the document to write")
	hostile := flag.String("hostile", "", "the output of bash .ci/robustness (engine/hostile_test.go's rows), included as the first section")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: robustness-doc [-o docs/robustness.md] results.jsonl...")
		os.Exit(2)
	}
	var runs []run
	for _, path := range flag.Args() {
		rs, err := faulttest.ReadResults(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, r := range rs {
			runs = append(runs, run{file: filepath.Base(path), Result: r})
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var hostileMD []byte
	if *hostile != "" {
		if hostileMD, err = os.ReadFile(*hostile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	write(f, runs, flag.Args(), *hostile, hostileMD)
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type run struct {
	file string
	*faulttest.Result
}

// faults in the document's order, with what each round must show.
var faults = []struct{ name, must string }{
	{"blackhole", "Data stops both ways with no FIN or RST. Keepalive (PingInterval 1 s, PongTimeout 1 s) declares the peer dead within PingInterval + PongTimeout + one 10 ms tick of the last traffic received, once per connection, as ErrTimeout; the toxic is then removed and every connection redials under its ReconnectPolicy."},
	{"latency", "200 ± 100 ms on every server reply, PingInterval 500 ms and PongTimeout above the latency: no connection may be declared dead, and the round trips show the latency. PongTimeout is 2 s, well above the latency and what toxiproxy adds to it when the machine is busy."},
	{"bandwidth", "64 KB/s per connection towards the server, senders flooding 1 KiB messages: SendContext waits and TrySend fails with ErrBackedUp at MaxPendingBytes (64 KiB), memory stays bounded, nothing is reordered or lost. *Drained after stop* is how long the last echoes took once the senders stopped (the toxic is gone by then). On this machine the kernel's congestion control is BBR, and a socket that carried the throttled stream keeps pacing at the rate BBR learned under the toxic (about 40 KB/s, `ss` shows `pacing_rate 309120bps`) for tens of seconds after the toxic is removed, with up to 4 MiB in its send queue (`tcp_wmem`): a few connections in a thousand then take a minute to drain. With `net.ipv4.tcp_congestion_control=cubic` the same round drains in seconds (three runs of 1,000 connections: 18–39 s rounds against 41–95 s). The round therefore waits for the drain as long as echoes keep arriving (30 s without one, 240 s at most) instead of closing connections that are slow but delivering."},
	{"slicer", "Every frame, both ways, arrives in 1–7-byte TCP segments 50 µs apart: every message must come back intact (stamp, length and every filler byte checked)."},
	{"limit_data", "The server's stream is cut 2,000 bytes in, inside a frame: each connection reports one error, which names the cut."},
	{"reset_peer", "Every connection is reset (RST): each reports one error naming the reset."},
	{"server restart", "The server process is killed (SIGKILL) with every connection open and a new one started on the same port 3 s later. Each connection comes back once; each Handler sees OnClose and OnOpen once, each owner one Reconnecting and one Reconnected event. The goal for the storm is peak handshakes per 100 ms at most twice the mean over the reconnection window (from the new server's first upgrade to its last); the column gives the measured ratio of every run, and the handshakes of each 100 ms follow the table, as the server counted them and as the clients saw their OnOpen. What to expect: once every retry timer runs at MaxDelay d scaled by a uniform factor in [1-j, 1+j] (j the Jitter) with its phase spread by the earlier attempts, the first attempt after the restart falls in [0, (1+j)d) with a density flat up to (1-j)d and then falling to zero, so peak / mean ≈ 1 + j: 1.5 for the jitter of 0.5 used here, and the buckets fall off linearly after the first (1-j)d, as the tables show. The test asserts at most 2× at fleet size (5,000 connections or more); at CI size (1,000) counting noise of about √100 per bucket puts 1.5 within reach of 2, so it asserts only what a storm without jitter could not do (no 100 ms with half of the returns, spread over a second or more). A stall of a process on a busy machine empties a 100 ms and piles its handshakes into the next, whatever the jitter did."},
	{"server gone (MaxAttempts 3)", "The server is killed for good under MaxAttempts 3: each connection gives up once, and its final error says so."},
}

func write(w io.Writer, runs []run, files []string, hostileFile string, hostile []byte) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Robustness: hostile servers, network faults, restarts, and what the application sees\n\n")
	hostileArg := ""
	if hostileFile != "" {
		hostileArg = " -hostile " + relative([]string{hostileFile})[0]
	}
	p("Generated by `go run ./internal/faulttest/cmd/robustness-doc -o docs/robustness.md%s %s` from\n", hostileArg, strings.Join(relative(files), " "))
	p("measured results; do not edit by hand. The first part is what engine/hostile_test.go measures\n")
	p("against raw-TCP servers that break the protocol; the rest are the fault rounds of internal/faulttest.\n\n")
	if len(hostile) > 0 {
		writeHostile(p, hostile, hostileArg)
	}
	p("## Fault rounds\n\n")
	p("Each row is one round; its raw JSON (every figure below and more) is in the file named in the\n")
	p("last column, the test log next to it (`.txt`, with the machine's load average before and after,\n")
	p("and each failed check's message). *checks* says whether the test's checks held in that run. The\n")
	p("machine has 2 cores shared with other work: the load average column says how busy it was, and\n")
	p("rounds run at load averages of 20-40 show stalls of seconds that no client library controls.\n\n")
	p("Reproduce:\n\n")
	p("```sh\n")
	p("bash .ci/install-peers                      # builds toxiproxy into bin/ (once)\n")
	p("go test -race -count=1 -v ./internal/faulttest -results $PWD/bench/results/faults-ci-$(date -u +%%Y%%m%%dT%%H%%MZ).jsonl\n")
	p("go test -c -o /tmp/faulttest.test ./internal/faulttest && (cd internal/faulttest && \\\n")
	p("  /tmp/faulttest.test -test.v -test.timeout 60m -fleet 10000 -results $PWD/../../bench/results/faults-fleet10000-$(date -u +%%Y%%m%%dT%%H%%MZ).jsonl)\n")
	p("bash .ci/robustness > bench/results/hostile-$(date -u +%%Y%%m%%dT%%H%%MZ).md\n")
	p("go run ./internal/faulttest/cmd/robustness-doc -o docs/robustness.md -hostile bench/results/hostile-<time>.md bench/results/faults-*.jsonl\n")
	p("```\n\n")
	p("### How the rounds work\n\n")
	p("- **Fault injector**: Shopify's toxiproxy %s, run as its own server process (built by\n", faulttest.ToxiproxyVersion)
	p("  `.ci/peers.d/toxiproxy.sh` with `go install` into the git-ignored `bin/`) and driven over its HTTP API\n")
	p("  (`internal/faulttest/toxiproxy.go`). A process rather than the library embedded in the tests: the\n")
	p("  module's go.mod does not take in toxiproxy's dependencies (Prometheus, zerolog, gorilla/mux...), and\n")
	p("  the proxy's CPU and two descriptors per link are not counted against the clients under test, which\n")
	p("  matters at 10,000 connections under a 20,000-descriptor limit per process. Each round starts its own\n")
	p("  toxiproxy on a free loopback port (one per client process at fleet size) and stops it.\n")
	p("- **Servers**: the reference server (`internal/testserver`) in its own process — the test binary re-executed —\n")
	p("  so that a restart is a real SIGKILL and a new process on the same port; it reports its completed upgrades\n")
	p("  every 5 ms, which gives the handshake rate. Python's websockets (Debian's python3-websockets,\n")
	p("  `internal/faulttest/testdata/echo_server.py`) is the second opinion for some faults. Both echo.\n")
	p("- **Clients**: one engine per process, every connection on the public API: a Handler, or (every 4th) an\n")
	p("  owner channel in Active mode. Paced traffic: one stamped message per connection per interval (TrySend).\n")
	p("- **No silent loss**, as tested: every message that Send/TrySend accepted is either echoed back by the\n")
	p("  server carrying its stamp (connection id, sequence number, send time; so the server received it), or\n")
	p("  was sent during a connection epoch (OnOpen to the next OnClose) that ended with an error the\n")
	p("  application was told about (*attributed*). Each connection's ledger reconciles the two; a message in\n")
	p("  neither set is *silent* and fails the round. Echoes are also checked for order and content.\n")
	p("- **Times**: *detection* runs from the fault's start (the toxiproxy API call, the SIGKILL) to each\n")
	p("  connection's OnClose; *fault in place after* is how long toxiproxy's API took to put the toxic on every\n")
	p("  link; *last traffic → loss* runs from the last message or pong each connection received to its OnClose,\n")
	p("  which is what keepalive bounds (PingInterval + PongTimeout + one 10 ms tick); *reconnection* from each\n")
	p("  OnClose to that connection's next OnOpen (the time it was disconnected); *back* from the fault's end\n")
	p("  (toxic removed, new server started) to that OnOpen.\n")
	p("- **After every round**: the goroutines and file descriptors of every process (test and workers) must\n")
	p("  come back to their count before the round, and the live heap (runtime/metrics `/gc/heap/live:bytes`,\n")
	p("  after two GCs) to within 8 MiB of it. The tables give the live heap of the (first) client process\n")
	p("  before, at its peak (sampled every 50 ms) and after.\n")
	p("  Go exposes no count of live runtime timers: the engine's timers live in its per-loop wheels, which end\n")
	p("  with the engine, and the reconnect waits' timers belong to goroutines that are counted.\n")
	p("- **Sizes**: `make test` runs the CI sizes in one process (about 85 s under -race on 2 cores). `-fleet N`\n")
	p("  runs every round at N connections split over processes of at most 2,500, each with its own toxiproxy;\n")
	p("  bandwidth is capped at 1,000 connections (64 MB/s through the proxies) and slicer at 2,500, which is\n")
	p("  what one loopback machine can push through toxiproxy.\n\n")

	byFault := map[string][]run{}
	var ws []run
	for _, r := range runs {
		if r.Wsbench != nil {
			ws = append(ws, r)
			continue
		}
		byFault[r.Fault] = append(byFault[r.Fault], r)
	}
	for _, f := range faults {
		rs := byFault[f.name]
		p("### %s\n\n%s\n\n", f.name, f.must)
		if len(rs) == 0 {
			p("No results yet.\n\n")
			continue
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Conns < rs[j].Conns })
		p("Settings: %s.\n\n", rs[len(rs)-1].Note)
		p("| server | conns (procs) | fault in place after | detection p50 / p99 / max | last traffic → loss p50 / p99 / max | reconnection p50 / p99 / max | back after clear p50 / p99 | peak / mean handshakes per 100 ms | echo RTT p50 / p99 | drained after stop | sent | received | lost, attributed | lost, silent | losses per conn | error classes | heap before / peak / after (KiB) | leaks | load avg start → end | checks | run |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rs {
			p("| %s | %d (%d) | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %d | %d | %s | %s | %d / %d / %d | %s | %s | %s | %s %s |\n",
				r.Server, r.Conns, r.Procs, inject(r.Result), ms3(r.Detect), ms3(r.Quiet), ms3(r.Reconnect), ms2(r.Back), storm(r.Result),
				ms2(r.RTT), drain(r.Result), r.Sent, r.Received, r.Attributed, r.Silent, counts(r.ClosesPerConn), counts(r.ErrorClasses),
				r.HeapBefore>>10, r.HeapPeak>>10, r.HeapAfter>>10, leaks(r.Leaks), load(r.Result), verdict(r.Result), r.file, r.When)
		}
		p("\nErrors as the application saw them:\n\n")
		seen := map[string]bool{}
		for _, r := range rs {
			for _, e := range r.ErrorSamples {
				if !seen[e] {
					seen[e] = true
					p("- `%s`\n", e)
				}
			}
		}
		if len(seen) == 0 {
			p("- none\n")
		}
		for _, r := range rs {
			if len(r.Stalls) > 0 {
				p("\nNot drained when the round gave up waiting (%s, %s), with both ends' socket queues (`ss -tni`):\n\n", r.file, r.When)
				for _, st := range r.Stalls {
					p("- %s\n", st)
				}
			}
		}
		var owners []string
		for _, r := range rs {
			if len(r.OwnerReconnecting) > 0 {
				owners = append(owners, fmt.Sprintf("%s, %d conns: Reconnecting events per owned connection %s, Reconnected %s, final %s",
					r.Server, r.Conns, counts(r.OwnerReconnecting), counts(r.OwnerReconnected), counts(r.OwnerFinal)))
			}
		}
		if len(owners) > 0 {
			p("\nOwner channels (every 4th connection): %s.\n", strings.Join(owners, "; "))
		}
		for _, r := range rs {
			if len(r.HandshakeBuckets) > 0 {
				p("\nHandshakes per 100 ms, %d connections (%s, %s): server %v; clients' OnOpen %v.\n", r.Conns, r.file, r.When, r.HandshakeBuckets, r.ReopenBuckets)
			}
		}
		p("\n")
	}
	writeWsbench(p, ws)
}

// writeHostile includes the output of .ci/robustness (a whole document) as a section: its
// title becomes a second-level heading and its reproduce line names where the output went.
func writeHostile(p func(string, ...any), md []byte, arg string) {
	lines := strings.Split(strings.TrimSpace(string(md)), "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[0], "# ") {
		lines[0] = "## " + strings.TrimPrefix(lines[0], "# ")
	}
	out := strings.Join(lines, "\n")
	// .ci/robustness names a placeholder (older outputs: docs/robustness.md); name the file.
	named := "bash .ci/robustness >" + strings.TrimPrefix(arg, " -hostile")
	for _, placeholder := range []string{"bash .ci/robustness > bench/results/hostile-<time>.md", "bash .ci/robustness > docs/robustness.md"} {
		out = strings.ReplaceAll(out, placeholder, named)
	}
	p("%s\n\n", out)
}

// writeWsbench is the table of the rounds driven by wsbench (loadtest.Run) itself.
func writeWsbench(p func(string, ...any), ws []run) {
	p("### wsbench under faults\n\n")
	p("The same faults driven by wsbench's own runner (loadtest.Run, what `wsbench run` does), so that the\n")
	p("figures are the ones its report prints: latency percentiles through toxiproxy's 200 ± 100 ms, and a soak\n")
	p("with `-reconnect` across a server process killed and restarted on the same port. The HTML report of\n")
	p("such a run shades the outage (the seconds with connections waiting for a redial) in every chart.\n\n")
	if len(ws) == 0 {
		p("No results yet.\n\n")
		return
	}
	p("| round | conns | equivalent command | latency p50 / p99 / max | sent / received / lost | dropped | returns | disconnected per dropped conn p50 / p99 / max | lost in gaps | outages marked | heap before / after (KiB) | leaks | load avg start → end | checks | run |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range ws {
		w := r.Wsbench
		disc := "—"
		if w.Reconnects > 0 {
			disc = fmt.Sprintf("%.0f / %.0f / %.0f ms", w.DisconnectedP50, w.DisconnectedP99, w.DisconnectedMax)
		}
		p("| %s | %d | `%s` | %.1f / %.1f / %.1f ms | %d / %d / %d | %d | %d | %s | %d | %d | %d / %d | %s | %s | %s | %s %s |\n",
			r.Fault, r.Conns, w.Command, w.LatencyP50, w.LatencyP99, w.LatencyMax, w.Sent, w.Received, w.Lost,
			w.Dropped, w.Reconnects, disc, w.LostInGaps, w.Outages, r.HeapBefore>>10, r.HeapAfter>>10, leaks(r.Leaks), load(r.Result), verdict(r.Result), r.file, r.When)
	}
	p("\n")
}

func relative(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		if j := strings.Index(f, "bench/results/"); j >= 0 {
			f = f[j:]
		}
		out[i] = f
	}
	return out
}

func verdict(r *faulttest.Result) string {
	if r.Verdict == "" {
		return "see log"
	}
	return r.Verdict
}

func load(r *faulttest.Result) string {
	if r.Load[0] == 0 && r.Load[1] == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f → %.1f", r.Load[0], r.Load[1])
}

func inject(r *faulttest.Result) string {
	if r.InjectMs == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f ms", r.InjectMs)
}

func ms3(p faulttest.Percentiles) string {
	if p.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f / %.0f / %.0f ms", p.P50, p.P99, p.Max)
}

func ms2(p faulttest.Percentiles) string {
	if p.N == 0 {
		return "—"
	}
	if p.P99 < 10 {
		return fmt.Sprintf("%.2f / %.2f ms", p.P50, p.P99)
	}
	return fmt.Sprintf("%.0f / %.0f ms", p.P50, p.P99)
}

func storm(r *faulttest.Result) string {
	if r.HandshakeMean == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f / %.1f (×%.2f over %.0f ms)", r.HandshakePeak, r.HandshakeMean, r.HandshakePeak/r.HandshakeMean, r.HandshakeWindow)
}

// counts renders {"1": 300} as "1: 300" (keys sorted).
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func leaks(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, "; ")
}

// drain is how long the round waited for the last echoes after the senders stopped.
func drain(r *faulttest.Result) string {
	if r.DrainMs == 0 {
		return "—"
	}
	if r.DrainMs < 1000 {
		return fmt.Sprintf("%.0f ms", r.DrainMs)
	}
	return fmt.Sprintf("%.1f s", r.DrainMs/1000)
}
