package engine

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Mode says how a connection without a Handler hands received messages to the
// application: kept for Recv, or sent to an owner channel. A connection with a Handler
// ignores Mode: every message goes to the Handler.
type Mode uint8

const (
	// Passive keeps messages in the connection's bounded inbox until Recv takes them (the default).
	Passive Mode = iota
	// Active sends every message to the owner channel as an Event.
	Active
	// Once sends one message to the owner channel, then the connection reverts to Passive
	// until SetMode(Once) is called again.
	Once
)

func (m Mode) String() string {
	switch m {
	case Passive:
		return "passive"
	case Active:
		return "active"
	case Once:
		return "once"
	}
	return "mode(?)"
}

// SlowConsumerPolicy says what a connection does when its inbox is full. gnet cannot pause
// reading a socket, so an inbox that nobody drains must end somewhere: never in unbounded memory.
type SlowConsumerPolicy uint8

const (
	// CloseSlowConsumer closes the connection (close code 1008) with ErrSlowConsumer (the default).
	CloseSlowConsumer SlowConsumerPolicy = iota
	// DropOldest discards the oldest queued message to make room, counting the drop in Stats.
	DropOldest
)

// Defaults applied when the corresponding option is zero.
const (
	DefaultConnectTimeout  = 8 * time.Second
	DefaultCloseTimeout    = 5 * time.Second
	DefaultMaxMessageSize  = 16 << 20
	DefaultInboxSize       = 256
	DefaultMaxPendingBytes = 4 << 20
	DefaultDialConcurrency = 512
)

// DialOptions configure a connection. The zero value (or nil) dials with the defaults.
// Engine.Dial keeps a copy per connection; a Dialer keeps one copy for all the connections
// it dials.
type DialOptions struct {
	// ConnectTimeout bounds TCP connect and the upgrade together (default 8 s). A ctx deadline
	// that comes sooner wins.
	ConnectTimeout time.Duration
	// RecvTimeout bounds each Recv in passive mode (default 0: none). A ctx deadline on Recv wins.
	RecvTimeout time.Duration
	// CloseTimeout bounds the wait for the server's close frame after ours (default 5 s).
	CloseTimeout time.Duration
	// TLSConfig configures wss://. nil verifies the server against the
	// system roots with the URL's host name; verification stays on unless the config turns it
	// off. The TLS handshake counts inside ConnectTimeout.
	TLSConfig *tls.Config
	// Header holds extra request headers. Headers owned by the protocol (Host, Upgrade,
	// Connection, Sec-WebSocket-*) are refused with an error.
	Header http.Header
	// Protocols offered in Sec-WebSocket-Protocol, in order of preference.
	Protocols []string
	// Mode of delivery (default Passive). Ignored when Handler is set.
	Mode Mode
	// Owner receives Events in Active and Once modes; it may own many connections.
	Owner chan<- Event
	// Handler, when set, receives every message on the loop goroutine, zero-copy.
	Handler Handler
	// MaxMessageSize bounds an assembled message (default 16 MiB); larger → close 1009.
	MaxMessageSize int
	// InboxSize bounds the messages queued for Recv or for a full owner channel (default
	// 256); reconnection events queue with them (see ReconnectPolicy).
	InboxSize int
	// SlowConsumer says what happens when the inbox is full (default CloseSlowConsumer).
	SlowConsumer SlowConsumerPolicy
	// MaxPendingBytes bounds the bytes waiting to be written (default 4 MiB): Send waits
	// for room, TrySend fails with ErrBackedUp, and Send inside a callback, which cannot
	// wait, fails only past twice this (see Conn.Send).
	MaxPendingBytes int
	// LocalAddr is the source address to bind (e.g. to spread connections over 127.0.0.x).
	LocalAddr net.Addr
	// DeliverControl delivers pings and pongs as messages too (pings are answered regardless).
	DeliverControl bool
	// PingInterval, when set, sends a ping after this much idle time; PongTimeout (default
	// PingInterval) later without any traffic the peer is declared dead (ErrTimeout).
	PingInterval time.Duration
	PongTimeout  time.Duration
	// Reconnect, when set, redials after an abnormal close with backoff and jitter.
	Reconnect *ReconnectPolicy
	// Trace, when set, sees this connection's events (overrides Options.Trace).
	Trace TraceFunc
	// Proxy returns the proxy to dial a target through, like net/http's Transport.Proxy: nil
	// (and a nil error) dials directly. nil means ProxyFromEnvironment; NoProxy ignores the
	// environment. Schemes: http:// (CONNECT, Basic credentials from the URL's user info),
	// https:// (TLS with the proxy, verified with TLSConfig against the proxy's name, then
	// CONNECT; a wss:// target gets its own TLS inside), socks5:// (the target's name resolved
	// here) and socks5h:// (resolved by the proxy), with username/password from the URL. The
	// proxy leg counts inside ConnectTimeout; a failure is a *ProxyError.
	Proxy func(target *url.URL) (*url.URL, error)
	// ProxyConnectHeader holds extra header fields for the CONNECT request to an http:// or
	// https:// proxy (a Proxy-Authorization here replaces the URL's credentials).
	ProxyConnectHeader http.Header
	// Compression, when set, offers permessage-deflate (RFC 7692); see Compression.
	Compression *Compression
	// Value is the application's state for this connection, returned by Conn.Value; a
	// pointer lets Handler callbacks keep per-connection state without a map. A Dialer
	// takes it per Dial instead.
	Value any
}

// Options configure an Engine.
type Options struct {
	// Loops is the number of event loops (default GOMAXPROCS). An idle loop waits in
	// epoll_wait holding a P; when every P is held that way the Go scheduler keeps taking
	// them back and waking threads to no purpose, so a process whose loops carry a trickle of
	// pushed messages spends less CPU with GOMAXPROCS one above Loops, at some latency
	// (docs/benchmarks.md, "Push CPU"); a request/reply trickle (the Socket.IO chat there)
	// spends more, so measure before raising it.
	Loops int
	// DialConcurrency bounds dials in progress at once (default 512).
	DialConcurrency int
	// ReadBufferCap and WriteBufferCap are gnet's per-loop read buffer and per-connection
	// outbound buffer caps (gnet's defaults when zero).
	ReadBufferCap  int
	WriteBufferCap int
	// Trace, when set, sees the events of every connection of this engine.
	Trace TraceFunc
	// Resolver resolves host names for dials (default net.DefaultResolver).
	Resolver *net.Resolver
	// DNSCacheTTL is how long a host name's addresses are reused by later dials, which take
	// them in turn (default DefaultDNSCacheTTL; negative: every dial resolves, as net.Dialer
	// does, and tries the addresses in the resolver's order).
	DNSCacheTTL time.Duration
}

func (o *DialOptions) withDefaults() DialOptions {
	var d DialOptions
	if o != nil {
		d = *o
	}
	if d.ConnectTimeout <= 0 {
		d.ConnectTimeout = DefaultConnectTimeout
	}
	if d.CloseTimeout <= 0 {
		d.CloseTimeout = DefaultCloseTimeout
	}
	if d.MaxMessageSize <= 0 {
		d.MaxMessageSize = DefaultMaxMessageSize
	}
	if d.InboxSize <= 0 {
		d.InboxSize = DefaultInboxSize
	}
	if d.MaxPendingBytes <= 0 {
		d.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if d.PingInterval > 0 && d.PongTimeout <= 0 {
		d.PongTimeout = d.PingInterval
	}
	return d
}
