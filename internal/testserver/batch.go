package testserver

// batch gathers the replies of one read so that they leave in one Write or
// Writev. Small pieces are copied into a reusable arena; large payloads are
// referenced where they lie (gnet's read buffer), which is valid until the
// handler returns, so the batch is always flushed before that.
type batch struct {
	arena    []byte
	segStart int      // start of the arena bytes not yet in iov
	iov      [][]byte // at most maxIovecs entries
}

const (
	// maxIovecs: x/sys/unix.Writev builds its iovec array on the stack only up to 8.
	maxIovecs = 8
	// copyBelow: payloads shorter than this are copied; a memcpy is cheaper than an iovec.
	copyBelow = 4 << 10
	// flushArena: flush early rather than let one read's replies grow the arena further.
	flushArena = 256 << 10
	// keepArena: an arena that grew past this (a burst) is dropped instead of kept.
	keepArena = 1 << 20
)

func newBatch() *batch {
	return &batch{arena: make([]byte, 0, 64<<10), iov: make([][]byte, 0, maxIovecs)}
}

// appendCopy copies p into the arena.
func (b *batch) appendCopy(p []byte) { b.arena = append(b.arena, p...) }

// appendPayload queues p, by reference when it is large.
func (b *batch) appendPayload(p []byte) {
	if len(p) < copyBelow {
		b.arena = append(b.arena, p...)
		return
	}
	b.closeSegment()
	b.iov = append(b.iov, p)
}

// closeSegment moves the pending arena bytes into iov. Later appends may move the
// arena, but the bytes a closed segment points to are never written again.
func (b *batch) closeSegment() {
	if len(b.arena) > b.segStart {
		b.iov = append(b.iov, b.arena[b.segStart:])
		b.segStart = len(b.arena)
	}
}

// full reports whether the batch should be flushed before more is queued:
// one more reference and one more arena segment must still fit.
func (b *batch) full() bool {
	return len(b.iov) >= maxIovecs-2 || len(b.arena) >= flushArena
}

// segments returns everything queued, in order.
func (b *batch) segments() [][]byte {
	b.closeSegment()
	return b.iov
}

func (b *batch) empty() bool { return len(b.iov) == 0 && len(b.arena) == b.segStart }

func (b *batch) reset() {
	for i := range b.iov {
		b.iov[i] = nil // do not pin read buffers or old arenas
	}
	b.iov = b.iov[:0]
	if cap(b.arena) > keepArena {
		b.arena = make([]byte, 0, 64<<10)
	}
	b.arena = b.arena[:0]
	b.segStart = 0
}
