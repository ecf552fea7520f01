package codec

// MaskCopy writes src XOR the WebSocket masking key into dst:
// dst[i] = src[i] ^ key[(pos+i)&3]. pos is the offset into the key at which
// src starts (any int; only pos&3 matters), so a payload can be masked in
// pieces. It returns the key offset for the byte after src, (pos+len(src))&3.
//
// len(dst) must be at least len(src) (it panics otherwise); bytes of dst past
// len(src) are not touched. dst and src may be the same slice, but must not
// otherwise overlap.
func MaskCopy(dst, src []byte, key [4]byte, pos int) int {
	// Reslicing checks len(dst) >= len(src) once, so the kernels need not.
	maskBytes(dst[:len(src)], src, key, pos)
	return (pos + len(src)) & 3
}

// Mask masks (or unmasks: XOR is its own inverse) b in place and returns the
// key offset for the byte after b, like MaskCopy(b, b, key, pos).
func Mask(b []byte, key [4]byte, pos int) int {
	maskBytes(b, b, key, pos)
	return (pos + len(b)) & 3
}

// maskImpl names one masking kernel so the tests and benchmarks can run every
// kernel the machine supports, not only the one start-up picked.
// A kernel has MaskCopy's contract except that len(dst) == len(src).
type maskImpl struct {
	name string
	fn   func(dst, src []byte, key [4]byte, pos int)
}
