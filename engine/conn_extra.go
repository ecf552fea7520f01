package engine

import (
	"net"
	"time"
)

// connExtra holds what only some connections need: the inbox of passive and owned
// connections, the channels that Recv, a blocked Send and Close wait on, and the source
// address to dial from. A Handler connection that nobody waits on, dialed from the default
// address, never allocates it, which keeps an idle Conn small. Guarded by c.mu.
type connExtra struct {
	inbox     []Message // bounded queue from inboxHead on
	inboxHead int
	recvWait  chan struct{} // cap 1: wakes a waiting Recv (lazy)
	recvTimer *time.Timer   // reused across Recv calls (lazy)
	roomWait  chan struct{} // closed and replaced when room appears (lazy)
	done      chan struct{} // closed when finalErr is set (lazy)
	retryStop chan struct{} // closed when Close stops a reconnect's wait (lazy)
	causes    []error       // the causes of the Reconnecting notices in the inbox, in order
	localBind net.Addr      // DialOptions.LocalAddr (per connection: the options may be shared)
}

// extraLocked returns c's connExtra, allocating it on first use.
func (c *Conn) extraLocked() *connExtra {
	if c.x == nil {
		c.x = new(connExtra)
	}
	return c.x
}

// inboxLenLocked is the number of queued messages.
func (c *Conn) inboxLenLocked() int {
	if c.x == nil {
		return 0
	}
	return len(c.x.inbox) - c.x.inboxHead
}

// roomWaitedLocked says whether senders wait for room in the outbound buffer.
func (c *Conn) roomWaitedLocked() bool { return c.x != nil && c.x.roomWait != nil }

// clampInt32 keeps a byte count in an int32 field (beyond 2 GiB it only needs to read as large).
func clampInt32(n int) int32 {
	if n > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(n)
}
