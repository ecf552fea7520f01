package codec

import (
	"fmt"
	"testing"
)

// Classic b.N loops, not b.Loop: b.Loop keeps calls in its body from being
// inlined, which real callers of MaskCopy get.

var benchSink int

var benchMaskSizes = []int{16, 125, 1024, 16384, 65536}

// benchSizes runs fn as sub-benchmarks size=N over fresh src and dst buffers.
func benchSizes(b *testing.B, fn func(b *testing.B, dst, src []byte)) {
	for _, n := range benchMaskSizes {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			src := make([]byte, n)
			dst := make([]byte, n)
			for i := range src {
				src[i] = byte(i)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			fn(b, dst, src)
		})
	}
}

func BenchmarkMaskCopy(b *testing.B) {
	benchSizes(b, func(b *testing.B, dst, src []byte) {
		pos := 0
		for i := 0; i < b.N; i++ {
			pos = MaskCopy(dst, src, testKey, pos)
		}
		benchSink = pos
	})
}

func BenchmarkMask(b *testing.B) {
	benchSizes(b, func(b *testing.B, dst, src []byte) {
		pos := 0
		for i := 0; i < b.N; i++ {
			pos = Mask(dst, testKey, pos)
		}
		benchSink = pos
	})
}

// BenchmarkCopy is the floor MaskCopy is measured against: copy() moves the
// same bytes without the XOR.
func BenchmarkCopy(b *testing.B) {
	benchSizes(b, func(b *testing.B, dst, src []byte) {
		for i := 0; i < b.N; i++ {
			benchSink = copy(dst, src)
		}
	})
}

// BenchmarkMaskKernel runs every kernel this machine supports, so a change to
// one can be judged against the others.
func BenchmarkMaskKernel(b *testing.B) {
	for _, impl := range maskImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			benchSizes(b, func(b *testing.B, dst, src []byte) {
				fn := impl.fn
				for i := 0; i < b.N; i++ {
					fn(dst, src, testKey, 1)
				}
			})
		})
	}
}
