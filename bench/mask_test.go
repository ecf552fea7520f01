package bench

import (
	"fmt"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/codec"
)

// Payload sizes: a tiny message, the largest control payload, then sizes
// where throughput, cache size and memory bandwidth take over.
var maskSizes = []int{16, 125, 1024, 16384, 65536}

var maskKey = [4]byte{0x5a, 0xc3, 0x17, 0xe8}

var sink int

// maskImpls are the contenders. Each masks (or copies) len(src) bytes; the
// in-place ones work on dst, which starts as a copy of src.
var maskImpls = []struct {
	name string
	fn   func(dst, src []byte)
}{
	// wsfleet masking while copying, as the engine does into its out buffer.
	{"wsfleet-maskcopy", func(dst, src []byte) { sink = codec.MaskCopy(dst, src, maskKey, 0) }},
	// wsfleet masking in place.
	{"wsfleet-mask", func(dst, src []byte) { sink = codec.Mask(dst, maskKey, 0) }},
	// gobwas/ws masks in place only.
	{"gobwas-cipher", func(dst, src []byte) { ws.Cipher(dst, maskKey, 0) }},
	// The definition, one byte at a time.
	{"byteloop", func(dst, src []byte) {
		for i, c := range src {
			dst[i] = c ^ maskKey[i&3]
		}
	}},
	// The floor: moving the bytes without masking them.
	{"copy", func(dst, src []byte) { sink = copy(dst, src) }},
}

// BenchmarkMask runs every contender at every size. One top-level benchmark
// so that with -count N the contenders take turns: load from other work on
// the machine then hits them alike, and the ratios within a run hold.
func BenchmarkMask(b *testing.B) {
	benchMask(b, 0)
}

// BenchmarkMaskOffset is the engine's real case: the payload sits after a
// frame header, so dst starts 6 bytes into an aligned buffer (a masked
// client header for a payload up to 125 bytes), and src at an odd address.
func BenchmarkMaskOffset(b *testing.B) {
	benchMask(b, 6)
}

// Sizes outer, contenders inner: the contenders at one size run back to back,
// so a burst of load from elsewhere skews one size rather than one contender.
func benchMask(b *testing.B, dstOff int) {
	for _, n := range maskSizes {
		for _, impl := range maskImpls {
			b.Run(fmt.Sprintf("impl=%s/size=%d", impl.name, n), func(b *testing.B) {
				srcOff := 0
				if dstOff != 0 {
					srcOff = 1
				}
				src := make([]byte, srcOff+n)[srcOff:]
				dst := make([]byte, dstOff+n)[dstOff:]
				for i := range src {
					src[i] = byte(i * 7)
				}
				copy(dst, src)
				fn := impl.fn
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					fn(dst, src)
				}
			})
		}
	}
}
