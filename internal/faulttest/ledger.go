package faulttest

import (
	"encoding/binary"
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// No silent loss, as these tests define it: every message that Send (or TrySend) accepted is
// either echoed back by the server carrying its stamp (so the server received it), or was
// sent during a connection epoch (the span from one OnOpen to the next OnClose) that ended
// with an error the application was told about. A message that is in neither set was lost
// silently. The ledger below keeps, per connection, the epoch of every accepted message and
// the set of stamps that came back, and reconciles the two at the end of a round.

// stampLen is the stamped header of every message: connection id (4 bytes), sequence number
// (8) and send time in Unix ns (8), little endian. The rest is filler derived from the
// sequence number, so a message that comes back altered is caught byte by byte.
const stampLen = 20

// closeRec is one end of an epoch as the application saw it.
type closeRec struct {
	At    int64  `json:"at"` // Unix ns
	Class string `json:"class"`
	Err   string `json:"err"`
	// Quiet is how long before the close the connection last received anything (a message
	// or a pong), ns: what keepalive bounds by PingInterval + PongTimeout.
	Quiet int64 `json:"quiet"`
}

// connState is one connection's ledger. Handler callbacks (on the loop), the owner-event
// reader, and the sender all touch it under mu.
type connState struct {
	mu     sync.Mutex
	id     uint32
	conn   *engine.Conn
	owned  bool // events come through the owner channel, not a Handler
	open   bool
	epoch  int // OnOpen (or Reconnected) count: the epoch of a message sent now
	opens  []int64
	closes []closeRec
	heard  int64 // Unix ns of the last message or pong received

	sentEpoch []int32  // by sequence number: the epoch each accepted message was sent in
	got       []uint64 // bitset by sequence number: stamps echoed back
	received  int
	lastSeq   int64
	reordered int
	corrupt   int
	backedUp  int
	sendErrs  int

	ownerReconnecting, ownerReconnected, ownerFinal int
	final                                           string
}

func newConnState(id uint32) *connState { return &connState{id: id, lastSeq: -1} }

// opened records an OnOpen (or an owner's Reconnected event, or the first successful dial).
func (st *connState) opened() {
	st.mu.Lock()
	st.open = true
	st.epoch++
	st.heard = time.Now().UnixNano()
	st.opens = append(st.opens, st.heard)
	st.mu.Unlock()
}

// closed records the end of an epoch.
func (st *connState) closed(err error) {
	st.mu.Lock()
	if st.open {
		st.open = false
		now := time.Now().UnixNano()
		st.closes = append(st.closes, closeRec{At: now, Class: Classify(err), Err: errString(err), Quiet: now - st.heard})
	}
	st.mu.Unlock()
}

// touch records a pong: traffic that keeps keepalive content.
func (st *connState) touch() {
	st.mu.Lock()
	st.heard = time.Now().UnixNano()
	st.mu.Unlock()
}

// receive checks one echoed message and records its stamp.
func (st *connState) receive(data []byte, size func(seq uint64) int, rtt *sampler) {
	id, seq, ts, ok := parseStamp(data)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.heard = time.Now().UnixNano()
	if !ok || id != st.id || len(data) != size(seq) || !fillerIntact(data, seq) {
		st.corrupt++
		return
	}
	if int64(seq) <= st.lastSeq {
		st.reordered++
	}
	st.lastSeq = int64(seq)
	w := int(seq / 64)
	for len(st.got) <= w {
		st.got = append(st.got, 0)
	}
	if st.got[w]&(1<<(seq%64)) == 0 {
		st.got[w] |= 1 << (seq % 64)
		st.received++
	}
	rtt.add(time.Now().UnixNano() - ts)
}

// accepted records a message Send accepted, in the epoch current now: an epoch only changes
// on OnOpen, which cannot come between Send accepting and this call unless a whole reconnect
// fits in between, and the reconnect delay is far longer than this gap.
func (st *connState) accepted() {
	st.mu.Lock()
	st.sentEpoch = append(st.sentEpoch, int32(st.epoch))
	st.mu.Unlock()
}

// reconcile splits the accepted messages into received, lost with an error the application
// saw (attributed), and lost silently.
func (st *connState) reconcile() (sent, received, attributed, silent int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for seq, ep := range st.sentEpoch {
		w, bit := seq/64, uint(seq%64)
		switch {
		case w < len(st.got) && st.got[w]&(1<<bit) != 0:
			received++
		case int(ep) >= 1 && int(ep) <= len(st.closes) && st.closes[ep-1].Class != ClassLocal:
			attributed++
		default:
			silent++
		}
	}
	return len(st.sentEpoch), received, attributed, silent
}

// Error classes of closeRec.
const (
	ClassLocal    = "local"    // our own Close: not a fault
	ClassTimeout  = "timeout"  // ErrTimeout (keepalive, connect)
	ClassReset    = "reset"    // ErrAbnormalClose with ECONNRESET
	ClassAbnormal = "abnormal" // ErrAbnormalClose otherwise (EOF, cut mid-frame)
	ClassRemote   = "remote"   // a close frame from the server
	ClassProtocol = "protocol"
	ClassOther    = "other"
)

// Classify names the kind of error that ended an epoch.
func Classify(err error) string {
	var ce *engine.CloseError
	var pe *engine.ProtocolError
	switch {
	case err == nil:
		return ClassLocal
	case errors.As(err, &ce):
		if ce.Remote {
			return ClassRemote
		}
		return ClassLocal
	case errors.Is(err, engine.ErrTimeout):
		return ClassTimeout
	case errors.Is(err, syscall.ECONNRESET):
		return ClassReset
	case errors.Is(err, engine.ErrAbnormalClose):
		return ClassAbnormal
	case errors.As(err, &pe):
		return ClassProtocol
	}
	return ClassOther
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// messageSize is the size of message seq: fixed, or (vary) spread over [stampLen, max].
func messageSize(seq uint64, max int, vary bool) int {
	if !vary || max <= stampLen {
		return max
	}
	return stampLen + int(seq*7919%uint64(max-stampLen+1))
}

func fillStamp(buf []byte, id uint32, seq uint64) {
	binary.LittleEndian.PutUint32(buf[0:], id)
	binary.LittleEndian.PutUint64(buf[4:], seq)
	binary.LittleEndian.PutUint64(buf[12:], uint64(time.Now().UnixNano()))
	for i := stampLen; i < len(buf); i++ {
		buf[i] = fillerByte(seq, i)
	}
}

func fillerByte(seq uint64, i int) byte { return byte(seq*7 + uint64(i)*13) }

func parseStamp(b []byte) (id uint32, seq uint64, ts int64, ok bool) {
	if len(b) < stampLen {
		return 0, 0, 0, false
	}
	return binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint64(b[4:]), int64(binary.LittleEndian.Uint64(b[12:])), true
}

func fillerIntact(b []byte, seq uint64) bool {
	for i := stampLen; i < len(b); i++ {
		if b[i] != fillerByte(seq, i) {
			return false
		}
	}
	return true
}
