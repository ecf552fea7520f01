package faulttest

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Plan is one fault round: a fleet of connections, a server, a fault, and what to wait for.
type Plan struct {
	Fault  string // name in the results: "blackhole", "latency", ...
	Server string // "reference" or "python-websockets"
	Spec   GroupSpec
	Procs  int // worker processes (0 or 1: the connections live in this process)

	Toxics []Toxic // injected through toxiproxy at the fault's start (none: a server fault)

	Settle        time.Duration // traffic before the fault
	Hold          time.Duration // faults that end nothing: how long traffic runs under them
	ExpectClose   bool          // the fault ends every connection's epoch
	ClearOnClosed bool          // remove the toxics once every connection saw its loss
	ExpectReopen  bool          // every connection comes back
	KillServer    bool          // the fault is SIGKILL to the server process
	RestartAfter  time.Duration // then a new server on the same port this long after the kill
	ExpectFinal   bool          // every connection gives up (MaxAttempts) instead of coming back
	Note          string        // the fault's settings, for the results
}

// Result is what one round measured, as written to bench/results and docs/robustness.md.
type Result struct {
	Fault, Server, Note string
	Conns, Procs        int
	When                string
	Load                [2]float64 // the machine's 1-minute load average at the round's start and end
	Verdict             string     // "pass" or "fail": whether the test's checks held (the log says which failed)
	Wall                float64    // seconds the round took

	Detect    Percentiles // fault start to each connection's OnClose, ms
	Quiet     Percentiles // each connection's last traffic received to its OnClose, ms (what keepalive bounds)
	InjectMs  float64     // how long toxiproxy took to put the fault in place (its API calls)
	Reconnect Percentiles // each connection's OnClose to its next OnOpen, ms
	Back      Percentiles // fault cleared (server restarted, toxic removed) to OnOpen, ms
	RTT       Percentiles // echo round trips, ms
	DrainMs   float64     // from the senders' stop to every accepted message echoed (or the wait given up), ms

	HandshakePeak, HandshakeMean float64 // per 100 ms over the reconnection window
	HandshakeWindow              float64 // ms from the first to the last reconnection handshake
	HandshakeBuckets             []int64 // handshakes in each 100 ms of the window
	ReopenBuckets                []int64 // the same seen by the clients: OnOpen after the loss, per 100 ms from the first

	Sent, Received, Attributed, Silent int
	Reordered, Corrupt, BackedUp       int
	ServerMessagesIn                   int64 // the reference server's own count, when it ran to the end

	// Per connection, over the whole round.
	ClosesPerConn     map[string]int // "1": connections that saw exactly one loss, ...
	ErrorClasses      map[string]int // class of each loss → count
	ErrorSamples      []string       // distinct error texts (up to 5)
	OwnerReconnecting map[string]int // owned connections by count of Reconnecting events
	OwnerReconnected  map[string]int
	OwnerFinal        map[string]int
	Finals            map[string]int // connections that ended for good, by final error class

	HeapBefore, HeapPeak, HeapAfter uint64 // the clients' process (the first one, when split)
	Leaks                           []string
	Stalls                          []string `json:",omitempty"` // connections that never drained, with their socket queues

	// Wsbench holds what wsbench (loadtest.Run) reported, for the rounds that drive the fault
	// with it instead of the test's own fleet.
	Wsbench *WsbenchFigures `json:",omitempty"`
}

// WsbenchFigures are the parts of a wsbench report that a fault round checks.
type WsbenchFigures struct {
	Command                            string // the equivalent wsbench command line
	LatencyP50, LatencyP99, LatencyMax float64
	Sent, Received, Lost               int64
	Dropped, Reconnects, DownAtEnd     int64
	DisconnectedP50, DisconnectedP99   float64 // per dropped connection, ms
	DisconnectedMax                    float64
	LostInGaps                         int64
	Outages                            int // spans of the series with connections down
}

