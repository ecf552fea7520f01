package engine

import (
	"context"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine/internal/transport"
)

// Engine multiplexes many client connections over a few gnet event loops. It is safe for
// concurrent use. Most programs need one; engine.Dial uses a lazily started default.
type Engine struct {
	opts    Options
	client  *gnet.Client
	dialSem chan struct{}
	clock   *transport.Clock // ticks, advanced by the ticker

	mu         sync.Mutex
	loops      []*loop
	tloops     []*transport.Loop[*session] // the same loops, as the ticker walks them
	conns      []*Conn                     // every live Conn, each at its regIdx (a map costs 3× the memory)
	lastURL    *url.URL                    // the last URL dialed, shared by the connections dialed with it
	lastURLRaw string
	lastHeader string       // the last 101 header lines kept, shared by connections that got the same
	nilOpts    *DialOptions // the options of a Dial given nil, resolved once
	tlsCache   tlsShared    // the last TLS config cloned for a dial, shared by the next dials with it
	closed     atomic.Bool
	reach      reachState // DNS cache and proxy TLS config (resolver.go, proxy_http.go)

	stopTicker chan struct{}
	tickerDone chan struct{}

	stats engineCounters
}

// New starts an engine with its event loops.
func New(o Options) (*Engine, error) {
	e := newEngine(o)
	client, err := transport.NewClient(&eventHandler{eng: e}, transport.ClientOptions{Loops: o.Loops, ReadBufferCap: o.ReadBufferCap, WriteBufferCap: o.WriteBufferCap})
	if err != nil {
		return nil, err
	}
	e.client = client
	go transport.RunTicker(e.clock, e.transportLoops, e.stopTicker, e.tickerDone)
	return e, nil
}

// newEngine makes an engine's state without its event loops, which New then starts. Sessions
// can run on it without a socket: the protocol's fuzz targets drive them so.
func newEngine(o Options) *Engine {
	if o.Loops <= 0 {
		o.Loops = runtime.GOMAXPROCS(0)
	}
	if o.DialConcurrency <= 0 {
		o.DialConcurrency = DefaultDialConcurrency
	}
	return &Engine{
		opts:       o,
		dialSem:    make(chan struct{}, o.DialConcurrency),
		clock:      transport.NewClock(),
		stopTicker: make(chan struct{}),
		tickerDone: make(chan struct{}),
	}
}

var (
	defaultOnce   sync.Once
	defaultEngine *Engine
	defaultErr    error
)

// Default returns the process-wide engine behind engine.Dial, starting it on first use.
func Default() (*Engine, error) {
	defaultOnce.Do(func() { defaultEngine, defaultErr = New(Options{}) })
	return defaultEngine, defaultErr
}

// Dial connects on the default engine; see Engine.Dial.
func Dial(ctx context.Context, url string, o *DialOptions) (*Conn, error) {
	e, err := Default()
	if err != nil {
		return nil, err
	}
	return e.Dial(ctx, url, o)
}

// Close closes every connection (CloseGoingAway, waiting at most a second for the close
// handshakes), then stops the loops and reports an error only if gnet could not stop them.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	e.mu.Lock()
	conns := append([]*Conn(nil), e.conns...)
	e.mu.Unlock()
	for _, c := range conns {
		c.stopReconnecting()
		c.startClose(codec.CloseGoingAway, "engine closing")
	}
	deadline := time.Now().Add(time.Second)
	for _, c := range conns {
		c.waitDone(time.Until(deadline))
	}
	close(e.stopTicker)
	<-e.tickerDone
	return e.client.Stop()
}

func (e *Engine) register(c *Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return false
	}
	c.regIdx = int32(len(e.conns))
	e.conns = append(e.conns, c)
	return true
}

func (e *Engine) unregister(c *Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := c.regIdx
	if i < 0 || int(i) >= len(e.conns) || e.conns[i] != c {
		return // not registered (any more)
	}
	last := len(e.conns) - 1
	e.conns[i] = e.conns[last]
	e.conns[i].regIdx = i
	e.conns[last] = nil
	e.conns = e.conns[:last]
	c.regIdx = -1
	if cap(e.conns) > 1024 && len(e.conns) < cap(e.conns)/4 {
		e.conns = append([]*Conn(nil), e.conns...) // give back what a past peak left
	}
}

// tickAt is the first tick at or after t, so a deadline never fires early.
func (e *Engine) tickAt(t time.Time) int64 { return e.clock.TickAt(t) }

// now is the coarse clock in ticks; timers and idle tracking use it instead of time.Now.
func (e *Engine) now() int64 { return e.clock.Now() }
