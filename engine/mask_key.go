package engine

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// Mask keys must be unpredictable to intermediaries (RFC 6455 §5.3), but reading crypto/rand per
// frame would cost a syscall-grade call on the hot path. Each connection instead runs its own
// splitmix64 sequence from a seed drawn from crypto/rand once per process and spread over
// connections by a counter: no lock, no shared cache line, 8 bytes per connection.
var (
	keySeed    uint64
	keyCounter atomic.Uint64
)

func init() {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("wsfleet: crypto/rand unavailable: " + err.Error())
	}
	keySeed = binary.LittleEndian.Uint64(b[:])
}

// newKeyState gives a connection the start of its own sequence.
func newKeyState() uint64 {
	return splitmix(keySeed ^ keyCounter.Add(0x9E3779B97F4A7C15))
}

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// nextMaskKey advances a connection's sequence (the caller holds the connection's lock).
func nextMaskKey(state *uint64) [4]byte {
	*state = splitmix(*state)
	v := uint32(*state >> 17)
	return [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}
