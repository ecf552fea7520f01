package testserver

import (
	"encoding/binary"
	"time"

	"github.com/wsfleet/wsfleet/codec"
)

// pushState drives /push: one binary message every interval, sent from the loop's
// timer pass (never from another goroutine, so no AsyncWrite and its allocations).
type pushState struct {
	interval int64
	size     int
	count    int64 // 0: forever
	seq      uint64
	next     int64 // ns since server start
	zeros    []byte
}

// nextGridPoint is the first multiple of interval (since the server started) after now.
// Pushes run on that grid rather than from each handshake, so that all connections with
// one interval are due together and a loop sends them all in one timer pass.
func nextGridPoint(now, interval int64) int64 {
	return (now/interval + 1) * interval
}

// pushSkipAbove: a client that has not read this much of its pushes is skipped for a
// tick (its sequence number still advances, so the gap shows) rather than buffered.
const pushSkipAbove = 4 << 20

func newPushState(s *Server, r route, now int64) *pushState {
	return &pushState{
		interval: int64(r.pushInterval),
		size:     r.pushSize,
		count:    r.pushCount,
		next:     nextGridPoint(now, int64(r.pushInterval)),
		zeros:    s.zeroFill(r.pushSize - pushHeaderSize),
	}
}

// tick sends the push that is due, if any, and plans the next one. It returns false
// if the connection closed under a failed write.
func (ps *pushState) tick(wc *wsConn, now int64) bool {
	if now < ps.next {
		return true
	}
	if ps.count > 0 && int64(ps.seq) >= ps.count {
		ps.next = 0
		return true
	}
	if wc.c.OutboundBuffered() <= pushSkipAbove {
		b := wc.loop.out
		b.arena = codec.AppendHeader(b.arena, codec.Header{Fin: true, Opcode: codec.OpBinary, Length: int64(ps.size)})
		b.arena = binary.LittleEndian.AppendUint64(b.arena, uint64(time.Now().UnixNano()))
		b.arena = binary.LittleEndian.AppendUint64(b.arena, ps.seq)
		b.appendPayload(ps.zeros)
		if !wc.flush(b) {
			return false
		}
		wc.loop.ctr.messagesOut.Add(1)
		wc.loop.ctr.bytesOut.Add(int64(ps.size))
	}
	ps.seq++
	// One push per tick: a late loop does not burst to catch up, it moves on.
	ps.next += ps.interval
	if ps.next <= now {
		ps.next = nextGridPoint(now, ps.interval)
	}
	if ps.count > 0 && int64(ps.seq) >= ps.count {
		ps.next = 0
	}
	return true
}
