package codec

import (
	"encoding/binary"
	"math/bits"
)

// The validator is a deterministic automaton whose states are exactly the valid
// prefixes of a UTF-8 sequence (RFC 3629, Table 3-7 of the Unicode standard), so
// it rejects at the first byte after which no continuation could make the text
// valid: 0xC0, 0xC1, 0xF5-0xFF, a stray continuation byte, an overlong form
// (E0 80, F0 80), a surrogate (ED A0) or a code point above U+10FFFF (F4 90).
//
// It is a shift-based DFA: each state is a bit offset (a multiple of 6) and
// utf8Rows[b] packs, for every state s, the next state at bits s..s+5. One step is
// then a table load and a shift, with no branch.
const (
	utf8Accept  = 0 * 6 // between characters; zero so that the zero validator is ready
	utf8Reject  = 1 * 6 // sticky
	utf8Need1   = 2 * 6 // one continuation byte 80..BF to go
	utf8Need2   = 3 * 6 // two continuation bytes 80..BF to go
	utf8Need3   = 4 * 6 // after F1..F3: three continuation bytes 80..BF to go
	utf8AfterE0 = 5 * 6 // next must be A0..BF (80..9F would be overlong)
	utf8AfterED = 6 * 6 // next must be 80..9F (A0..BF would be a surrogate)
	utf8AfterF0 = 7 * 6 // next must be 90..BF (80..8F would be overlong)
	utf8AfterF4 = 8 * 6 // next must be 80..8F (90..BF would be above U+10FFFF)

	utf8StateBits = 63
)

var utf8Rows = buildUTF8Rows()

func buildUTF8Rows() (rows [256]uint64) {
	for b := range 256 {
		var row uint64
		to := func(from, next uint64) { row = row&^(utf8StateBits<<from) | next<<from }
		for from := uint64(utf8Accept); from <= utf8AfterF4; from += 6 {
			to(from, utf8Reject)
		}
		switch {
		case b < 0x80:
			to(utf8Accept, utf8Accept)
		case b >= 0xC2 && b <= 0xDF:
			to(utf8Accept, utf8Need1)
		case b == 0xE0:
			to(utf8Accept, utf8AfterE0)
		case b == 0xED:
			to(utf8Accept, utf8AfterED)
		case b >= 0xE1 && b <= 0xEF:
			to(utf8Accept, utf8Need2)
		case b == 0xF0:
			to(utf8Accept, utf8AfterF0)
		case b >= 0xF1 && b <= 0xF3:
			to(utf8Accept, utf8Need3)
		case b == 0xF4:
			to(utf8Accept, utf8AfterF4)
		}
		if b >= 0x80 && b <= 0xBF {
			to(utf8Need1, utf8Accept)
			to(utf8Need2, utf8Need1)
			to(utf8Need3, utf8Need2)
			if b >= 0xA0 {
				to(utf8AfterE0, utf8Need1)
			} else {
				to(utf8AfterED, utf8Need1)
			}
			if b >= 0x90 {
				to(utf8AfterF0, utf8Need2)
			} else {
				to(utf8AfterF4, utf8Need2)
			}
		}
		rows[b] = row
	}
	return rows
}

// utf8Step is one transition. The result keeps the other states' bits above the
// low six: the next shift only looks at its count modulo 64 (free on amd64 and
// arm64), so the mask is applied once, where the state is compared.
func utf8Step(state uint64, b byte) uint64 {
	return utf8Rows[b] >> (state & utf8StateBits)
}

// UTF8Validator checks a text message as its fragments arrive, carrying an open
// multi-byte sequence from one fragment to the next. The zero value is ready.
type UTF8Validator struct {
	state uint8
}

// Write validates the next bytes of the message. It returns -1 while everything so
// far can still be (or already is) valid UTF-8, even if p ends inside a sequence;
// otherwise the offset in p of the first byte that makes the text invalid. Once
// failed, the validator stays failed and every later Write returns 0.
func (v *UTF8Validator) Write(p []byte) int {
	state := uint64(v.state)
	if state == utf8Reject {
		return 0
	}
	i := 0
	for i < len(p) {
		if state == utf8Accept && p[i] < 0x80 {
			i = skipASCII(p, i)
			if i == len(p) {
				break
			}
		}
		// Run the automaton over a block with no per-byte branch; rejection is
		// sticky, so one test per block tells whether to look for the exact byte.
		s := state
		end := i + utf8Block
		if end <= len(p) {
			// Four steps per iteration over a whole block: no bounds checks and
			// little loop overhead between the dependent steps.
			block := p[i:end]
			for k := 0; k+4 <= len(block); k += 4 {
				b := (*[4]byte)(block[k : k+4])
				s = utf8Step(utf8Step(utf8Step(utf8Step(s, b[0]), b[1]), b[2]), b[3])
			}
		} else {
			end = len(p)
			for _, b := range p[i:] {
				s = utf8Step(s, b)
			}
		}
		if s&utf8StateBits == utf8Reject {
			v.state = utf8Reject
			for j := i; ; j++ {
				if state = utf8Step(state, p[j]) & utf8StateBits; state == utf8Reject {
					return j
				}
			}
		}
		state, i = s&utf8StateBits, end
	}
	v.state = uint8(state)
	return -1
}

// utf8Block is how many bytes the automaton runs between checks for rejection and
// for a return to ASCII; tuned by BenchmarkUTF8Validator.
const utf8Block = 16

const highBits = 0x8080808080808080

// skipASCII returns the index of the first byte at or after i that is not ASCII,
// or len(p), looking at 32 then 8 bytes at a time.
func skipASCII(p []byte, i int) int {
	q := p[i:]
	for len(q) >= 32 {
		w := binary.LittleEndian.Uint64(q[0:8]) | binary.LittleEndian.Uint64(q[8:16]) |
			binary.LittleEndian.Uint64(q[16:24]) | binary.LittleEndian.Uint64(q[24:32])
		if w&highBits != 0 {
			break
		}
		q = q[32:]
	}
	for len(q) >= 8 {
		if w := binary.LittleEndian.Uint64(q) & highBits; w != 0 {
			return len(p) - len(q) + bits.TrailingZeros64(w)/8
		}
		q = q[8:]
	}
	for len(q) > 0 && q[0] < 0x80 {
		q = q[1:]
	}
	return len(p) - len(q)
}

// Done reports whether the text so far is complete, valid UTF-8: nothing has failed
// and no multi-byte sequence is left open. Call it at the end of the message.
func (v *UTF8Validator) Done() bool { return v.state == utf8Accept }

// Failed reports whether an invalid byte has been seen.
func (v *UTF8Validator) Failed() bool { return v.state == utf8Reject }

// Reset prepares the validator for a new message.
func (v *UTF8Validator) Reset() { v.state = utf8Accept }

// ValidUTF8 reports whether p is entirely valid UTF-8.
func ValidUTF8(p []byte) bool {
	var v UTF8Validator
	return v.Write(p) < 0 && v.Done()
}
