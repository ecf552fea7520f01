package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/engine/internal/transport"
	"github.com/wsfleet/wsfleet/pool"
)

// wss:// on the event loop, with the standard crypto/tls and no fork of it. The handshake runs
// on the dialing goroutine over the blocking socket. Then the tls.Conn is kept, sitting on a
// bridge: its Read serves the ciphertext that OnTraffic received and otherwise says "would
// block" with a temporary net.Error (crypto/tls keeps a partial record and does not make such
// an error sticky); its Write goes to the socket under the connection's lock, like every
// other write.

// tlsBridge is the net.Conn under a session's tls.Conn.
type tlsBridge struct {
	nc     net.Conn // the blocking socket, during the handshake only
	s      *session
	in     []byte // ciphertext received, not yet taken by crypto/tls
	cur    transport.RecordCursor
	direct bool // writes come from a sender's goroutine: write the socket, leave the rest for the loop
	local  net.Addr
	remote net.Addr
	// ciphertext a sender's write left for the loop (under c.mu)
	cipherOut *bytebufferpool.ByteBuffer
	notified  bool // close_notify sent
}

// cipherPending says whether ciphertext waits for the loop to write it (under c.mu).
func (s *session) cipherPending() bool { return s.bridge != nil && s.bridge.cipherOut != nil }

// errWouldBlock is what the bridge's Read says when the received ciphertext is used up.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "wsfleet: tls bridge: no more input yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

func (b *tlsBridge) Read(p []byte) (int, error) {
	if b.nc != nil {
		return b.nc.Read(p)
	}
	if len(b.in) == 0 {
		return 0, errWouldBlock
	}
	limit := len(b.in)
	if !b.cur.Lost {
		// One record at a time: crypto/tls then holds no whole record that the session
		// does not know of (see consumeTLS).
		if end := b.cur.ToEnd(b.in); end >= 0 && end < limit {
			limit = end
		}
	}
	n := copy(p, b.in[:limit])
	if !b.cur.Lost {
		b.cur.Advance(b.in, n)
	}
	b.in = b.in[n:]
	return n, nil
}

// Write runs with c.mu held (or, during the handshake, on the dialing goroutine).
func (b *tlsBridge) Write(p []byte) (int, error) {
	if b.nc != nil {
		return b.nc.Write(p)
	}
	s := b.s
	if s.fdGone {
		return 0, net.ErrClosed
	}
	if !b.direct {
		_, _ = s.gc.Write(p) // on the loop: gnet writes or keeps the rest, in order
		return len(p), nil
	}
	n := 0
	if b.cipherOut == nil {
		// Only while nothing waits for the loop: crypto/tls writes a long message record by
		// record, and once one record was cut short the socket may take the next one, which
		// would overtake the cut record's rest on the wire.
		n = transport.WriteNow(s.fd, p)
	}
	if n < len(p) {
		// The socket is full: the rest goes out from the loop, before anything else.
		if b.cipherOut == nil {
			b.cipherOut = pool.Get(len(p) - n)
		}
		b.cipherOut.B = append(b.cipherOut.B, p[n:]...)
	}
	return len(p), nil
}

func (b *tlsBridge) Close() error {
	if b.nc != nil {
		return b.nc.Close()
	}
	return nil
}

func (b *tlsBridge) LocalAddr() net.Addr  { return b.local }
func (b *tlsBridge) RemoteAddr() net.Addr { return b.remote }
func (b *tlsBridge) SetDeadline(t time.Time) error {
	if b.nc != nil {
		return b.nc.SetDeadline(t)
	}
	return nil
}
func (b *tlsBridge) SetReadDeadline(t time.Time) error {
	if b.nc != nil {
		return b.nc.SetReadDeadline(t)
	}
	return nil
}
func (b *tlsBridge) SetWriteDeadline(t time.Time) error {
	if b.nc != nil {
		return b.nc.SetWriteDeadline(t)
	}
	return nil
}

