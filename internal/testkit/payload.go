package testkit

import (
	"math/rand/v2"
	"unicode/utf8"
)

// Bytes is n pseudo-random bytes, the same for the same seed: data that does not compress.
func Bytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Letters is n pseudo-random lower-case ASCII letters, the same for the same seed: valid
// text that compresses somewhat.
func Letters(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(r.IntN(26))
	}
	return b
}

// Payload is n bytes of text (Letters) or binary data (Bytes), seeded by n.
func Payload(n int, text bool) []byte {
	if text {
		return Letters(n, uint64(n))
	}
	return Bytes(n, uint64(n))
}

// HalfCompressible alternates 512-byte runs of random bytes and of one repeated byte.
func HalfCompressible(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 5))
	b := make([]byte, n)
	for i := range b {
		if (i/512)%2 == 0 {
			b[i] = byte(r.Uint32())
		} else {
			b[i] = byte(i / 512)
		}
	}
	return b
}

// UTF8 is n bytes of valid UTF-8 mixing 1- to 4-byte sequences, so that message and read
// boundaries fall inside multi-byte characters.
func UTF8(n int) []byte {
	b := make([]byte, 0, n)
	runes := []rune{'a', 'é', 'b', '€', 'c', '😀', 'd', 'ж', '中'}
	for i := 0; len(b) < n; i++ {
		r := runes[i%len(runes)]
		if len(b)+utf8.RuneLen(r) > n {
			r = 'z'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}
