package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/wsfleet/wsfleet/engine/internal/transport"
	"golang.org/x/net/http/httpguts"
)

// dialCONNECT opens a tunnel to the target through an HTTP proxy (RFC 9110 §9.3.6): http://
// over the bare socket, https:// over TLS with the proxy, which then carries the tunnel.
func (c *Conn) dialCONNECT(ctx context.Context, p *url.URL) (route, error) {
	addr := proxyAddr(p)
	nc, err := c.dialTCP(ctx, addr, p)
	if err != nil {
		return route{}, newProxyError(p, "connect", err)
	}
	stop := watchCtx(ctx, nc)
	defer stop()
	r := route{nc: nc}
	tunnel := nc
	if p.Scheme == "https" {
		// The bridge reads the blocking socket during the dial and the loop's input after it,
		// as for a wss:// target (tls.go).
		b := transport.NewTLSBridge(nc)
		tc := tls.Client(b, c.eng.proxyTLSConfig(p, c.opts.TLSConfig))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			pe := c.proxyStageErr(ctx, p, "tls", "TLS handshake with proxy "+addr, err)
			if !isTimeout(pe.Err) {
				pe.Err = multiErr{fmt.Errorf("TLS handshake with the proxy: %w", err), ErrTLS}
			}
			return route{}, pe
		}
		r.proxyTLS, r.bridge, tunnel = tc, b, tc
	}
	if err := c.connectTunnel(ctx, p, tunnel); err != nil {
		nc.Close()
		return route{}, err
	}
	_ = nc.SetDeadline(time.Time{})
	return r, nil
}

// connectTunnel sends CONNECT for the target over conn and reads the proxy's answer.
func (c *Conn) connectTunnel(ctx context.Context, p *url.URL, conn net.Conn) error {
	target := hostPort(c.url)
	req := appendCONNECT(nil, target, p, c.opts.ProxyConnectHeader)
	if _, err := conn.Write(req); err != nil {
		return c.proxyStageErr(ctx, p, "CONNECT", "CONNECT through proxy "+p.Host, err)
	}
	rec := &recordingConn{Conn: conn}
	// A proxy's answer is a few hundred bytes; one that never ends its header stops here.
	br := bufio.NewReaderSize(io.LimitReader(rec, maxCONNECTAnswer), 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		pe := c.proxyStageErr(ctx, p, "CONNECT", "the proxy's answer to CONNECT", err)
		pe.Answer = rec.answer
		if !isTimeout(pe.Err) {
			pe.Err = fmt.Errorf("unreadable answer to CONNECT %s: %w", target, err)
		}
		return pe
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		pe := newProxyError(p, "CONNECT", nil)
		pe.StatusCode, pe.Status, pe.Answer = resp.StatusCode, resp.Status, rec.answer
		return pe
	}
	if n := br.Buffered(); n > 0 {
		// Nothing may follow the answer: the target has not been sent a byte yet, and a
		// WebSocket or TLS server does not speak first.
		pe := newProxyError(p, "CONNECT", fmt.Errorf("the proxy sent %d bytes after its %s answer", n, resp.Status))
		pe.Answer = rec.answer
		return pe
	}
	return nil
}

// maxCONNECTAnswer bounds what is read of a proxy's answer to CONNECT.
const maxCONNECTAnswer = 64 << 10

// appendCONNECT appends the CONNECT request: Basic credentials from the proxy URL's user info
// unless header sets Proxy-Authorization itself, then header's fields (checked by
// checkProxyHeader when the options were resolved).
func appendCONNECT(b []byte, target string, p *url.URL, header http.Header) []byte {
	b = append(b, "CONNECT "...)
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, target...)
	b = append(b, "\r\n"...)
	if p.User != nil && header.Get("Proxy-Authorization") == "" {
		pass, _ := p.User.Password()
		b = append(b, "Proxy-Authorization: Basic "...)
		b = base64.StdEncoding.AppendEncode(b, []byte(p.User.Username()+":"+pass))
		b = append(b, "\r\n"...)
	}
	for name, values := range header {
		for _, v := range values {
			b = append(b, name...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// checkProxyHeader refuses ProxyConnectHeader fields that would break the CONNECT request.
func checkProxyHeader(header http.Header) error {
	for name, values := range header {
		if !httpguts.ValidHeaderFieldName(name) || http.CanonicalHeaderKey(name) == "Host" {
			return fmt.Errorf("websocket: DialOptions.ProxyConnectHeader: field %q is not allowed", name)
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("websocket: DialOptions.ProxyConnectHeader: field %q has an invalid value", name)
			}
		}
	}
	return nil
}

// proxyTLSConfig is the config for TLS with an https:// proxy: the dial's TLSConfig (as
// net/http uses its TLSClientConfig for both), verifying the proxy's name; shared between
// dials like the target's (tlsConfig).
func (e *Engine) proxyTLSConfig(p *url.URL, cfg *tls.Config) *tls.Config {
	host := p.Hostname()
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := &e.reach.proxyTLS; t.clone != nil && t.user == cfg && t.host == host {
		return t.clone
	}
	clone := tlsConfigFor(p, cfg)
	clone.ServerName = host // the target's name, if the caller set one, is not the proxy's
	e.reach.proxyTLS = tlsShared{user: cfg, host: host, clone: clone}
	return clone
}