// Run carries out a plan. It returns the result and the raw reports for the test's checks.
func Run(p Plan) (*Result, []*GroupReport, error) {
	start := time.Now()
	base := TakeSnapshot()
	res := &Result{Fault: p.Fault, Server: p.Server, Note: p.Note, Conns: p.Spec.Conns, Procs: max(1, p.Procs), When: start.UTC().Format(time.RFC3339)}
	res.Load[0] = loadAvg()

	peer, err := startServer(p.Server, "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if peer != nil {
			peer.Stop()
		}
	}()

	// One toxiproxy per process of clients: a proxied connection costs toxiproxy two
	// descriptors, so 10,000 of them would not fit in one process.
	procs := max(1, p.Procs)
	urls := make([]string, procs)
	var proxies []*Toxiproxy
	defer func() {
		for _, tp := range proxies {
			_ = tp.Close()
		}
	}()
	for i := range urls {
		urls[i] = peer.URL
		if p.Toxics == nil {
			continue
		}
		bin, err := ToxiproxyBinary()
		if err != nil {
			return nil, nil, err
		}
		tp, err := StartToxiproxy(bin)
		if err != nil {
			return nil, nil, err
		}
		proxies = append(proxies, tp)
		listen, err := tp.Proxy("ws", peer.Addr)
		if err != nil {
			return nil, nil, err
		}
		urls[i] = "ws://" + listen
		for _, x := range p.Toxics {
			if x.Dormant {
				if err := tp.AddToxic("ws", x); err != nil {
					return nil, nil, err
				}
			}
		}
	}

	fleets, err := startFleets(p, urls)
	if err != nil {
		return nil, nil, err
	}
	if err := each(fleets, Fleet.Open); err != nil {
		finish(fleets)
		return nil, nil, err
	}
	_ = each(fleets, func(f Fleet) error { f.StartTraffic(); return nil })
	time.Sleep(p.Settle)

	faultAt := time.Now()
	if p.KillServer {
		peer.Kill()
		peer = nil
	} else {
		err = toxiAll(proxies, func(tp *Toxiproxy) error {
			for _, x := range p.Toxics {
				arm := tp.AddToxic
				if x.Dormant {
					arm = func(proxy string, x Toxic) error { return tp.Arm(proxy, x.Name) }
				}
				if err := arm("ws", x); err != nil {
					return err
				}
			}
			return nil
		})
	}
	res.InjectMs = float64(time.Since(faultAt).Microseconds()) / 1000
	clearedAt := faultAt
	var hsPeer *Peer
	if err == nil && p.ExpectClose {
		waitAll(fleets, WaitFor{Kind: "closed", Since: faultAt.UnixNano()}, 90*time.Second)
	}
	if err == nil && p.KillServer && p.RestartAfter > 0 {
		time.Sleep(time.Until(faultAt.Add(p.RestartAfter)))
		addr := urls[0][len("ws://"):]
		for try := 0; ; try++ { // the old port may take a moment to be free again
			clearedAt = time.Now()
			if peer, err = startServer(p.Server, addr); err == nil || try == 50 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		hsPeer = peer
	}
	if err == nil && p.ClearOnClosed {
		clearedAt = time.Now()
		err = toxiAll(proxies, func(tp *Toxiproxy) error { return removeToxics(tp, p.Toxics) })
	}
	if err == nil && p.ExpectReopen {
		waitAll(fleets, WaitFor{Kind: "reopened", Since: faultAt.UnixNano()}, 120*time.Second)
	}
	if err == nil && p.ExpectFinal {
		waitAll(fleets, WaitFor{Kind: "final"}, 120*time.Second)
	}
	if err == nil && p.Hold > 0 {
		time.Sleep(p.Hold)
		err = toxiAll(proxies, func(tp *Toxiproxy) error { return removeToxics(tp, p.Toxics) })
	}
	_ = each(fleets, func(f Fleet) error { f.StopTraffic(); return nil })
	if err == nil && !p.ExpectFinal {
		drainFrom := time.Now()
		waitAll(fleets, WaitFor{Kind: "drained"}, 30*time.Second)
		res.DrainMs = float64(time.Since(drainFrom).Microseconds()) / 1e3
	}
	reports, ferr := finish(fleets)
	err = firstErr(err, ferr)
	if peer != nil {
		peer.Stop()
		res.ServerMessagesIn = peer.MessagesIn()
		peer = nil
	}
	for _, tp := range proxies {
		_ = tp.Close()
	}
	proxies = nil
	if err != nil {
		return nil, reports, err
	}

	res.summarise(reports, faultAt, clearedAt, p.ExpectClose || p.KillServer)
	if hsPeer != nil {
		res.handshakeRate(hsPeer.Handshakes(), p.Spec.Conns)
	}
	lc := CheckBack(base, 30*time.Second)
	res.HeapBefore, res.HeapAfter = base.Heap, lc.After.Heap
	if len(reports) > 0 {
		res.HeapPeak = reports[0].HeapPeak
	}
	if lc.Problem != "" {
		res.Leaks = append(res.Leaks, "test process: "+lc.Problem)
	}
	for i, r := range reports {
		if r.Leaks != nil && r.Leaks.Problem != "" {
			res.Leaks = append(res.Leaks, fmt.Sprintf("worker %d: %s", i, r.Leaks.Problem))
		}
		if r.Leaks != nil && i == 0 {
			res.HeapBefore, res.HeapAfter = r.Leaks.Before.Heap, r.Leaks.After.Heap
		}
	}
	res.Wall = time.Since(start).Seconds()
	res.Load[1] = loadAvg()
	return res, reports, nil
}

