package codec

import (
	"encoding/binary"
	"strconv"
)

// Opcode is the 4-bit frame type (RFC 6455 section 5.2).
type Opcode uint8

const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether o is a control opcode (high bit of the nibble set),
// including the reserved ones 0xB-0xF.
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsReserved reports whether o has no meaning in RFC 6455 (0x3-0x7, 0xB-0xF,
// or anything that does not fit in 4 bits).
func (o Opcode) IsReserved() bool {
	switch o {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "reserved(0x" + strconv.FormatUint(uint64(o), 16) + ")"
}

// Reserved bits as they sit in the first header byte, so Header.Rsv can be
// tested and set without shifting.
const (
	RSV1 byte = 0x40
	RSV2 byte = 0x20
	RSV3 byte = 0x10
)

const (
	// MaxHeaderSize is 2 fixed bytes + 8 bytes of 64-bit length + 4 bytes of mask key.
	MaxHeaderSize = 14
	// MaxControlPayload is the largest payload of a close, ping or pong frame.
	MaxControlPayload = 125
)

// Bits of the two fixed header bytes.
const (
	finBit     = 0x80
	rsvBits    = 0x70
	opcodeBits = 0x0F
	maskBit    = 0x80
	len7Bits   = 0x7F

	len7Max   = 125 // largest length that fits in the 7-bit field
	len16Mark = 126 // 7-bit field value announcing a 16-bit length
	len64Mark = 127 // 7-bit field value announcing a 64-bit length
)

// Header is a decoded frame header. Rsv holds the RSV bits in place (RSV1|RSV2|RSV3);
// Length is the payload length, never negative.
type Header struct {
	Fin    bool
	Rsv    byte
	Opcode Opcode
	Masked bool
	Mask   [4]byte
	Length int64
}

// ParseHeader decodes the frame header at the start of b. It is resumable:
// n is the size of the header, and when n > len(b) the header is incomplete,
// h is zero and the caller should call again once at least n-len(b) more bytes
// have arrived (n may grow once the length byte is known). err is non-nil only for
// a header malformed in itself (ErrLengthOverflow); the context rules are
// FrameChecker's job. Non-minimal length encodings are accepted, as RFC 6455 allows;
// see StrictLength.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return Header{}, 2, nil
	}
	b0, b1 := b[0], b[1]
	len7 := b1 & len7Bits
	masked := b1&maskBit != 0
	n = 2
	switch len7 {
	case len16Mark:
		n += 2
	case len64Mark:
		n += 8
	}
	if masked {
		n += 4
	}
	// Report an impossible 64-bit length as soon as its first byte is here,
	// rather than asking for more bytes of a frame that can never be valid.
	if len7 == len64Mark && len(b) > 2 && b[2]&0x80 != 0 {
		return Header{}, n, ErrLengthOverflow
	}
	if len(b) < n {
		return Header{}, n, nil
	}
	length := int64(len7)
	switch len7 {
	case len16Mark:
		length = int64(binary.BigEndian.Uint16(b[2:4]))
	case len64Mark:
		length = int64(binary.BigEndian.Uint64(b[2:10]))
	}
	var mask [4]byte
	if masked {
		mask = [4]byte(b[n-4 : n])
	}
	return Header{
		Fin:    b0&finBit != 0,
		Rsv:    b0 & rsvBits,
		Opcode: Opcode(b0 & opcodeBits),
		Masked: masked,
		Mask:   mask,
		Length: length,
	}, n, nil
}

// HeaderSize is the size of a minimally encoded header for a payload of length bytes.
func HeaderSize(length int64, masked bool) int {
	n := 2
	switch {
	case length > 0xFFFF:
		n += 8
	case length > len7Max:
		n += 2
	}
	if masked {
		n += 4
	}
	return n
}

// PutHeader writes h into dst with the minimal length encoding and returns the
// number of bytes written. dst must have room for HeaderSize(h.Length, h.Masked)
// bytes (MaxHeaderSize always suffices). Mask is written only when Masked is set;
// only the low 4 bits of Opcode and the RSV bits of Rsv are used; a negative
// Length panics.
func PutHeader(dst []byte, h Header) int {
	if h.Length < 0 {
		panic("codec: PutHeader with negative Length " + strconv.FormatInt(h.Length, 10))
	}
	n := HeaderSize(h.Length, h.Masked)
	_ = dst[n-1] // one bounds check up front

	b0 := h.Rsv&rsvBits | byte(h.Opcode)&opcodeBits
	if h.Fin {
		b0 |= finBit
	}
	var b1 byte
	if h.Masked {
		b1 = maskBit
	}
	dst[0] = b0
	i := 2
	switch {
	case h.Length <= len7Max:
		dst[1] = b1 | byte(h.Length)
	case h.Length <= 0xFFFF:
		dst[1] = b1 | len16Mark
		binary.BigEndian.PutUint16(dst[2:4], uint16(h.Length))
		i = 4
	default:
		dst[1] = b1 | len64Mark
		binary.BigEndian.PutUint64(dst[2:10], uint64(h.Length))
		i = 10
	}
	if h.Masked {
		copy(dst[i:i+4], h.Mask[:])
	}
	return n
}

// AppendHeader appends the minimally encoded header h to dst.
func AppendHeader(dst []byte, h Header) []byte {
	var buf [MaxHeaderSize]byte
	n := PutHeader(buf[:], h)
	return append(dst, buf[:n]...)
}

// StrictLength returns ErrNonMinimalLength when a header that ParseHeader decoded
// as h with size n did not use the shortest length encoding (e.g. 5 sent in 16 bits).
// RFC 6455 does not forbid that from a server, so it is an opt-in check.
func StrictLength(h Header, n int) error {
	if n != HeaderSize(h.Length, h.Masked) {
		return ErrNonMinimalLength
	}
	return nil
}
