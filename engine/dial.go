package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine/internal/transport"
	"github.com/wsfleet/wsfleet/pool"
)

var parserPool = sync.Pool{New: func() any { return new(codec.ResponseParser) }}

// Dial opens a WebSocket connection. It returns once the server accepted the upgrade, or
// with the reason it did not: a *HandshakeError, an error for which errors.Is(err,
// ErrTimeout) holds, or the network's error. o may be nil; Dial keeps its own copy of *o.
// To dial many connections with the same options, use a Dialer.
func (e *Engine) Dial(ctx context.Context, rawURL string, o *DialOptions) (*Conn, error) {
	if e.closed.Load() {
		return nil, ErrEngineClosed
	}
	var opts *DialOptions
	if o == nil {
		opts = e.defaultOptions()
	} else {
		var err error
		if opts, err = e.resolve(o); err != nil {
			return nil, err
		}
	}
	return e.dial(ctx, rawURL, opts, opts.Value)
}

// A Dialer dials connections that share one copy of their options, checked and completed
// with the defaults once: a fleet of connections dialed with the same options should use
// one, which saves each connection the copy (about 200 bytes). Make it with
// Engine.NewDialer; it is safe for concurrent use.
type Dialer struct {
	eng  *Engine
	opts *DialOptions // resolved; read-only
}

// NewDialer checks o (which may be nil) and keeps a copy of it for Dialer.Dial; later
// changes to *o do not reach the Dialer.
func (e *Engine) NewDialer(o *DialOptions) (*Dialer, error) {
	opts, err := e.resolve(o)
	if err != nil {
		return nil, err
	}
	return &Dialer{eng: e, opts: opts}, nil
}

// Dial is Engine.Dial with the Dialer's options, except that value, not
// DialOptions.Value, becomes the connection's Value.
func (d *Dialer) Dial(ctx context.Context, rawURL string, value any) (*Conn, error) {
	if d.eng.closed.Load() {
		return nil, ErrEngineClosed
	}
	return d.eng.dial(ctx, rawURL, d.opts, value)
}

// resolve checks o and returns a copy with the defaults applied.
func (e *Engine) resolve(o *DialOptions) (*DialOptions, error) {
	opts := o.withDefaults()
	if err := prepareCompression(&opts); err != nil {
		return nil, err
	}
	if err := checkProxyHeader(opts.ProxyConnectHeader); err != nil { // proxy_http.go
		return nil, err
	}
	if (opts.Mode == Active || opts.Mode == Once) && opts.Owner == nil && opts.Handler == nil {
		return nil, errors.New("websocket: dial: active and once modes need DialOptions.Owner")
	}
	if opts.Trace == nil {
		opts.Trace = e.opts.Trace // the resolved copy carries the engine's tracer too
	}
	return &opts, nil
}

// defaultOptions is the resolved copy behind every Dial given nil options, made once.
func (e *Engine) defaultOptions() *DialOptions {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nilOpts == nil {
		e.nilOpts, _ = e.resolve(nil) // the defaults always pass
	}
	return e.nilOpts
}

// dial makes a connection with resolved options and dials it.
func (e *Engine) dial(ctx context.Context, rawURL string, opts *DialOptions, value any) (*Conn, error) {
	u, err := e.parseURLCached(rawURL)
	if err != nil {
		return nil, err
	}
	c := e.newConn(u, opts, value)
	if !e.register(c) {
		return nil, ErrEngineClosed
	}
	if err := c.connect(ctx); err != nil {
		e.unregister(c)
		return nil, err
	}
	return c, nil
}

// newConn makes an idle connection with resolved options: the user's Handler, or the
// connection's own mailbox for the delivery modes.
func (e *Engine) newConn(u *url.URL, opts *DialOptions, value any) *Conn {
	c := &Conn{eng: e, opts: opts, url: u, val: value, handler: opts.Handler, maskState: newKeyState()}
	c.mb.mode = opts.Mode
	if c.handler == nil {
		c.mb.owner = opts.Owner
		c.handler = &c.mb
	}
	// Asked once here rather than per message: only the mailbox implements boxed.
	c.box, _ = c.handler.(boxed)
	if opts.LocalAddr != nil {
		c.x = &connExtra{localBind: opts.LocalAddr}
	}
	return c
}

