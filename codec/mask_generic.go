package codec

import (
	"encoding/binary"
	"math/bits"
)

// maskGeneric is the portable kernel: eight bytes per XOR with a uint64 made
// of the key twice. It is what every architecture without assembly (and the
// purego build) uses, and the oracle-checked baseline the tests compare the
// assembly against on every machine. len(dst) == len(src).
func maskGeneric(dst, src []byte, key4 [4]byte, pos int) {
	dst = dst[:len(src)] // lets the compiler drop bounds checks below
	key := rotateKey(key4, pos)
	k := uint64(key) | uint64(key)<<32
	// 32 bytes a round: four independent XORs keep the loop overhead small.
	for len(src) >= 32 {
		s, d := src[:32], dst[:32]
		binary.LittleEndian.PutUint64(d[0:], binary.LittleEndian.Uint64(s[0:])^k)
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(s[8:])^k)
		binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(s[16:])^k)
		binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(s[24:])^k)
		src, dst = src[32:], dst[32:]
	}
	for len(src) >= 8 {
		binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src)^k)
		src, dst = src[8:], dst[8:]
	}
	// Multiples of 8 keep the key phase, so the tail starts at key byte 0.
	if len(src) >= 4 {
		binary.LittleEndian.PutUint32(dst, binary.LittleEndian.Uint32(src)^key)
		src, dst = src[4:], dst[4:]
	}
	for i := range src {
		dst[i] = src[i] ^ byte(key)
		key >>= 8
	}
}

// rotateKey returns the key as a little-endian uint32 whose low byte is
// key[pos&3]: the loops then only see a key that starts at offset 0,
// and any stretch whose length is a multiple of 4 keeps it that way.
func rotateKey(key [4]byte, pos int) uint32 {
	return bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*(pos&3))
}
