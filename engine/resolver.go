package engine

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// A fleet dials one host name thousands of times. Resolving it once per dial costs a DNS
// round trip per connection (and loads the resolver), and Go's dialer then always tries the
// addresses in the same order, so every connection lands on the first one. The engine
// resolves each name once per DNSCacheTTL instead, dials that see the name while it is being
// resolved wait for that one lookup, and each dial starts at the next address in turn.

// DefaultDNSCacheTTL is how long resolved addresses are reused when Options.DNSCacheTTL is zero.
const DefaultDNSCacheTTL = 30 * time.Second

// reachState is the engine's state for reaching servers: the DNS cache and the TLS config
// shared by the dials through one https:// proxy.
type reachState struct {
	dnsMu    sync.Mutex
	dns      map[string]*dnsEntry // host name → its addresses
	proxyTLS tlsShared            // under Engine.mu
}

// dnsEntry is one host name's lookup: in flight until ready is closed, then addrs (or err)
// until expires.
type dnsEntry struct {
	ready   chan struct{}
	addrs   []netip.Addr
	err     error
	expires time.Time
	next    atomic.Uint32 // round-robin position
}

// dnsTTL is the cache lifetime in effect (0: no cache).
func (e *Engine) dnsTTL() time.Duration {
	switch {
	case e.opts.DNSCacheTTL < 0:
		return 0
	case e.opts.DNSCacheTTL == 0:
		return DefaultDNSCacheTTL
	}
	return e.opts.DNSCacheTTL
}

// dialHost connects d to host:port: straight to an IP address, otherwise to the host's
// addresses from the cache, starting at the next one in turn and trying the others in order
// if it fails (as net.Dialer does with the addresses of one lookup).
func (e *Engine) dialHost(ctx context.Context, d *net.Dialer, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err == nil || e.dnsTTL() == 0 {
		d.Resolver = e.opts.Resolver
		return d.DialContext(ctx, "tcp", hostport)
	}
	ent, err := e.lookup(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	start := int(ent.next.Add(1) - 1)
	var first error
	for i, n := 0, len(ent.addrs); i < n; i++ {
		a := ent.addrs[(start+i)%n]
		actx, cancel := partialDeadline(ctx, n-i)
		nc, err := d.DialContext(actx, "tcp", net.JoinHostPort(a.String(), port))
		cancel()
		if err == nil {
			return nc, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// minAddrTime is the least time an address gets before the next one is tried (net.Dialer's
// choice too).
const minAddrTime = 2 * time.Second

// partialDeadline gives one of left addresses its share of ctx's remaining time (at least
// minAddrTime), so that one address that never answers does not eat the connect timeout of
// a name that has others.
func partialDeadline(ctx context.Context, left int) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok || left <= 1 {
		return ctx, func() {}
	}
	share := max(time.Until(d)/time.Duration(left), minAddrTime)
	if time.Now().Add(share).After(d) {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, time.Now().Add(share))
}

// pickAddr returns one address of host (the next in turn), or host itself when it is one.
func (e *Engine) pickAddr(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
	}
	if e.dnsTTL() == 0 {
		addrs, err := e.resolver().LookupNetIP(ctx, "ip", host)
		if err != nil {
			return netip.Addr{}, err
		}
		return addrs[0].Unmap(), nil
	}
	ent, err := e.lookup(ctx, host)
	if err != nil {
		return netip.Addr{}, err
	}
	return ent.addrs[int(ent.next.Add(1)-1)%len(ent.addrs)], nil
}

func (e *Engine) resolver() *net.Resolver {
	if e.opts.Resolver != nil {
		return e.opts.Resolver
	}
	return net.DefaultResolver
}

// lookup returns host's cache entry, resolving it when absent or expired. One dial resolves;
// the others that come meanwhile wait for its answer. A failed lookup is not kept.
func (e *Engine) lookup(ctx context.Context, host string) (*dnsEntry, error) {
	r := &e.reach
	r.dnsMu.Lock()
	ent := r.dns[host]
	if ent != nil {
		select {
		case <-ent.ready:
			if time.Now().After(ent.expires) {
				ent = nil
			}
		default: // in flight
		}
	}
	owner := ent == nil
	if owner {
		ent = &dnsEntry{ready: make(chan struct{})}
		if r.dns == nil {
			r.dns = make(map[string]*dnsEntry)
		}
		if len(r.dns) >= maxDNSEntries {
			r.sweepLocked()
		}
		r.dns[host] = ent
	}
	r.dnsMu.Unlock()

	if owner {
		// The lookup outlives the dial that started it (others may wait for it), bounded by
		// the same ConnectTimeout-sized deadline as that dial's ctx.
		lctx := context.WithoutCancel(ctx)
		var cancel context.CancelFunc = func() {}
		if d, ok := ctx.Deadline(); ok {
			lctx, cancel = context.WithDeadline(lctx, d)
		}
		addrs, err := e.resolver().LookupNetIP(lctx, "ip", host)
		cancel()
		for i := range addrs {
			addrs[i] = addrs[i].Unmap()
		}
		if err == nil && len(addrs) == 0 {
			err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		ent.addrs, ent.err, ent.expires = addrs, err, time.Now().Add(e.dnsTTL())
		if err != nil {
			r.dnsMu.Lock()
			if r.dns[host] == ent {
				delete(r.dns, host)
			}
			r.dnsMu.Unlock()
		}
		close(ent.ready)
	}
	select {
	case <-ent.ready:
		return ent, ent.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// maxDNSEntries is the cache size beyond which expired entries are dropped on the next lookup.
const maxDNSEntries = 1024

func (r *reachState) sweepLocked() {
	now := time.Now()
	for host, ent := range r.dns {
		select {
		case <-ent.ready:
			if now.After(ent.expires) {
				delete(r.dns, host)
			}
		default:
		}
	}
}
