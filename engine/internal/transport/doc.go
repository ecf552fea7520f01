// Package transport is the engine's side of gnet: the event loops and what the engine
// builds on them, and every fact about gnet (and the kernel under it) that the engine relies
// on, each stated once, next to the code that depends on it, and tested here:
//
//   - gnet runs a Runnable given to EventLoop.Execute on the loop's goroutine, after the
//     callbacks in progress, and Execute allocates; so writes from other goroutines are
//     batched into one Execute per loop wake-up (Loop.ScheduleFlush), and timers fire from
//     the loop itself after a read when it is awake anyway (Loop.AfterTraffic), a private
//     ticker waking only idle loops that have work (RunTicker).
//   - gnet says nothing when its outbound buffer drains, so whoever waits for room is polled
//     on ticks (Loop.AddBacklog).
//   - gnet's Conn.Write from another goroutine is not allowed; a socket written directly
//     with write(2) from a sender's goroutine (WriteNow), under the connection's lock, skips
//     the loop when the socket takes everything.
//   - gnet calls OnClose from inside a failed Conn.Write, on the loop, before Write returns,
//     where the writer holds its connection's lock; a close arriving there is recorded and
//     finished by the writer once the lock is free (SocketEnd).
//   - gnet reports io.EOF for an epoll error or hang-up with nothing to read; the socket's
//     SO_ERROR, still readable during OnClose, tells a reset from a FIN (PendingError).
//   - gnet's Client.EnrollContext returns no error when its poller refuses the socket: it
//     closes the socket and no callback ever comes (Enroll turns that into an error).
//   - gnet logs through its own logger; the engine reports through errors (NewClient).
//   - crypto/tls runs over any net.Conn and keeps a partial record across a temporary
//     "would block" error without making it sticky, so a tls.Conn can sit on the loop's input
//     (TLSBridge); it allocates a reader per read of its connection, so the bridge hands it
//     one whole record per read (RecordCursor).
//   - gnet runs each event loop, with all its callbacks and Runnables, on one goroutine for
//     the loop's life, so a caller can tell whether it is a loop (GoroutineID, Loop.Runs):
//     a sender inside a callback must never wait for room, which only the loops make.
//
// Timers have a resolution of one tick (TickDuration) and live in one hashed wheel per loop
// (Wheel), touched only by the loop's goroutine.
package transport