// parseURLCached parses rawURL, sharing the result with the previous Dial of the same string:
// fleets dial one URL thousands of times, and each *url.URL costs about 150 bytes. The shared
// URL is never modified.
func (e *Engine) parseURLCached(rawURL string) (*url.URL, error) {
	e.mu.Lock()
	last, lastRaw := e.lastURL, e.lastURLRaw
	e.mu.Unlock()
	if last != nil && lastRaw == rawURL {
		return last, nil
	}
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.lastURL, e.lastURLRaw = u, rawURL
	e.mu.Unlock()
	return u, nil
}

// internHeader returns lines as a string, shared with the previous connection that got the
// same lines: a fleet's 101 responses from one server differ only in Sec-WebSocket-Accept
// (which is not kept), and each copy would cost a connection about 100 bytes.
func (e *Engine) internHeader(lines []byte) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if string(lines) != e.lastHeader {
		e.lastHeader = string(lines)
	}
	return e.lastHeader
}

// parseURL accepts ws:// and wss:// URLs with a host.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("websocket: bad URL %q: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "ws", "wss":
		u.Scheme = strings.ToLower(u.Scheme)
	default:
		return nil, fmt.Errorf("websocket: bad URL %q: scheme must be ws:// or wss://", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("websocket: bad URL %q: no host", raw)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("websocket: bad URL %q: fragments are not allowed", raw)
	}
	return u, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "wss" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// connect runs one session: TCP connect on the calling goroutine (gnet's own dial has no
// timeout and no source address), enrolment on a loop, and the wait for the upgrade.
func (c *Conn) connect(ctx context.Context) error {
	e, o := c.eng, c.opts
	e.stats.dials.Add(1)
	deadline := time.Now().Add(o.ConnectTimeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c.setState(StateConnecting)

	// The request first (a fresh key per attempt), so that bad headers fail before any
	// connection is made.
	var key [24]byte
	codec.GenerateKey(&key)
	req := pool.Get(512)
	var err error
	req.B, err = codec.AppendRequest(req.B, c.url, key[:], &codec.RequestOptions{Protocols: o.Protocols, Header: o.Header, Extensions: o.Compression.offerText()})
	if err != nil {
		pool.Put(req)
		c.setState(StateClosed)
		return fmt.Errorf("websocket: dial %s: %w", c.url.Redacted(), err)
	}

	rt, err := c.dialRoute(dctx) // proxy.go
	nc := rt.nc
	if err != nil {
		pool.Put(req)
		e.stats.dialErrors.Add(1)
		c.setState(StateClosed)
		if c.opts.Trace != nil {
			c.trace(TraceEvent{Kind: TraceConnect, Err: err})
		}
		return err
	}

	// ds stays this goroutine's: the loop drops s.dial once the upgrade is decided, and
	// this goroutine gives ds back once it has the verdict.
	ds := dialStates.Get().(*dialState)
	ds.req, ds.key = req, key
	s := newSession(c, ds)
	if c.url.Scheme == "wss" || rt.proxyTLS != nil {
		// TLS handshake and upgrade request on this goroutine, before the loop takes over.
		if err := s.startTLS(dctx, rt, ds.req.B); err != nil {
			nc.Close()
			pool.Put(ds.req)
			s.dial = nil
			ds.release()
			c.setState(StateClosed)
			e.stats.dialErrors.Add(1)
			return err
		}
	}
	ds.parser = parserPool.Get().(*codec.ResponseParser)
	ds.parser.Reset(key[:], o.Protocols, o.Compression.extNames())

	c.mu.Lock()
	c.sess = s
	c.close, c.lastErr = closeOpen, nil
	c.mu.Unlock()
	c.setState(StateUpgrading)

	err = transport.Enroll(e.client, nc, s, s.enrolled) // OnOpen has run when it returns
	pool.Put(ds.req)
	ds.req = nil
	if err != nil {
		c.setState(StateClosed)
		s.releaseParser()
		s.dial = nil // never reached the loop, nor will it
		ds.release()
		return fmt.Errorf("websocket: dial %s: the event loop refused the connection: %w", c.url.Redacted(), err)
	}
	select {
	case err := <-ds.done:
		ds.release()
		return err
	case <-dctx.Done():
		// The deadline and the loop's verdict may come together (select picks either), or
		// the loop may accept the 101 while this goroutine waits to run. An accepted upgrade
		// stands: closing it here would open the session and drop it, and a reconnecting
		// Conn would then redial twice over, two sessions at once.
		c.mu.Lock()
		won := ds.upgraded
		ds.abandoned = !won
		c.mu.Unlock()
		if won {
			err := <-ds.done
			ds.release()
			return err
		}
		_ = s.gc.Close()
		verdict := <-ds.done
		ds.release()
		if verdict != nil && !errors.Is(verdict, ErrAbnormalClose) {
			return verdict // the loop's own verdict came first
		}
		err := dialCtxErr(dctx, ctx, o.ConnectTimeout, "the upgrade response from "+c.url.Host)
		if errors.Is(err, ErrTimeout) {
			e.stats.timeouts.Add(1)
		}
		return err
	}
}

// newSession makes c's next session, dialing with ds. The loop that takes its socket fills
// in the rest (onOpen); until then no callback can reach it.
func newSession(c *Conn, ds *dialState) *session {
	return &session{c: c, dial: ds}
}

// enrolled says whether gnet opened the session (OnOpen ran).
func (s *session) enrolled() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.gc != nil
}

