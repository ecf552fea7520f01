package codec

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// maskRef is the oracle: the definition from RFC 6455 section 5.3, one byte
// at a time.
func maskRef(dst, src []byte, key [4]byte, pos int) int {
	for i := range src {
		dst[i] = src[i] ^ key[(pos+i)&3]
	}
	return (pos + len(src)) & 3
}

// maskFuncs is everything under test: each kernel the machine supports,
// wrapped to the public signature, plus the public MaskCopy and Mask.
func maskFuncs() []struct {
	name string
	fn   func(dst, src []byte, key [4]byte, pos int) int
} {
	type entry = struct {
		name string
		fn   func(dst, src []byte, key [4]byte, pos int) int
	}
	var fs []entry
	for _, impl := range maskImpls {
		fs = append(fs, entry{impl.name, func(dst, src []byte, key [4]byte, pos int) int {
			impl.fn(dst[:len(src)], src, key, pos)
			return (pos + len(src)) & 3
		}})
	}
	fs = append(fs, entry{"MaskCopy", MaskCopy})
	return fs
}

var testKey = [4]byte{0x5a, 0xc3, 0x17, 0xe8}

// checkMask runs fn over src placed at srcOff and dst at dstOff inside larger
// buffers, and compares it with the oracle, including the guard bytes around
// dst that must stay untouched. If alias, dst is src itself.
func checkMask(t *testing.T, name string, fn func(dst, src []byte, key [4]byte, pos int) int,
	data []byte, key [4]byte, pos, srcOff, dstOff int, alias bool) {
	t.Helper()
	const guard = 40
	n := len(data)
	srcBuf := make([]byte, srcOff+n+guard)
	src := srcBuf[srcOff : srcOff+n]
	copy(src, data)
	dstBuf := make([]byte, dstOff+n+guard)
	for i := range dstBuf {
		dstBuf[i] = 0xEE
	}
	dst := dstBuf[dstOff:] // longer than src: the rest must stay 0xEE
	if alias {
		dstBuf, dstOff, dst = srcBuf, srcOff, srcBuf[srcOff:]
		for i := srcOff + n; i < len(srcBuf); i++ {
			srcBuf[i] = 0xEE
		}
	}
	want := make([]byte, n)
	wantPos := maskRef(want, data, key, pos)

	gotPos := fn(dst, src, key, pos)
	if gotPos != wantPos {
		t.Fatalf("%s n=%d pos=%d: returned %d, want %d", name, n, pos, gotPos, wantPos)
	}
	if !bytes.Equal(dst[:n], want) {
		for i := range want {
			if dst[i] != want[i] {
				t.Fatalf("%s n=%d pos=%d srcOff=%d dstOff=%d alias=%v: first wrong byte at %d: got %#x want %#x",
					name, n, pos, srcOff, dstOff, alias, i, dst[i], want[i])
			}
		}
	}
	for i := dstOff + n; i < len(dstBuf); i++ {
		if dstBuf[i] != 0xEE {
			t.Fatalf("%s n=%d pos=%d: wrote past len(src) at %d", name, n, pos, i-dstOff)
		}
	}
	if !alias {
		for i := 0; i < dstOff; i++ {
			if dstBuf[i] != 0xEE {
				t.Fatalf("%s n=%d pos=%d: wrote before dst at %d", name, n, pos, i-dstOff)
			}
		}
		if !bytes.Equal(src, data) {
			t.Fatalf("%s n=%d pos=%d: modified src", name, n, pos)
		}
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestMaskAllLengths: every length 0..300, every key offset (and offsets past
// 3 and negative ones, which count mod 4), separate and aliased buffers.
func TestMaskAllLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, f := range maskFuncs() {
		for n := 0; n <= 300; n++ {
			data := randBytes(r, n)
			for _, pos := range []int{0, 1, 2, 3, 4, 7, 1001, -1} {
				checkMask(t, f.name, f.fn, data, testKey, pos, 0, 0, false)
				checkMask(t, f.name, f.fn, data, testKey, pos, 0, 0, true)
			}
		}
	}
}

// TestMaskMisaligned moves the start of src and dst independently by 0..31
// bytes, which exercises the AVX2 alignment head and unaligned loads.
func TestMaskMisaligned(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lengths := []int{1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 257, 1000}
	for _, f := range maskFuncs() {
		for _, n := range lengths {
			data := randBytes(r, n)
			for so := 0; so < 32; so++ {
				for do := 0; do < 32; do++ {
					pos := (so + do) & 3
					checkMask(t, f.name, f.fn, data, testKey, pos, so, do, false)
				}
				checkMask(t, f.name, f.fn, data, testKey, so, so, so, true)
			}
		}
	}
}

// TestMaskRandomLarge: random lengths up to 1 MiB with random keys, offsets
// and alignments.
func TestMaskRandomLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	for _, f := range maskFuncs() {
		for i := 0; i < rounds; i++ {
			n := r.IntN(1<<20 + 1)
			var key [4]byte
			binary.LittleEndian.PutUint32(key[:], r.Uint32())
			data := randBytes(r, n)
			checkMask(t, f.name, f.fn, data, key, r.IntN(1<<30), r.IntN(32), r.IntN(32), i%3 == 0)
		}
	}
}

// TestMaskInPlace checks the public Mask against MaskCopy's oracle.
func TestMaskInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	inPlace := func(dst, src []byte, key [4]byte, pos int) int { return Mask(src, key, pos) }
	for n := 0; n <= 300; n++ {
		data := randBytes(r, n)
		for pos := 0; pos < 8; pos++ {
			checkMask(t, "Mask", inPlace, data, testKey, pos, n%32, n%32, true)
		}
	}
}

