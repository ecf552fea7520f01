package faulttest

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// GroupSpec describes a group of client connections in one process. It travels as JSON to
// worker processes, so the 10,000-connection runs split the fleet over processes.
type GroupSpec struct {
	URL     string
	FirstID int // connection ids are FirstID..FirstID+Conns-1
	Conns   int

	Payload    int           // bytes per message (at least the 20-byte stamp)
	VarySize   bool          // sizes spread over [20, Payload]
	Interval   time.Duration // paced traffic: one message per connection per Interval (TrySend)
	Flood      bool          // instead: every connection sends as fast as it is let
	FloodWait  bool          // flood with SendContext (waits for room) on even ids, TrySend on odd
	OwnerShare int           // every OwnerShare-th connection uses an owner channel (0: none)

	PingInterval    time.Duration
	PongTimeout     time.Duration
	ConnectTimeout  time.Duration
	MaxPendingBytes int
	Reconnect       *engine.ReconnectPolicy
}

// Group is a fleet of connections on one engine, with a ledger per connection.
type Group struct {
	spec   GroupSpec
	eng    *engine.Engine
	states []*connState
	owner  chan engine.Event
	rtt    *sampler
	heap   heapWatch

	ownerQuit   chan struct{}
	ownerDone   chan struct{}
	trafficStop chan struct{}
	trafficWG   sync.WaitGroup
	stalls      []string // connections that did not drain in time, and where their bytes were
}

// NewGroup starts an engine for spec; Open dials.
func NewGroup(spec GroupSpec) (*Group, error) {
	if spec.Payload < stampLen {
		spec.Payload = stampLen
	}
	eng, err := engine.New(engine.Options{})
	if err != nil {
		return nil, err
	}
	g := &Group{spec: spec, eng: eng, rtt: newSampler(50000), ownerQuit: make(chan struct{}), ownerDone: make(chan struct{})}
	g.heap.start()
	g.states = make([]*connState, spec.Conns)
	for i := range g.states {
		g.states[i] = newConnState(uint32(spec.FirstID + i))
		g.states[i].owned = spec.OwnerShare > 0 && i%spec.OwnerShare == spec.OwnerShare-1
	}
	// A full owner channel loses reconnect notices, so it has room for every connection's.
	g.owner = make(chan engine.Event, 4*spec.Conns+1024)
	go g.readOwner()
	return g, nil
}

func (g *Group) size(seq uint64) int { return messageSize(seq, g.spec.Payload, g.spec.VarySize) }

// Open dials every connection, 256 at a time, and fails if any dial fails.
func (g *Group) Open(ctx context.Context) error {
	handler := &ledgerHandler{g: g}
	base := engine.DialOptions{
		PingInterval:    g.spec.PingInterval,
		PongTimeout:     g.spec.PongTimeout,
		ConnectTimeout:  g.spec.ConnectTimeout,
		MaxPendingBytes: g.spec.MaxPendingBytes,
		Reconnect:       g.spec.Reconnect,
	}
	withHandler, withOwner := base, base
	withHandler.Handler = handler
	withOwner.Mode, withOwner.Owner = engine.Active, g.owner
	withOwner.DeliverControl = true // pongs too, for the time of the last traffic
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 256)
		first atomic.Pointer[error]
	)
	for _, st := range g.states {
		wg.Add(1)
		sem <- struct{}{}
		go func(st *connState) {
			defer func() { <-sem; wg.Done() }()
			o := withHandler
			if st.owned {
				o = withOwner
			}
			o.Value = st
			c, err := g.eng.Dial(ctx, g.spec.URL, &o)
			if err != nil {
				err = fmt.Errorf("connection %d: %w", st.id, err)
				first.CompareAndSwap(nil, &err)
				return
			}
			st.mu.Lock()
			st.conn = c
			st.mu.Unlock()
			if st.owned {
				st.opened() // a Handler's OnOpen has no owner-channel counterpart for the first open
			}
		}(st)
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		return *p
	}
	return nil
}

