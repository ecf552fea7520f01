package engine

// State is where a connection is in its life.
type State uint32

const (
	StateIdle       State = iota // created, not dialing yet
	StateConnecting              // TCP connect in progress
	StateUpgrading               // upgrade request sent, waiting for 101
	StateOpen                    // messages flow
	StateClosing                 // a close frame was sent or received; waiting for the handshake to end
	StateClosed                  // the TCP connection is gone (a Reconnect policy may dial again)
)

func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateUpgrading:
		return "upgrading"
	case StateOpen:
		return "open"
	case StateClosing:
		return "closing"
	case StateClosed:
		return "closed"
	}
	return "state(?)"
}

// setStateLocked moves the connection and keeps the engine's per-state gauges right. It is
// written only under c.mu (so a check-then-move cannot race another), read anywhere (State).
func (c *Conn) setStateLocked(s State) {
	old := State(c.state.Swap(uint32(s)))
	if old == s {
		return
	}
	c.eng.gauge(old).Add(-1)
	c.eng.gauge(s).Add(1)
}

var discardGauge = new(engineCounters)

func (e *Engine) gauge(s State) interface{ Add(int64) int64 } {
	switch s {
	case StateConnecting, StateUpgrading:
		return &e.stats.connecting
	case StateOpen:
		return &e.stats.open
	case StateClosing:
		return &e.stats.closing
	}
	return &discardGauge.dials
}

// setState is setStateLocked for a caller that does not hold c.mu.
func (c *Conn) setState(s State) {
	c.mu.Lock()
	c.setStateLocked(s)
	c.mu.Unlock()
}
