package codec

import (
	"encoding/binary"
	"math/bits"
)

// MaskCopy writes src XOR the WebSocket masking key into dst:
// dst[i] = src[i] ^ key[(pos+i)&3]. pos is the offset into the key at which
// src starts (any int; only pos&3 matters), so a payload can be masked in
// pieces. It returns the key offset for the byte after src, (pos+len(src))&3.
//
// len(dst) must be at least len(src) (it panics otherwise); bytes of dst past
// len(src) are not touched. dst and src may be the same slice, but must not
// otherwise overlap.
func MaskCopy(dst, src []byte, key [4]byte, pos int) int {
	n := len(src)
	dst = dst[:n] // checks len(dst) >= len(src) once, so the kernels need not
	end := (pos + n) & 3
	if uint(n-8) > 8 { // not 8..16 (n < 8 wraps around to a huge uint)
		maskBytes(dst, src, key, pos)
		return end
	}
	// 8..16 bytes, a common size for small messages: two overlapping words in
	// Go. Calling assembly costs more than this work (its arguments go
	// through the stack); measured in bench/goals_test.go. Both words are
	// loaded before either is stored, so dst == src works. The key doubled
	// to 64 bits repeats every 4 bytes, so rotating it by 8*pos bits (mod 64)
	// starts it at key[pos&3]; the last word starts at key offset end.
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	head, tail := binary.LittleEndian.Uint64(src), binary.LittleEndian.Uint64(src[n-8:])
	binary.LittleEndian.PutUint64(dst, head^bits.RotateLeft64(k, -8*pos))
	binary.LittleEndian.PutUint64(dst[n-8:], tail^bits.RotateLeft64(k, -8*end))
	return end
}

// Mask masks (or unmasks: XOR is its own inverse) b in place and returns the
// key offset for the byte after b, like MaskCopy(b, b, key, pos).
func Mask(b []byte, key [4]byte, pos int) int {
	return MaskCopy(b, b, key, pos)
}

// maskImpl names one masking kernel so the tests and benchmarks can run every
// kernel the machine supports, not only the one start-up picked.
// A kernel has MaskCopy's contract except that len(dst) == len(src).
type maskImpl struct {
	name string
	fn   func(dst, src []byte, key [4]byte, pos int)
}