// ledgerHandler feeds Handler callbacks into the ledgers.
type ledgerHandler struct{ g *Group }

func (h *ledgerHandler) OnOpen(c *engine.Conn) { c.Value().(*connState).opened() }
func (h *ledgerHandler) OnMessage(c *engine.Conn, _ engine.MessageType, data []byte) {
	c.Value().(*connState).receive(data, h.g.size, h.g.rtt)
}
func (h *ledgerHandler) OnClose(c *engine.Conn, err error) { c.Value().(*connState).closed(err) }
func (h *ledgerHandler) OnPong(c *engine.Conn, _ []byte)   { c.Value().(*connState).touch() }

// readOwner feeds owner-channel events into the ledgers of the owned connections.
func (g *Group) readOwner() {
	defer close(g.ownerDone)
	for {
		select {
		case ev := <-g.owner:
			g.ownerEvent(ev)
		case <-g.ownerQuit:
			for {
				select {
				case ev := <-g.owner:
					g.ownerEvent(ev)
				default:
					return
				}
			}
		}
	}
}

func (g *Group) ownerEvent(ev engine.Event) {
	st := ev.Conn.Value().(*connState)
	switch {
	case ev.Reconnected:
		st.mu.Lock()
		st.ownerReconnected++
		st.mu.Unlock()
		st.opened()
	case ev.Err != nil:
		st.mu.Lock()
		if ev.Reconnecting {
			st.ownerReconnecting++
		} else {
			st.ownerFinal++
			st.final = ev.Err.Error()
		}
		st.mu.Unlock()
		st.closed(ev.Err)
	case ev.Message.Type == engine.Ping || ev.Message.Type == engine.Pong:
		st.touch()
		ev.Message.Release()
	default:
		st.receive(ev.Message.Data, g.size, g.rtt)
		ev.Message.Release()
	}
}

var errNotOpen = errors.New("faulttest: connection not open")

// sendOne sends the connection's next stamped message and records it if accepted.
func (g *Group) sendOne(ctx context.Context, st *connState, buf []byte, wait bool) ([]byte, error) {
	st.mu.Lock()
	c, open, seq := st.conn, st.open, uint64(len(st.sentEpoch))
	st.mu.Unlock()
	if !open || c == nil {
		return buf, errNotOpen
	}
	buf = append(buf[:0], make([]byte, g.size(seq))...)
	fillStamp(buf, st.id, seq)
	var err error
	if wait {
		err = c.SendContext(ctx, engine.Binary, buf)
	} else {
		err = c.TrySend(engine.Binary, buf)
	}
	switch {
	case err == nil:
		st.accepted()
	case errors.Is(err, engine.ErrBackedUp):
		st.mu.Lock()
		st.backedUp++
		st.mu.Unlock()
	default:
		st.mu.Lock()
		st.sendErrs++
		st.mu.Unlock()
	}
	return buf, err
}

// StartTraffic starts the spec's traffic: paced from one goroutine, or a flood per connection.
func (g *Group) StartTraffic() {
	g.trafficStop = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-g.trafficStop; cancel() }()
	if g.spec.Flood {
		for i, st := range g.states {
			wait := g.spec.FloodWait && i%2 == 0
			g.trafficWG.Add(1)
			go g.flood(ctx, st, wait)
		}
		return
	}
	if g.spec.Interval <= 0 {
		return
	}
	g.trafficWG.Add(1)
	go g.paced(ctx)
}

// paced sends each connection one message per Interval, spread over 10 ms steps.
func (g *Group) paced(ctx context.Context) {
	defer g.trafficWG.Done()
	steps := max(1, int(g.spec.Interval/(10*time.Millisecond)))
	t := time.NewTicker(g.spec.Interval / time.Duration(steps))
	defer t.Stop()
	var buf []byte
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i := k % steps; i < len(g.states); i += steps {
			buf, _ = g.sendOne(ctx, g.states[i], buf, false)
		}
	}
}

