package pool

import (
	"math/bits"

	"github.com/valyala/bytebufferpool"
)

// Size classes are the powers of two from 256 B to 16 MiB (17 classes).
// Powers of two rather than four: Get rounds a request up to its class and Put
// files a buffer under the largest class its cap covers, so the ratio between
// neighbouring classes bounds the memory wasted in both directions; with 2 it
// is under one half, with 4 it would be up to three quarters. Powers of two
// are also exact sizes for Go's allocator, so a fresh class buffer wastes
// nothing. Seventeen sync.Pools cost nothing worth counting.
const (
	minClassBits = 8  // 256 B: smaller buffers are not worth pooling
	maxClassBits = 24 // 16 MiB: the default MaxMessageSize
	numClasses   = maxClassBits - minClassBits + 1

	// SmallestClass is the cap of the smallest pooled buffer.
	SmallestClass = 1 << minClassBits
	// LargestClass is the cap of the largest pooled buffer; larger buffers are
	// allocated by Get and dropped by Put.
	LargestClass = 1 << maxClassBits
)

// classes[i] holds buffers whose cap is exactly 256<<i (see Put).
var classes [numClasses]bytebufferpool.Pool

// classFor returns the smallest class whose size is >= n (n <= LargestClass).
func classFor(n int) int {
	if n <= SmallestClass {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassBits
}

// ClassSize returns the cap Get(n) guarantees: n rounded up to its class, or
// n itself above LargestClass.
func ClassSize(n int) int {
	if n > LargestClass {
		return n
	}
	return SmallestClass << classFor(n)
}

// Get returns a buffer with len 0 and cap >= sizeHint. The caller owns it
// until it calls Put.
func Get(sizeHint int) *bytebufferpool.ByteBuffer {
	if sizeHint > LargestClass {
		return &bytebufferpool.ByteBuffer{B: make([]byte, 0, sizeHint)}
	}
	c := classFor(sizeHint)
	b := classes[c].Get()
	// A miss gives a buffer of bytebufferpool's calibrated default size,
	// which is 0 until it has seen 42000 Puts; only our own cap is a promise.
	if size := SmallestClass << c; cap(b.B) < size {
		b.B = make([]byte, 0, size)
	}
	return b
}

// Put gives b back. b and every slice of b.B must not be used afterwards.
// Buffers smaller than SmallestClass or larger than LargestClass are dropped.
func Put(b *bytebufferpool.ByteBuffer) {
	if b == nil {
		return
	}
	n := cap(b.B)
	if n < SmallestClass || n > LargestClass {
		b.B = nil // dropped: let the GC have it even if b itself lives on
		return
	}
	// File it under the largest class its cap covers, so that every buffer in
	// class c has cap >= its size and Get can keep its promise.
	c := bits.Len(uint(n)) - 1 - minClassBits
	size := SmallestClass << c
	// bytebufferpool.Pool calibrates itself from len(B) at Put and, once
	// calibrated, drops buffers whose cap exceeds the sizes it saw. Showing
	// it len == cap == class size on every Put makes its calibration agree
	// with the class, so nothing we keep is ever dropped, and its misses
	// allocate exactly the class size. A cap beyond the class (a buffer grown
	// by append) is trimmed; the powers-of-two classes bound that waste.
	b.B = b.B[:size:size]
	classes[c].Put(b) // resets len to 0
}

// Grow makes room for n more bytes after len(b.B), keeping the contents. If b
// is already big enough it is returned as is; otherwise the contents move to a
// buffer from a bigger class, b is Put, and the new buffer is returned: the
// caller must use the result and forget b.
func Grow(b *bytebufferpool.ByteBuffer, n int) *bytebufferpool.ByteBuffer {
	if b == nil {
		return Get(n)
	}
	if n <= cap(b.B)-len(b.B) {
		return b
	}
	need := len(b.B) + n
	if need < 0 {
		panic("pool: Grow size overflows int")
	}
	// Above the classes there is no rounding up: double, as append would, so
	// that growing a big message piece by piece stays linear.
	if need > LargestClass && need < 2*cap(b.B) {
		need = 2 * cap(b.B)
	}
	nb := Get(need)
	nb.B = append(nb.B, b.B...)
	Put(b)
	return nb
}
