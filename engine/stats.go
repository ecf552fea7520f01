package engine

import "sync/atomic"

// Stats is a snapshot of an engine's counters.
type Stats struct {
	// Connections by state, now.
	Connecting, Open, Closing int64
	// Totals since the engine started.
	Dials, Upgrades, Closed, Reconnects        int64
	MessagesIn, MessagesOut, BytesIn, BytesOut int64
	PingsAnswered, DroppedMessages             int64
	// Errors by kind.
	DialErrors, HandshakeErrors, ProtocolErrors, Timeouts, SlowConsumers, AbnormalCloses int64
}

// engineCounters are the rare events, counted engine-wide.
type engineCounters struct {
	connecting, open, closing                                                      atomic.Int64
	dials, upgrades, closed, reconnects                                            atomic.Int64
	dialErrors, handshakeErrors, protocolErrors, timeouts, slowConsumers, abnormal atomic.Int64
	dropped                                                                        atomic.Int64
}

// loopCounters are the per-message counts, written only by their loop so that two loops never
// share a cache line on the hot path; Stats sums them.
type loopCounters struct {
	msgsIn, msgsOut, bytesIn, bytesOut, pings atomic.Int64
	_                                         [24]byte
}

// Stats sums the engine's counters.
func (e *Engine) Stats() Stats {
	s := Stats{
		Connecting:      e.stats.connecting.Load(),
		Open:            e.stats.open.Load(),
		Closing:         e.stats.closing.Load(),
		Dials:           e.stats.dials.Load(),
		Upgrades:        e.stats.upgrades.Load(),
		Closed:          e.stats.closed.Load(),
		Reconnects:      e.stats.reconnects.Load(),
		DroppedMessages: e.stats.dropped.Load(),
		DialErrors:      e.stats.dialErrors.Load(),
		HandshakeErrors: e.stats.handshakeErrors.Load(),
		ProtocolErrors:  e.stats.protocolErrors.Load(),
		Timeouts:        e.stats.timeouts.Load(),
		SlowConsumers:   e.stats.slowConsumers.Load(),
		AbnormalCloses:  e.stats.abnormal.Load(),
	}
	e.mu.Lock()
	loops := e.loops
	e.mu.Unlock()
	for _, l := range loops {
		s.MessagesIn += l.stats.msgsIn.Load()
		s.MessagesOut += l.stats.msgsOut.Load()
		s.BytesIn += l.stats.bytesIn.Load()
		s.BytesOut += l.stats.bytesOut.Load()
		s.PingsAnswered += l.stats.pings.Load()
	}
	return s
}
