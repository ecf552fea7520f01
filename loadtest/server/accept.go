package server

import (
	"crypto/sha1"
	"encoding/base64"
)

// acceptKey computes Sec-WebSocket-Accept (RFC 6455 section 4.2.2).
// TODO: use codec.AcceptKey once the handshake part of codec lands.
func acceptKey(key []byte) [28]byte {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	var sum [sha1.Size]byte
	var out [28]byte
	base64.StdEncoding.Encode(out[:], h.Sum(sum[:0]))
	return out
}