// loadAvg is the 1-minute load average (0 when unknown): the rounds share the machine.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var la float64
	_, _ = fmt.Sscan(string(b), &la)
	return la
}

func startServer(kind, addr string) (*Peer, error) {
	if kind == "python-websockets" {
		port := 0
		if _, p, err := splitPort(addr); err == nil {
			port = p
		}
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		return StartPythonServer(port)
	}
	return StartRefServer(addr)
}

func splitPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("no port in %q", addr)
	}
	p, err := strconv.Atoi(addr[i+1:])
	return addr[:i], p, err
}

func startFleets(p Plan, urls []string) ([]Fleet, error) {
	procs := max(1, p.Procs)
	if procs == 1 && p.Procs <= 1 {
		spec := p.Spec
		spec.URL = urls[0]
		g, err := NewGroup(spec)
		if err != nil {
			return nil, err
		}
		return []Fleet{LocalFleet{g}}, nil
	}
	var fleets []Fleet
	per := (p.Spec.Conns + procs - 1) / procs
	for i := 0; i < procs; i++ {
		spec := p.Spec
		spec.URL = urls[i]
		spec.FirstID = i * per
		spec.Conns = min(per, p.Spec.Conns-i*per)
		w, err := StartWorker(spec)
		if err != nil {
			finish(fleets)
			return nil, err
		}
		fleets = append(fleets, w)
	}
	return fleets, nil
}

// parallel runs fn on every item at once and returns the first error (in item order).
func parallel[T any](items []T, fn func(i int, x T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, x := range items {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(i, x) }()
	}
	wg.Wait()
	var err error
	for _, e := range errs {
		err = firstErr(err, e)
	}
	return err
}

func each(fleets []Fleet, fn func(Fleet) error) error {
	return parallel(fleets, func(_ int, f Fleet) error { return fn(f) })
}

func waitAll(fleets []Fleet, w WaitFor, timeout time.Duration) {
	_ = each(fleets, func(f Fleet) error { f.Wait(w, timeout); return nil })
}

func finish(fleets []Fleet) ([]*GroupReport, error) {
	reports := make([]*GroupReport, len(fleets))
	err := parallel(fleets, func(i int, f Fleet) (err error) {
		reports[i], err = f.Finish()
		return err
	})
	return reports, err
}

func toxiAll(proxies []*Toxiproxy, fn func(*Toxiproxy) error) error {
	return parallel(proxies, func(_ int, tp *Toxiproxy) error { return fn(tp) })
}