// flood sends as fast as the connection lets it: SendContext waits for room, TrySend fails
// with ErrBackedUp (and the sender backs off 5 ms).
func (g *Group) flood(ctx context.Context, st *connState, wait bool) {
	defer g.trafficWG.Done()
	var buf []byte
	for ctx.Err() == nil {
		var err error
		buf, err = g.sendOne(ctx, st, buf, wait)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// StopTraffic stops the senders and waits for them.
func (g *Group) StopTraffic() {
	if g.trafficStop != nil {
		close(g.trafficStop)
		g.trafficWG.Wait()
		g.trafficStop = nil
	}
}

// WaitFor is a condition every connection of a group is waited for.
type WaitFor struct {
	Kind  string // "closed": an epoch ended since Since; "reopened": opened after closing since Since; "drained": every accepted message of the open epoch echoed; "final": the connection ended for good
	Since int64  // Unix ns
}

func (st *connState) meets(w WaitFor) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch w.Kind {
	case "closed":
		return len(st.closes) > 0 && st.closes[len(st.closes)-1].At >= w.Since
	case "reopened":
		return st.open && len(st.closes) > 0 && st.closes[len(st.closes)-1].At >= w.Since
	case "drained":
		if !st.open {
			return true
		}
		for seq := len(st.sentEpoch) - 1; seq >= 0 && int(st.sentEpoch[seq]) == st.epoch; seq-- {
			if w := seq / 64; w >= len(st.got) || st.got[w]&(1<<(seq%64)) == 0 {
				return false
			}
		}
		return true
	case "final":
		return st.conn != nil && st.conn.Err() != nil
	}
	return false
}

// Wait polls until every connection meets w or timeout passes; it returns how many do.
// Waiting for "drained" gives up only after timeout without any echo arriving (at most
// drainCap × timeout in all): a link that is slow to recover still delivers, and closing it
// then would turn slowness into losses. Recovery can take a minute on this kernel: TCP's BBR
// (the default congestion control here) keeps pacing a socket at the rate it learned under a
// bandwidth toxic, about 40 KB/s, well after the toxic is gone, and a send queue of several
// MiB then drains for tens of seconds (docs/robustness.md, bandwidth).
func (g *Group) Wait(w WaitFor, timeout time.Duration) int {
	start := time.Now()
	deadline := start.Add(timeout)
	echoed := -1
	for {
		n, got := 0, 0
		for _, st := range g.states {
			if st.meets(w) {
				n++
			}
			if w.Kind == "drained" {
				st.mu.Lock()
				got += st.received
				st.mu.Unlock()
			}
		}
		if n == len(g.states) {
			return n
		}
		now := time.Now()
		if w.Kind == "drained" && got != echoed {
			echoed = got
			deadline = now.Add(timeout)
			if hard := start.Add(drainCap * timeout); deadline.After(hard) {
				deadline = hard
			}
		}
		if now.After(deadline) {
			if w.Kind == "drained" {
				g.stalls = g.describeStalls()
			}
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drainCap bounds a drain that keeps making progress, in multiples of its idle timeout.
const drainCap = 8

// Close closes every connection (50 at a time, each waiting for the close handshake) and the
// engine, then waits for the owner reader.
func (g *Group) Close() {
	g.StopTraffic()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for _, st := range g.states {
		st.mu.Lock()
		c := st.conn
		st.mu.Unlock()
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_ = c.Close()
		}()
	}
	wg.Wait()
	_ = g.eng.Close()
	// Every connection has ended: the reader takes what is queued and stops.
	close(g.ownerQuit)
	<-g.ownerDone
	g.heap.stop()
}

// Report is the group's ledger and figures; call it after Close.
func (g *Group) Report() *GroupReport {
	r := &GroupReport{RTTms: g.rtt.millis(), HeapBefore: g.heap.before, HeapPeak: g.heap.peak.Load(), Stats: g.eng.Stats(), Stalls: g.stalls}
	for _, st := range g.states {
		cr := ConnReport{ID: int(st.id)}
		cr.Sent, cr.Received, cr.Attributed, cr.Silent = st.reconcile()
		st.mu.Lock()
		cr.Opens, cr.Closes = st.opens, st.closes
		cr.Reordered, cr.Corrupt, cr.BackedUp, cr.SendErrs = st.reordered, st.corrupt, st.backedUp, st.sendErrs
		cr.Owned = st.owned
		cr.OwnerReconnecting, cr.OwnerReconnected, cr.OwnerFinal = st.ownerReconnecting, st.ownerReconnected, st.ownerFinal
		cr.Final = st.final
		if st.conn != nil && cr.Final == "" {
			cr.Final = errString(st.conn.Err())
		}
		st.mu.Unlock()
		r.Conns = append(r.Conns, cr)
	}
	return r
}

// GroupReport is what a group measured.
type GroupReport struct {
	Conns      []ConnReport
	RTTms      []float64 // a sample of the round trips of echoed messages, ms
	HeapBefore uint64    // live heap before the engine started
	HeapPeak   uint64    // highest live heap (as of each GC) sampled every 50 ms while the group ran
	Stats      engine.Stats
	Leaks      *LeakCheck `json:",omitempty"` // a worker process's own check after Close
	Stalls     []string   `json:",omitempty"` // connections that had not drained when the round gave up waiting (stalls.go)
}

// ConnReport is one connection's ledger.
type ConnReport struct {
	ID                                              int
	Owned                                           bool
	Opens                                           []int64
	Closes                                          []closeRec
	Sent, Received, Attributed, Silent              int
	Reordered, Corrupt, BackedUp, SendErrs          int
	OwnerReconnecting, OwnerReconnected, OwnerFinal int
	Final                                           string
}

// heapWatch samples the live heap every 50 ms and keeps the peak.
type heapWatch struct {
	before uint64
	peak   atomic.Uint64
	quit   chan struct{}
	done   chan struct{}
}

func (h *heapWatch) start() {
	h.before = heapLive()
	h.peak.Store(h.before)
	h.quit, h.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.quit:
				return
			case <-t.C:
				if v := heapLive(); v > h.peak.Load() {
					h.peak.Store(v)
				}
			}
		}
	}()
}

