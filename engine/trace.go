package engine

// TraceKind names what a TraceEvent reports.
type TraceKind uint8

const (
	TraceConnect      TraceKind = iota // TCP connected (Err set when it failed)
	TraceUpgraded                      // the server accepted the upgrade
	TraceFrameSent                     // a frame was queued for the wire
	TraceFrameRecv                     // a frame arrived
	TracePingAnswered                  // a ping was answered with a pong
	TraceForcedClose                   // the engine dropped the connection (Err says why)
	TraceClosed                        // the connection ended (Err says how)
	TraceReconnect                     // a reconnection attempt (Err set when it failed)
	TraceProxy                         // the proxy's tunnel to the target is up (Err set when it failed)
)

func (k TraceKind) String() string {
	switch k {
	case TraceConnect:
		return "connect"
	case TraceUpgraded:
		return "upgraded"
	case TraceFrameSent:
		return "frame-sent"
	case TraceFrameRecv:
		return "frame-recv"
	case TracePingAnswered:
		return "ping-answered"
	case TraceForcedClose:
		return "forced-close"
	case TraceClosed:
		return "closed"
	case TraceReconnect:
		return "reconnect"
	case TraceProxy:
		return "proxy"
	}
	return "trace(?)"
}

// TraceEvent is what a TraceFunc sees. It is passed by value; it holds no borrowed data.
type TraceEvent struct {
	Kind   TraceKind
	Conn   *Conn
	Opcode MessageType // frames: the frame's type, also 0 (continuation) and 8 (close)
	Fin    bool        // frames
	Length int         // frames: payload length
	Err    error
}

// TraceFunc is a debugging hook. It may run on a loop goroutine or on the sending
// goroutine and must be quick and safe for concurrent use.
type TraceFunc func(TraceEvent)
