// Package engine is a WebSocket client (RFC 6455, permessage-deflate from RFC 7692) that
// holds many connections on a few event loops (gnet) instead of a goroutine each.
//
// An Engine runs the loops; Engine.Dial opens a connection, engine.Dial does so on a default
// engine, and a Dialer dials a fleet with one shared copy of its options. A connection hands
// its messages to a Handler (callbacks on the loop, data borrowed, no copy), to Conn.Recv
// (passive, the default), or to an owner channel as Events (active or once).
//
// Send is safe from any goroutine. It waits while DialOptions.MaxPendingBytes are waiting
// to be written, except inside a Handler callback, where it never waits. Received messages
// live in pooled buffers: call Message.Release when done. Errors work with errors.Is and
// errors.As: *CloseError, *HandshakeError, *ProtocolError, ErrTimeout for every deadline.
//
// Dials go through the proxy DialOptions.Proxy names (by default the environment's, as
// net/http reads it): HTTP CONNECT, https:// and SOCKS5 proxies, failing with a
// *ProxyError. A host name is resolved once per Options.DNSCacheTTL and its addresses
// taken in turn. NetConn makes a connection a net.Conn, for protocol clients written
// against one.
package engine
