// Package engine is a WebSocket client (RFC 6455, with permessage-deflate from RFC 7692)
// built to hold many connections in one process: hundreds of thousands of mostly idle
// connections, or tens of thousands of busy ones, on a few event loops instead of a
// goroutine per connection.
//
// An Engine runs the event loops (gnet); Engine.Dial opens a connection on it, and
// engine.Dial does so on a default engine started on first use. Each connection hands its
// received messages to the application in one of three ways:
//
//   - passive (the default): Conn.Recv returns the next message from a bounded inbox;
//   - active or once: messages arrive as Events on an owner channel (DialOptions.Owner,
//     Conn.SetMode), which one goroutine may read for many connections;
//   - a Handler: callbacks on the event loop's goroutine, with data borrowed from the read
//     buffer (no copy), for fleets where a goroutine per connection costs too much.
//
// Conn.Send and its variants are safe from any goroutine. Send waits while
// DialOptions.MaxPendingBytes are waiting to be written, except inside a Handler callback,
// where it never waits. Received messages live in pooled buffers: call Message.Release
// when done.
//
// Dialing many connections with the same options goes through a Dialer, which keeps one
// copy of the options for all of them. Errors work with errors.Is and errors.As: a
// *CloseError for a close handshake, a *HandshakeError for a refused upgrade, a
// *ProtocolError for a server that broke the protocol, ErrTimeout for every deadline.
//
// Dials go through the proxy DialOptions.Proxy names (by default the environment's, as
// net/http reads it): HTTP CONNECT, https:// and SOCKS5 proxies, failing with a
// *ProxyError. A host name is resolved once per Options.DNSCacheTTL and its addresses
// taken in turn. NetConn makes a connection a net.Conn, for protocol clients written
// against one.
package engine