func removeToxics(tp *Toxiproxy, xs []Toxic) error {
	for _, x := range xs {
		if err := tp.RemoveToxic("ws", x.Name); err != nil {
			return err
		}
	}
	return nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// summarise folds the connections' ledgers into the result.
func (r *Result) summarise(reports []*GroupReport, faultAt, clearedAt time.Time, faulted bool) {
	r.ClosesPerConn, r.ErrorClasses, r.Finals = map[string]int{}, map[string]int{}, map[string]int{}
	r.OwnerReconnecting, r.OwnerReconnected, r.OwnerFinal = map[string]int{}, map[string]int{}, map[string]int{}
	var detect, quiet, reconnect, back, rtt []float64
	var reopened []int64
	seen := map[string]bool{}
	f0, c0 := faultAt.UnixNano(), clearedAt.UnixNano()
	for _, g := range reports {
		if g == nil {
			continue
		}
		rtt = append(rtt, g.RTTms...)
		r.Stalls = append(r.Stalls, g.Stalls...)
		for _, c := range g.Conns {
			r.Sent += c.Sent
			r.Received += c.Received
			r.Attributed += c.Attributed
			r.Silent += c.Silent
			r.Reordered += c.Reordered
			r.Corrupt += c.Corrupt
			r.BackedUp += c.BackedUp
			losses := 0
			for i, cl := range c.Closes {
				if cl.Class == ClassLocal {
					continue
				}
				losses++
				r.ErrorClasses[cl.Class]++
				if !seen[cl.Err] && len(r.ErrorSamples) < 5 {
					seen[cl.Err] = true
					r.ErrorSamples = append(r.ErrorSamples, cl.Err)
				}
				if faulted && cl.At >= f0 && losses == 1 {
					detect = append(detect, float64(cl.At-f0)/1e6)
					quiet = append(quiet, float64(cl.Quiet)/1e6)
					if i+1 < len(c.Opens) {
						reconnect = append(reconnect, float64(c.Opens[i+1]-cl.At)/1e6)
						back = append(back, float64(max(0, c.Opens[i+1]-c0))/1e6)
						reopened = append(reopened, c.Opens[i+1])
					}
				}
			}
			r.ClosesPerConn[strconv.Itoa(losses)]++
			if c.Owned {
				r.OwnerReconnecting[strconv.Itoa(c.OwnerReconnecting)]++
				r.OwnerReconnected[strconv.Itoa(c.OwnerReconnected)]++
				r.OwnerFinal[strconv.Itoa(c.OwnerFinal)]++
			}
			if c.Final != "" && len(c.Closes) > 0 && c.Closes[len(c.Closes)-1].Class != ClassLocal {
				r.Finals[c.Closes[len(c.Closes)-1].Class]++
			}
		}
	}
	r.Detect, r.Quiet, r.Reconnect, r.Back, r.RTT = percentilesOf(detect), percentilesOf(quiet), percentilesOf(reconnect), percentilesOf(back), percentilesOf(rtt)
	if len(reopened) > 0 {
		slices.Sort(reopened)
		r.ReopenBuckets = make([]int64, (reopened[len(reopened)-1]-reopened[0])/1e8+1)
		for _, at := range reopened {
			r.ReopenBuckets[(at-reopened[0])/1e8]++
		}
	}
}

// handshakeRate finds the reconnection window in the new server's upgrade counts (from its
// first upgrade to the one that brought the count to conns) and the peak and mean
// handshakes per 100 ms over it.
func (r *Result) handshakeRate(s []HandshakeSample, conns int) {
	if len(s) == 0 {
		return
	}
	t0 := s[0].At - 5e6 // the first sample may hold upgrades of the 5 ms before it
	end := s[len(s)-1]
	for _, x := range s {
		if x.N >= int64(conns) {
			end = x
			break
		}
	}
	buckets := make([]int64, (end.At-t0)/1e8+1)
	var prev int64
	for _, x := range s {
		if x.At > end.At {
			break
		}
		buckets[(x.At-t0)/1e8] += x.N - prev
		prev = x.N
	}
	var peak int64
	for _, b := range buckets {
		peak = max(peak, b)
	}
	r.HandshakeBuckets = buckets
	r.HandshakePeak = float64(peak)
	r.HandshakeMean = float64(end.N) / float64(len(buckets))
	r.HandshakeWindow = float64(end.At-t0) / 1e6
}

// Append adds the result as one JSON line to path (bench/results/faults-*.jsonl).
func (r *Result) Append(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return firstErr(err, f.Close())
}

// ReadResults reads the JSON lines Append wrote, in order.
func ReadResults(path string) ([]*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*Result
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		r := new(Result)
		if err := json.Unmarshal([]byte(line), r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}