func (h *heapWatch) stop() { close(h.quit); <-h.done }

// heapLive is the heap marked live by the last GC (runtime/metrics /gc/heap/live:bytes):
// what the process holds, without the garbage that HeapInuse also counts between GCs.
func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampler keeps up to max values (Unix ns differences), by reservoir sampling beyond that.
type sampler struct {
	mu  sync.Mutex
	max int
	n   int
	v   []int64
	rng uint64
}

func newSampler(max int) *sampler { return &sampler{max: max, rng: 0x9e3779b97f4a7c15} }

func (s *sampler) add(v int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if len(s.v) < s.max {
		s.v = append(s.v, v)
		return
	}
	s.rng ^= s.rng << 13
	s.rng ^= s.rng >> 7
	s.rng ^= s.rng << 17
	if j := int(s.rng % uint64(s.n)); j < s.max {
		s.v[j] = v
	}
}

func (s *sampler) millis() []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make([]float64, len(s.v))
	for i, v := range s.v {
		ms[i] = float64(v) / 1e6
	}
	return ms
}

// Percentiles summarise a sample (milliseconds unless said otherwise).
type Percentiles struct {
	N             int
	P50, P99, Max float64
}

func percentilesOf(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	sort.Float64s(v)
	at := func(q float64) float64 { return v[min(len(v)-1, int(q*float64(len(v))))] }
	return Percentiles{N: len(v), P50: at(0.50), P99: at(0.99), Max: v[len(v)-1]}
}