// tlsConfigFor clones the caller's config (or starts one) with what a WebSocket dial needs.
func tlsConfigFor(u *url.URL, cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// tlsConfig returns the config for a dial, sharing the clone with the previous dial of the same
// config to the same host: a clone costs ~300 bytes per connection, and crypto/tls itself
// forbids changing a Config once it has been used.
func (e *Engine) tlsConfig(u *url.URL, cfg *tls.Config) *tls.Config {
	host := u.Hostname()
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := &e.tlsCache; t.clone != nil && t.user == cfg && t.host == host {
		return t.clone
	}
	e.tlsCache = tlsShared{user: cfg, host: host, clone: tlsConfigFor(u, cfg)}
	return e.tlsCache.clone
}

type tlsShared struct {
	user  *tls.Config
	host  string
	clone *tls.Config
}

// startTLS runs the TLS handshake and sends the upgrade request over it, on the dialing
// goroutine, within the connect deadline. On success the bridge is switched to the loop.
//
// Through an https:// proxy (rt.proxyTLS set) the proxy's TLS session carries everything: it is
// the connection's TLS layer for a ws:// target, and the one under the target's for a wss:// one.
func (s *session) startTLS(ctx context.Context, rt route, req []byte) error {
	c := s.c
	nc, b, tc := rt.nc, rt.bridge, rt.proxyTLS
	if b == nil {
		b = &tlsBridge{nc: nc, local: nc.LocalAddr(), remote: nc.RemoteAddr()}
	}
	b.s = s
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	if c.url.Scheme == "wss" {
		var under net.Conn = b
		if tc != nil {
			// TLS records inside TLS records: the bridge's record cursor follows the outer
			// layer only, so it hands every byte over and crypto/tls is read until it waits.
			under, b.cur.Lost = tc, true
		}
		tc = tls.Client(under, c.eng.tlsConfig(c.url, c.opts.TLSConfig))
		if err := tc.HandshakeContext(ctx); err != nil {
			return describeTLSErr(ctx, c, err)
		}
	}
	if _, err := tc.Write(req); err != nil {
		return describeTLSErr(ctx, c, err)
	}
	_ = nc.SetDeadline(time.Time{})
	b.nc = nil // from here on the loop carries it
	s.tls, s.bridge = tc, b
	return nil
}

func describeTLSErr(ctx context.Context, c *Conn, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isNetTimeout(err) {
		return &wrapped{msg: fmt.Sprintf("websocket: connect timeout: TLS handshake with %s did not finish within %v", c.url.Host, c.opts.ConnectTimeout), err: multiErr{ErrTimeout, ErrTLS, context.DeadlineExceeded}}
	}
	return &wrapped{msg: fmt.Sprintf("websocket: TLS handshake with %s failed: %v", c.url.Host, err), err: multiErr{ErrTLS, err}}
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// consumeTLS decrypts what gnet read and feeds the plaintext to the session, record by
// record. crypto/tls is driven under c.mu, since reading may make it write (a TLS 1.3 key
// update); the plaintext is processed with the lock released, for Handler callbacks may send.
func (s *session) consumeTLS(raw []byte) gnet.Action {
	c := s.c
	b := s.bridge
	b.in = raw
	plain := s.l.tlsScratch()
	for {
		// The bridge hands crypto/tls one record per read, so once every byte is handed over
		// crypto/tls holds no whole record that was not read out: asking again would only cost
		// its allocation and a "would block". (A partial record is handed over too; crypto/tls
		// keeps it until the rest comes.)
		if len(b.in) == 0 && !b.cur.Lost {
			return gnet.None
		}
		c.mu.Lock()
		s.inWrite = true
		s.bridge.direct = false
		n, err := s.tls.Read(plain)
		s.inWrite = false
		c.mu.Unlock()
		if n > 0 {
			// A held-back violation (deferFail) stops reading too: nothing after it is parsed.
			if act := s.consume(plain[:n]); act != gnet.None || s.pf != nil {
				return act
			}
		}
		if err != nil {
			if errors.Is(err, errWouldBlock) || s.fdGone {
				return gnet.None
			}
			// A bad record, a TLS alert, or the server's close_notify.
			c.mu.Lock()
			if c.lastErr == nil {
				c.lastErr = &wrapped{msg: "websocket: TLS: " + err.Error(), err: multiErr{ErrTLS, err}}
			}
			c.mu.Unlock()
			return gnet.Close
		}
	}
}

// closeNotify sends TLS close_notify before the connection is dropped (best effort).
func (s *session) closeNotify() {
	if s.tls == nil || s.bridge.notified {
		return
	}
	s.bridge.notified = true
	c := s.c
	c.mu.Lock()
	if !s.fdGone {
		s.inWrite = true
		s.bridge.direct = false
		_ = s.tls.CloseWrite()
		s.inWrite = false
	}
	c.mu.Unlock()
	s.afterWrite()
}

// tlsScratch is the loop's buffer for decrypted bytes; frames are parsed out of it before the
// next record is decrypted, and a message split across records is copied out by the session.
func (l *loop) tlsScratch() []byte {
	if l.plain == nil {
		l.plain = make([]byte, 32<<10)
	}
	return l.plain
}