// TestMaskInPieces: masking a payload in arbitrary pieces, carrying the
// returned offset, gives the same bytes as masking it whole.
func TestMaskInPieces(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	data := randBytes(r, 5000)
	want := make([]byte, len(data))
	maskRef(want, data, testKey, 0)
	got := make([]byte, len(data))
	for round := 0; round < 50; round++ {
		pos := 0
		for i := 0; i < len(data); {
			j := min(len(data), i+r.IntN(100))
			pos = MaskCopy(got[i:], data[i:j], testKey, pos)
			i = j
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: pieces differ from whole", round)
		}
	}
	// Unmasking is masking again.
	Mask(got, testKey, 0)
	if !bytes.Equal(got, data) {
		t.Fatal("Mask twice did not give back the data")
	}
}

func TestMaskCopyShortDstPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MaskCopy with len(dst) < len(src) did not panic")
		}
	}()
	MaskCopy(make([]byte, 3), make([]byte, 4), testKey, 0)
}

func TestMaskNil(t *testing.T) {
	if got := MaskCopy(nil, nil, testKey, 6); got != 2 {
		t.Fatalf("MaskCopy(nil, nil, pos 6) = %d, want 2", got)
	}
	if got := Mask(nil, testKey, 3); got != 3 {
		t.Fatalf("Mask(nil, pos 3) = %d, want 3", got)
	}
}

func TestMaskAllocs(t *testing.T) {
	b := make([]byte, 4096)
	if n := testing.AllocsPerRun(100, func() {
		MaskCopy(b[1:], b[:4000], testKey, 1)
		Mask(b[:125], testKey, 2)
	}); n != 0 {
		t.Fatalf("%v allocs per run, want 0", n)
	}
}

// FuzzMask checks every kernel and the public functions against the byte
// loop, for any data, key, key offset and start offsets of src and dst.
func FuzzMask(f *testing.F) {
	f.Add([]byte("hello, websocket"), uint32(0x12345678), 0, uint8(0), uint8(0), false)
	f.Add(bytes.Repeat([]byte{0xff}, 300), uint32(0xdeadbeef), 3, uint8(5), uint8(17), false)
	f.Add(make([]byte, 33), uint32(1), 6, uint8(31), uint8(1), true)
	f.Fuzz(func(t *testing.T, data []byte, key32 uint32, pos int, srcOff, dstOff uint8, alias bool) {
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], key32)
		so, do := int(srcOff&31), int(dstOff&31)
		for _, fn := range maskFuncs() {
			checkMask(t, fn.name, fn.fn, data, key, pos, so, do, alias)
		}
		inPlace := func(dst, src []byte, key [4]byte, pos int) int { return Mask(src, key, pos) }
		checkMask(t, "Mask", inPlace, data, key, pos, so, so, true)
	})
}
