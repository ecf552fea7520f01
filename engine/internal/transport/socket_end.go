package transport

// SocketEnd is where one socket stands against gnet's close of it.
//
// gnet calls OnClose synchronously from inside Conn.Write when the write fails (and so from
// inside anything that writes through it, such as crypto/tls over the TLSBridge), on the
// loop, before Write returns. A writer holds its connection's lock there, so OnClose may
// neither take that lock nor finish the connection until the write has returned. SocketEnd
// brackets such writes (Writing, Wrote), records a close that arrives inside one
// (CloseArrived), and hands it back once the writer has let go of its lock (TakeDeferred).
// Gone tells every writer, including a sender's direct write to the descriptor, that gnet
// is closing the socket and nothing may be written to it.
//
// The loop owns a SocketEnd; Gone is read by other goroutines under the same lock the loop
// holds when it marks the socket gone (MarkGone, or CloseArrived inside a write, when the
// writer holds that lock).
type SocketEnd struct {
	deferredErr error // why gnet closed the socket inside a write
	gone        bool
	writing     bool
	deferred    bool
}

// Gone reports whether gnet is closing (or has closed) the socket.
func (e *SocketEnd) Gone() bool { return e.gone }

// MarkGone records that gnet closes the socket (it closes the descriptor once OnClose
// returns).
func (e *SocketEnd) MarkGone() { e.gone = true }

// Writing is called before a call that may write through gnet's Conn.Write; Wrote after it.
func (e *SocketEnd) Writing() { e.writing = true }

// Wrote ends the bracket Writing opened.
func (e *SocketEnd) Wrote() { e.writing = false }

// CloseArrived is called first thing in OnClose. Inside a write it marks the socket gone,
// keeps err for TakeDeferred and returns false: the caller must return at once. Otherwise
// it returns true and the caller finishes the close itself (marking the socket gone under
// its lock).
func (e *SocketEnd) CloseArrived(err error) (finishNow bool) {
	if !e.writing {
		return true
	}
	e.gone, e.deferred, e.deferredErr = true, true, err
	return false
}

// TakeDeferred returns, once, the close that arrived inside a write; the writer calls it
// after releasing its lock, and finishes the close with err when ok.
func (e *SocketEnd) TakeDeferred() (err error, ok bool) {
	if !e.deferred {
		return nil, false
	}
	err, e.deferred, e.deferredErr = e.deferredErr, false, nil
	return err, true
}
