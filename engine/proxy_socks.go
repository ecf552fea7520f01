package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"golang.org/x/net/proxy"
)

// dialSOCKS opens a tunnel to the target through a SOCKS5 proxy with golang.org/x/net/proxy,
// username/password from the proxy URL. socks5:// resolves the target's name here (with the
// engine's resolver and cache); socks5h:// hands the name to the proxy to resolve.
func (c *Conn) dialSOCKS(ctx context.Context, p *url.URL) (route, error) {
	target := hostPort(c.url)
	if p.Scheme == "socks5" {
		host, port, _ := net.SplitHostPort(target)
		ip, err := c.eng.pickAddr(ctx, host)
		if err != nil {
			return route{}, newProxyError(p, "socks", fmt.Errorf("resolving %s for a socks5:// proxy (socks5h:// lets the proxy resolve it): %w", host, err))
		}
		target = net.JoinHostPort(ip.String(), port)
	}
	var auth *proxy.Auth
	if p.User != nil {
		auth = &proxy.Auth{User: p.User.Username()}
		auth.Password, _ = p.User.Password()
	}
	leg := &socksLeg{c: c, proxy: p}
	d, err := proxy.SOCKS5("tcp", proxyAddr(p), auth, leg)
	if err != nil {
		return route{}, newProxyError(p, "config", err)
	}
	// x/net's dialer bounds its exchange by ctx (deadline and cancel) itself.
	tunnel, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", target)
	if err != nil {
		if leg.raw == nil {
			return route{}, newProxyError(p, "connect", leg.dialErr(err))
		}
		leg.raw.Close()
		return route{}, leg.refusal(ctx, err)
	}
	_ = tunnel // the socket under it is what the loop takes
	_ = leg.raw.SetDeadline(time.Time{})
	return route{nc: leg.raw}, nil
}

// socksLeg is x/net's forward dialer for one dial: it connects to the proxy like any dial of
// the engine and keeps the socket, which the loop takes over once the tunnel is up, and the
// proxy's first bytes, which say why it refused.
type socksLeg struct {
	c     *Conn
	proxy *url.URL
	raw   net.Conn
	rec   *recordingConn
	err   error
}

func (l *socksLeg) Dial(network, addr string) (net.Conn, error) {
	return l.DialContext(context.Background(), network, addr)
}

func (l *socksLeg) DialContext(ctx context.Context, _, addr string) (net.Conn, error) {
	nc, err := l.c.dialTCP(ctx, addr, l.proxy)
	if err != nil {
		l.err = err
		return nil, err
	}
	l.raw = nc
	l.rec = &recordingConn{Conn: nc}
	return l.rec, nil
}

// dialErr is the error of the connect to the proxy (x/net wraps it in a *net.OpError).
func (l *socksLeg) dialErr(err error) error {
	if l.err != nil {
		return l.err
	}
	return err
}

// refusal reads the proxy's answer (RFC 1928 method selection, RFC 1929 status, RFC 1928
// reply) into a ProxyError.
func (l *socksLeg) refusal(ctx context.Context, err error) *ProxyError {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err // x/net's own message, without its address pair
	}
	pe := l.c.proxyStageErr(ctx, l.proxy, "socks", "the SOCKS5 exchange with proxy "+l.proxy.Host, err)
	a := l.rec.answer
	pe.Answer = a
	if len(a) > 0 && a[0] != 5 && !isTimeout(pe.Err) {
		pe.Err = fmt.Errorf("this is not a SOCKS5 server: %w", pe.Err)
		return pe
	}
	if len(a) < 2 {
		return pe
	}
	next := 2
	switch a[1] {
	case 0xff:
		pe.SOCKSAuth = 0xff
		return pe
	case 2: // username/password: version 1, status
		if len(a) < 4 {
			return pe
		}
		if a[3] != 0 {
			pe.SOCKSAuth = int(a[3])
			return pe
		}
		next = 4
	}
	if len(a) >= next+2 && a[next] == 5 {
		pe.SOCKSReply = int(a[next+1])
	}
	return pe
}
