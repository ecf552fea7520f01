package testserver

import "sync/atomic"

// Stats is a snapshot of the server's counters. Bytes count data payload
// (text and binary, as announced in frame headers), not framing or control frames.
type Stats struct {
	Open        int64 // TCP connections open now
	Accepted    int64 // TCP connections accepted since Start
	Upgraded    int64 // successful WebSocket handshakes
	Rejected    int64 // requests answered with an HTTP error (400, 404, 426, 431)
	MessagesIn  int64 // complete data messages received
	MessagesOut int64 // data messages sent (echoes and pushes)
	BytesIn     int64
	BytesOut    int64
}

// counters belong to one loop: only that loop's goroutine adds to them, so the
// atomic adds never contend; Stats sums the loops. The padding keeps two loops'
// counters off one cache line.
type counters struct {
	_           [64]byte
	open        atomic.Int64
	accepted    atomic.Int64
	upgraded    atomic.Int64
	rejected    atomic.Int64
	messagesIn  atomic.Int64
	messagesOut atomic.Int64
	bytesIn     atomic.Int64
	bytesOut    atomic.Int64
	_           [64]byte
}

func (c *counters) addTo(s *Stats) {
	s.Open += c.open.Load()
	s.Accepted += c.accepted.Load()
	s.Upgraded += c.upgraded.Load()
	s.Rejected += c.rejected.Load()
	s.MessagesIn += c.messagesIn.Load()
	s.MessagesOut += c.messagesOut.Load()
	s.BytesIn += c.bytesIn.Load()
	s.BytesOut += c.bytesOut.Load()
}
