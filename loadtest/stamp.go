package loadtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// A payload carries its connection id, sequence number and intended send time, so that the
// echo tells which connection's which message came back and how late. Two layouts:
//
//   - raw (binary messages without -payload): bytes 0-7 connection id, 8-15 sequence number,
//     16-23 intended send time in ns on the run's clock, all little endian; then filler;
//   - template (text messages, or any -payload file): the markers {{id}}, {{seq}} and {{ts}}
//     become fixed-width zero-padded decimal fields (10, 20 and 20 digits) at fixed offsets,
//     so a text payload stays valid UTF-8 and an echo is parsed at the same offsets.
const (
	rawStampSize = 24
	idWidth      = 10
	seqWidth     = 20
	tsWidth      = 20
)

// defaultTextTemplate is the text payload when no -payload file is given; it is padded with
// 'x' to the requested size.
const defaultTextTemplate = "id={{id}} seq={{seq}} t={{ts}} "

// payload renders and parses stamped messages.
type payload struct {
	base                 []byte
	raw                  bool
	idOff, seqOff, tsOff int // -1 when absent (template only)
}

// newPayload builds the payload: a template (nil for the default), padded to size when the
// template is the default; binary without a template uses the raw layout.
func newPayload(template []byte, size int, binary bool) (*payload, error) {
	if template == nil && binary {
		if size < rawStampSize {
			size = rawStampSize
		}
		base := make([]byte, size)
		for i := rawStampSize; i < size; i++ {
			base[i] = 'x'
		}
		return &payload{base: base, raw: true, idOff: 0, seqOff: 8, tsOff: 16}, nil
	}
	pad := false
	if template == nil {
		template = []byte(defaultTextTemplate)
		pad = true
	}
	p := &payload{idOff: -1, seqOff: -1, tsOff: -1}
	var out []byte
	rest := template
	for len(rest) > 0 {
		i := bytes.Index(rest, []byte("{{"))
		if i < 0 {
			out = append(out, rest...)
			break
		}
		out = append(out, rest[:i]...)
		rest = rest[i:]
		var width int
		var off *int
		switch {
		case bytes.HasPrefix(rest, []byte("{{id}}")):
			width, off = idWidth, &p.idOff
		case bytes.HasPrefix(rest, []byte("{{seq}}")):
			width, off = seqWidth, &p.seqOff
		case bytes.HasPrefix(rest, []byte("{{ts}}")):
			width, off = tsWidth, &p.tsOff
		default:
			out = append(out, "{{"...)
			rest = rest[2:]
			continue
		}
		if *off >= 0 {
			return nil, fmt.Errorf("payload template: marker %s appears twice", rest[:bytes.Index(rest, []byte("}}"))+2])
		}
		*off = len(out)
		for range width {
			out = append(out, '0')
		}
		rest = rest[bytes.Index(rest, []byte("}}"))+2:]
	}
	if p.seqOff < 0 || p.tsOff < 0 {
		return nil, errors.New("payload template needs the markers {{seq}} and {{ts}} (and may have {{id}}): replies are matched and timed by them")
	}
	if pad {
		for len(out) < size {
			out = append(out, 'x')
		}
	}
	p.base = out
	return p, nil
}

// Size is the length of every message.
func (p *payload) Size() int { return len(p.base) }

// NewBuffer returns a fresh copy of the payload for one connection to stamp and send.
func (p *payload) NewBuffer() []byte { return append([]byte(nil), p.base...) }

// Fill stamps buf (from NewBuffer) in place.
func (p *payload) Fill(buf []byte, id, seq uint64, ts int64) {
	if p.raw {
		binary.LittleEndian.PutUint64(buf[0:], id)
		binary.LittleEndian.PutUint64(buf[8:], seq)
		binary.LittleEndian.PutUint64(buf[16:], uint64(ts))
		return
	}
	if p.idOff >= 0 {
		putDec(buf[p.idOff:p.idOff+idWidth], id)
	}
	putDec(buf[p.seqOff:p.seqOff+seqWidth], seq)
	putDec(buf[p.tsOff:p.tsOff+tsWidth], uint64(ts))
}

// Parse reads the stamp of a reply; ok is false when the message does not carry one where
// this payload puts it. hasID is false for templates without {{id}}.
func (p *payload) Parse(data []byte) (id, seq uint64, ts int64, hasID, ok bool) {
	if len(data) != len(p.base) {
		return 0, 0, 0, false, false
	}
	if p.raw {
		return binary.LittleEndian.Uint64(data[0:]), binary.LittleEndian.Uint64(data[8:]),
			int64(binary.LittleEndian.Uint64(data[16:])), true, true
	}
	var ok1, ok2, ok3 bool
	seq, ok1 = getDec(data[p.seqOff : p.seqOff+seqWidth])
	var t uint64
	t, ok2 = getDec(data[p.tsOff : p.tsOff+tsWidth])
	ok3 = true
	if p.idOff >= 0 {
		id, ok3 = getDec(data[p.idOff : p.idOff+idWidth])
		hasID = true
	}
	return id, seq, int64(t), hasID, ok1 && ok2 && ok3
}

func putDec(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

func getDec(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// pushHeaderSize is the reference server's /push stamp: send time (UnixNano, int64 LE) then
// sequence number (uint64 LE).
const pushHeaderSize = 16

func parsePush(data []byte) (seq uint64, wallNs int64, ok bool) {
	if len(data) < pushHeaderSize {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(data[8:]), int64(binary.LittleEndian.Uint64(data[0:])), true
}
