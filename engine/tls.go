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

	"github.com/wsfleet/wsfleet/engine/internal/transport"
)

// wss:// on the event loop: the TLS handshake on the dialing goroutine, then the tls.Conn
// over a transport.TLSBridge that the session feeds and writes through (see there).

// cipherPending says whether ciphertext waits for the loop to write it (under c.mu).
func (s *session) cipherPending() bool { return s.bridge != nil && s.bridge.Pending() }

// The session's socket as the TLS bridge sees it (transport.Socket), under c.mu.

func (s *session) Gone() bool         { return s.end.Gone() }
func (s *session) LoopWrite(p []byte) { _, _ = s.gc.Write(p) }
func (s *session) Fd() int            { return s.fd }

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
		b = transport.NewTLSBridge(nc)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	if c.url.Scheme == "wss" {
		var under net.Conn = b
		if tc != nil {
			// TLS records inside TLS records (transport.TLSBridge.Nested).
			under = tc
			b.Nested()
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
	b.Attach(s) // from here on the loop carries it
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
	b.Feed(raw)
	plain := s.l.tlsScratch()
	for {
		if b.Drained() {
			return gnet.None
		}
		c.mu.Lock()
		s.end.Writing()
		b.SetDirect(false)
		n, err := s.tls.Read(plain)
		s.end.Wrote()
		c.mu.Unlock()
		if n > 0 {
			// A held-back violation (deferFail) stops reading too: nothing after it is parsed.
			if act := s.consume(plain[:n]); act != gnet.None || s.pf != nil {
				return act
			}
		}
		if err != nil {
			if errors.Is(err, transport.ErrWouldBlock) || s.end.Gone() {
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
	if s.tls == nil || s.bridge.Notified {
		return
	}
	s.bridge.Notified = true
	c := s.c
	c.mu.Lock()
	if !s.end.Gone() {
		s.end.Writing()
		s.bridge.SetDirect(false)
		_ = s.tls.CloseWrite()
		s.end.Wrote()
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
