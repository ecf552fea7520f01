package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/engine/internal/transport"
	"golang.org/x/net/http/httpproxy"
)

// Dialing through a proxy. The proxy leg (TCP to the proxy, TLS with an https:// proxy, the
// CONNECT or SOCKS5 exchange) runs on the dialing goroutine inside ConnectTimeout, before the
// socket is handed to an event loop: once open, a proxied connection is an ordinary socket to
// the loop and costs nothing more. The one exception is an https:// proxy, whose TLS session
// carries every later byte: the loop then decrypts two layers for a wss:// target.

// ProxyFromEnvironment is the default DialOptions.Proxy. It reads the environment once, as
// net/http does: HTTPS_PROXY (or https_proxy) for wss:// targets, HTTP_PROXY (or http_proxy) for
// ws:// targets — a WebSocket opens as an HTTP request of that scheme — and, unlike net/http,
// ALL_PROXY (or all_proxy) for either when its own variable is unset, as curl does, so that a
// SOCKS5 exit set only there applies too. NO_PROXY (or no_proxy) lists hosts to reach
// directly, with net/http's rules; localhost and loopback addresses are always reached
// directly. A proxy without a scheme is taken as http://.
func ProxyFromEnvironment(target *url.URL) (*url.URL, error) {
	f := envProxy()
	if f == nil {
		return nil, nil
	}
	return f(target)
}

// NoProxy is a DialOptions.Proxy that dials directly, whatever the environment says.
func NoProxy(*url.URL) (*url.URL, error) { return nil, nil }

// ProxyURL returns a DialOptions.Proxy that sends every dial through proxy.
func ProxyURL(proxy *url.URL) func(*url.URL) (*url.URL, error) {
	return func(*url.URL) (*url.URL, error) { return proxy, nil }
}

var envProxy = sync.OnceValue(func() func(*url.URL) (*url.URL, error) { return proxyFromEnv(os.Getenv) })

// proxyFromEnv builds ProxyFromEnvironment's function from getenv; nil when no proxy is set.
func proxyFromEnv(getenv func(string) string) func(*url.URL) (*url.URL, error) {
	get := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	all := get("ALL_PROXY", "all_proxy")
	cfg := httpproxy.Config{
		HTTPProxy:  get("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: get("HTTPS_PROXY", "https_proxy"),
		NoProxy:    get("NO_PROXY", "no_proxy"),
		CGI:        getenv("REQUEST_METHOD") != "",
	}
	if cfg.HTTPProxy == "" {
		cfg.HTTPProxy = all
	}
	if cfg.HTTPSProxy == "" {
		cfg.HTTPSProxy = all
	}
	if cfg.HTTPProxy == "" && cfg.HTTPSProxy == "" {
		return nil // the common case costs a dial nothing
	}
	f := cfg.ProxyFunc()
	return func(target *url.URL) (*url.URL, error) {
		u := url.URL{Scheme: "http", Host: target.Host}
		if target.Scheme == "wss" {
			u.Scheme = "https"
		}
		return f(&u)
	}
}

// route is what the network leg of a dial leaves for the TLS and upgrade legs.
type route struct {
	nc net.Conn // the TCP socket the loop takes over
	// Through an https:// proxy: the TLS session with the proxy, over bridge, that carries
	// everything after CONNECT (nil otherwise).
	proxyTLS *tls.Conn
	bridge   *transport.TLSBridge
}

// dialRoute connects to the target, or to the proxy DialOptions.Proxy names for it and
// through it to the target.
func (c *Conn) dialRoute(ctx context.Context) (route, error) {
	pick := c.opts.Proxy
	if pick == nil {
		pick = envProxy()
	}
	var p *url.URL
	if pick != nil {
		var err error
		if p, err = pick(c.url); err != nil {
			return route{}, &ProxyError{Stage: "config", SOCKSReply: -1, SOCKSAuth: -1, Err: fmt.Errorf("DialOptions.Proxy for %s: %w", c.url.Redacted(), err)}
		}
	}
	if p == nil {
		nc, err := c.dialTCP(ctx, hostPort(c.url), c.url)
		return route{nc: nc}, err
	}
	var r route
	var err error
	switch p.Scheme {
	case "http", "https":
		r, err = c.dialCONNECT(ctx, p)
	case "socks5", "socks5h":
		r, err = c.dialSOCKS(ctx, p)
	default:
		err = newProxyError(p, "config", fmt.Errorf("unsupported proxy scheme %q: want http, https, socks5 or socks5h", p.Scheme))
	}
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceProxy, Err: err})
	}
	return r, err
}

// proxyAddr is the proxy's host:port, with the scheme's default port.
func proxyAddr(p *url.URL) string {
	if p.Port() != "" {
		return p.Host
	}
	port := map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[p.Scheme]
	return net.JoinHostPort(p.Hostname(), port)
}

func newProxyError(p *url.URL, stage string, err error) *ProxyError {
	return &ProxyError{Proxy: p.Redacted(), Stage: stage, SOCKSReply: -1, SOCKSAuth: -1, Err: err}
}

// proxyStageErr describes err, which ended stage of the proxy leg: a connect timeout when ctx
// ended or the socket's deadline passed.
func (c *Conn) proxyStageErr(ctx context.Context, p *url.URL, stage, what string, err error) *ProxyError {
	if ctx.Err() != nil || isNetTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		if ctx.Err() == nil {
			// The socket's deadline (the connect deadline) passed a hair before ctx's.
			err = &wrapped{msg: fmt.Sprintf("websocket: connect timeout: %s did not finish within %v", what, c.opts.ConnectTimeout), err: multiErr{ErrTimeout, context.DeadlineExceeded}}
		} else {
			err = dialCtxErr(ctx, nil, c.opts.ConnectTimeout, what)
		}
		if isTimeout(err) {
			c.eng.stats.timeouts.Add(1)
		}
	}
	return newProxyError(p, stage, err)
}

// watchCtx bounds blocking I/O on nc by ctx: its deadline now, and its end (the caller's
// cancel) by a deadline in the past. The returned func stops watching.
func watchCtx(ctx context.Context, nc net.Conn) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	return context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
}

// recordingConn keeps the first bytes read from a proxy, for its ProxyError.
type recordingConn struct {
	net.Conn
	answer []byte
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if room := maxProxyAnswer - len(r.answer); room > 0 && n > 0 {
		r.answer = append(r.answer, p[:min(n, room)]...)
	}
	return n, err
}