// dialStates keeps dialState objects, with their result channel, from one dial to the next:
// each dial would otherwise leave two more short-lived objects behind, and a dial's garbage
// shares spans with the connections' long-lived objects.
var dialStates = sync.Pool{New: func() any { return &dialState{done: make(chan error, 1)} }}

// release gives ds back once the dialing goroutine has the loop's verdict (the loop sent it
// after dropping s.dial, and touches ds no more), or once ds turned out never to reach the loop.
func (ds *dialState) release() {
	*ds = dialState{done: ds.done} // done is empty again: exactly one value went through it
	dialStates.Put(ds)
}

// dialTCP connects to addr (the target's or a proxy's, named by peer in errors), bounded by
// the engine's dial concurrency.
func (c *Conn) dialTCP(ctx context.Context, addr string, peer *url.URL) (net.Conn, error) {
	e, o := c.eng, c.opts
	select {
	case e.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, dialCtxErr(ctx, nil, o.ConnectTimeout, "waiting for a dial slot")
	}
	defer func() { <-e.dialSem }()
	c.mu.Lock()
	var localBind net.Addr
	if c.x != nil {
		localBind = c.x.localBind
	}
	c.mu.Unlock()
	d := net.Dialer{}
	if localBind != nil {
		d.LocalAddr = localBind
		// Let the kernel pick the port at connect time, per destination, so that many source
		// addresses do not each exhaust the ephemeral range on bind.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	nc, err := e.dialHost(ctx, &d, addr) // resolver.go
	if err == nil {
		return nc, nil
	}
	if ctx.Err() != nil {
		return nil, dialCtxErr(ctx, nil, o.ConnectTimeout, "TCP connect to "+addr)
	}
	return nil, describeDialErr(peer, err)
}

// dialCtxErr says whether the connect timeout or the caller's context ended a dial.
func dialCtxErr(ctx, parent context.Context, timeout time.Duration, stage string) error {
	if parent != nil && parent.Err() != nil && !errors.Is(parent.Err(), context.DeadlineExceeded) {
		return parent.Err()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &wrapped{msg: fmt.Sprintf("websocket: connect timeout: %s did not finish within %v", stage, timeout), err: multiErr{ErrTimeout, context.DeadlineExceeded}}
	}
	return ctx.Err()
}

// describeDialErr names the usual ways a connect fails, with the way out where there is one.
func describeDialErr(u *url.URL, err error) error {
	hint := ""
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		hint = "connection refused: nothing listens there"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return &wrapped{msg: fmt.Sprintf("websocket: dial %s: %v", u.Redacted(), ErrNoLocalPort), err: multiErr{ErrNoLocalPort, err}}
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		var rl unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		hint = fmt.Sprintf("open-file limit reached (RLIMIT_NOFILE %d): raise it with ulimit -n, or shard the connections over several processes", rl.Cur)
	default:
		return fmt.Errorf("websocket: dial %s: %w", u.Redacted(), err)
	}
	return &wrapped{msg: fmt.Sprintf("websocket: dial %s: %s", u.Redacted(), hint), err: err}
}
