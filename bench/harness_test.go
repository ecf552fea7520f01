package bench

// The harness shared by the peer benchmarks: the servers (each in its own process, so that
// the benchmark process's CPU, memory and allocations are the client's alone), the
// measurements (memstats, VmRSS, getrusage) and a lock-free latency histogram.

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ---- servers ----

// server is a child process that printed "LISTENING <url>" on its standard output and
// exits when its standard input closes (which happens when this process exits).
type server struct {
	url   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

var (
	serversMu sync.Mutex
	servers   = map[string]*server{}
	binDir    string
)

// serverBinary returns the path of a server program: from the environment variable env when set
// (run-peers.sh builds them once), else built now into a temporary folder. dir is the module
// folder to build in, pkg the package path relative to it.
func serverBinary(tb testing.TB, env, dir, pkg string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "wsfleet-bench-bin-")
		if err != nil {
			tb.Fatal(err)
		}
		binDir = d
	}
	out := filepath.Join(binDir, filepath.Base(pkg))
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// startServer starts (once per process and key) a server program and returns its URL.
func startServer(tb testing.TB, key, bin string, args ...string) string {
	serversMu.Lock()
	defer serversMu.Unlock()
	if s := servers[key]; s != nil {
		return s.url
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LISTENING ") {
		_ = cmd.Process.Kill()
		tb.Fatalf("%s: want LISTENING <url>, got %q (%v)", bin, line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	s := &server{url: strings.TrimSpace(strings.TrimPrefix(line, "LISTENING ")), cmd: cmd, stdin: stdin}
	servers[key] = s
	return s.url
}

// refServer is wsfleet's reference server (`wsbench serve`): /echo and /push.
func refServer(tb testing.TB) string {
	bin := serverBinary(tb, "WSF_WSBENCH_BIN", "..", "./cmd/wsbench")
	return startServer(tb, "ref", bin, "serve", "-addr", "127.0.0.1:0", "-stdin-eof-exit")
}

// tlsServer is bench/cmd/tlsecho over wss, with its self-signed certificate's pool.
func tlsServer(tb testing.TB) (string, *x509.CertPool) {
	bin := serverBinary(tb, "WSF_TLSECHO_BIN", ".", "./cmd/tlsecho")
	certFile := filepath.Join(os.TempDir(), fmt.Sprintf("wsfleet-bench-tlsecho-%d.pem", os.Getpid()))
	u := startServer(tb, "tls", bin, "-addr", "127.0.0.1:0", "-cert-out", certFile, "-stdin-eof-exit")
	pem, err := os.ReadFile(certFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		tb.Fatal("tlsecho: no certificate in " + certFile)
	}
	return u, pool
}

// deflateServer is bench/cmd/tlsecho over plain ws with permessage-deflate (context
// takeover allowed both ways; it follows whatever the client asks).
func deflateServer(tb testing.TB) string {
	bin := serverBinary(tb, "WSF_TLSECHO_BIN", ".", "./cmd/tlsecho")
	return startServer(tb, "deflate", bin, "-addr", "127.0.0.1:0", "-plain", "-deflate", "-stdin-eof-exit")
}

// ---- measurements ----

// memSnap is the process's memory at one moment, after a full collection with the freed
// pages returned to the OS (so that RSS reflects what is live).
type memSnap struct {
	heapStack uint64 // HeapInuse + StackInuse
	live      uint64 // HeapAlloc + StackInuse: the objects alone, without the free slots of their spans
	rss       uint64 // VmRSS
}

func snapMem() memSnap {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnap{heapStack: ms.HeapInuse + ms.StackInuse, live: ms.HeapAlloc + ms.StackInuse, rss: vmRSS()}
}

// perConn reports the memory delta per connection.
func (a memSnap) perConn(b memSnap, n int) (heap, rss float64) {
	return (float64(b.heapStack) - float64(a.heapStack)) / float64(n),
		(float64(b.rss) - float64(a.rss)) / float64(n)
}

// livePerConn is the growth of live objects (and stacks) per connection: B/conn-heap minus
// this is what partly used spans cost.
func (a memSnap) livePerConn(b memSnap, n int) float64 {
	return (float64(b.live) - float64(a.live)) / float64(n)
}

// vmRSS is VmRSS from /proc/self/status, in bytes.
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuSeconds is this process's user+system CPU time so far.
func cpuSeconds() float64 {
	u, s := cpuUserSys()
	return u + s
}

// contextSwitches is how many times this process's threads were switched out so far
// (voluntarily, to wait, or preempted): what hand-offs between threads cost shows here.
func contextSwitches() int64 {
	ru := rusage()
	return ru.Nvcsw + ru.Nivcsw
}

// cpuUserSys is this process's user and system CPU time so far, in seconds.
func cpuUserSys() (user, sys float64) {
	ru := rusage()
	return float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6, float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
}

// rusage is getrusage(RUSAGE_SELF); zero if the call fails.
func rusage() syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return syscall.Rusage{}
	}
	return ru
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// costMeter measures client CPU and allocations over a section of work.
type costMeter struct {
	cpu, sys float64
	allocs   uint64
	start    time.Time
}

func startCost() costMeter {
	u, s := cpuUserSys()
	return costMeter{cpu: u + s, sys: s, allocs: mallocs(), start: time.Now()}
}

// report adds msgs/s, cpu-s/1e6msg (of which sys-s/1e6msg in the kernel) and allocs/msg
// for msgs messages.
func (m costMeter) report(b *testing.B, msgs int64) {
	el := time.Since(m.start).Seconds()
	u, s := cpuUserSys()
	cpu, sys := u+s-m.cpu, s-m.sys
	al := mallocs() - m.allocs
	if msgs <= 0 {
		return
	}
	b.ReportMetric(float64(msgs)/el, "msgs/s")
	b.ReportMetric(cpu/float64(msgs)*1e6, "cpu-s/1e6msg")
	b.ReportMetric(sys/float64(msgs)*1e6, "sys-s/1e6msg")
	b.ReportMetric(float64(al)/float64(msgs), "allocs/msg")
}

// cpuProfile profiles the measured section of a benchmark into
// $WSF_CPUPROFILE_DIR/<name>.cpu.pprof when that variable is set (the last round of b.N
// overwrites the earlier ones); it returns the function that stops the profile.
func cpuProfile(b *testing.B) func() {
	dir := os.Getenv("WSF_CPUPROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	name := strings.NewReplacer("/", "_", "=", "-").Replace(b.Name())
	f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err != nil {
		b.Logf("cpu profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		b.Logf("cpu profile: %v", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// ---- latency histogram ----

// hist is a log-linear histogram of microseconds (32 sub-buckets per power of two, about
// 3% resolution), safe for concurrent use without allocation.
type hist struct {
	counts [64 + 48*32]atomic.Uint64
	n      atomic.Uint64
}

func histIndex(v uint64) int {
	if v < 64 {
		return int(v)
	}
	shift := bits.Len64(v) - 6 // v>>shift in [32, 63]
	i := 64 + (shift-1)*32 + int(v>>uint(shift)) - 32
	if i >= len(hist{}.counts) {
		i = len(hist{}.counts) - 1
	}
	return i
}

// histValue is the upper bound of bucket i.
func histValue(i int) uint64 {
	if i < 64 {
		return uint64(i)
	}
	shift := (i-64)/32 + 1
	m := uint64((i-64)%32 + 32)
	return (m+1)<<uint(shift) - 1
}

func (h *hist) record(us int64) {
	if us < 0 {
		us = 0
	}
	h.counts[histIndex(uint64(us))].Add(1)
	h.n.Add(1)
}

func (h *hist) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.n.Store(0)
}

// quantile returns the q-quantile in microseconds.
func (h *hist) quantile(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n) + 0.5)
	if want < 1 {
		want = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= want {
			return float64(histValue(i))
		}
	}
	return float64(histValue(len(h.counts) - 1))
}

// ---- dialing many ----

// dialMany dials n connections with `workers` concurrent dialers and returns them in order.
// It stops at the first error and returns what it has with that error.
func dialMany(ctx context.Context, n, workers int, dial func(i int) (wsConn, error)) ([]wsConn, error) {
	conns := make([]wsConn, n)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for firstErr.Load() == nil && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := dial(i)
				if err != nil {
					err = fmt.Errorf("dial %d: %w", i, err)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		var got []wsConn
		for _, c := range conns {
			if c != nil {
				got = append(got, c)
			}
		}
		return got, *p
	}
	return conns, ctx.Err()
}

// closeMany closes connections with a few goroutines (a graceful close waits a round trip).
func closeMany(conns []wsConn) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				if conns[i] != nil {
					_ = conns[i].close()
				}
			}
		}()
	}
	wg.Wait()
}

// envInt reads an integer from the environment, with a default.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// settle waits for goroutines started by dials and closes to finish their work.
func settle(d time.Duration) {
	time.Sleep(d)
	runtime.GC()
}
