package transport

import "encoding/binary"

// tlsRecordHeaderLen is the size of a TLS record header: type, version (2), length (2).
const tlsRecordHeaderLen = 5

// RecordCursor follows the TLS record boundaries of the ciphertext the bridge hands to
// crypto/tls. crypto/tls allocates each time it has to read from its connection (its
// record reader wraps the conn in a fresh io.Reader), including the read that finds
// nothing. Knowing where records end, the session asks crypto/tls for a record only when a
// whole one has arrived and hands it over in one piece: one read per record, none wasted.
type RecordCursor struct {
	hdr      [tlsRecordHeaderLen]byte
	hdrHave  int // header bytes of the current record handed over so far
	bodyLeft int // body bytes of the current record not handed over yet
	// Lost is set when a header does not look like TLS: from then on every byte is handed
	// over as it comes and crypto/tls, which will judge the stream, is read until it waits.
	Lost bool
}

// ToEnd is how many bytes of in complete the current record (a whole next record when at a
// boundary), or -1 when in does not hold enough of a header to tell.
func (r *RecordCursor) ToEnd(in []byte) int {
	if r.hdrHave == tlsRecordHeaderLen {
		return r.bodyLeft
	}
	missing := tlsRecordHeaderLen - r.hdrHave
	if len(in) < missing {
		return -1
	}
	var h [tlsRecordHeaderLen]byte
	copy(h[:], r.hdr[:r.hdrHave])
	copy(h[r.hdrHave:], in[:missing])
	if !plausibleRecordHeader(h) {
		r.Lost = true
		return -1
	}
	return missing + int(binary.BigEndian.Uint16(h[3:5]))
}

// Advance records that the first n bytes of in were handed over.
func (r *RecordCursor) Advance(in []byte, n int) {
	in = in[:n]
	for len(in) > 0 {
		if r.hdrHave < tlsRecordHeaderLen {
			k := copy(r.hdr[r.hdrHave:], in)
			r.hdrHave += k
			in = in[k:]
			if r.hdrHave == tlsRecordHeaderLen {
				r.bodyLeft = int(binary.BigEndian.Uint16(r.hdr[3:5]))
			}
		} else {
			k := min(len(in), r.bodyLeft)
			r.bodyLeft -= k
			in = in[k:]
		}
		if r.hdrHave == tlsRecordHeaderLen && r.bodyLeft == 0 {
			r.hdrHave = 0 // at a boundary again
		}
	}
}

// plausibleRecordHeader checks a record header's type (change_cipher_spec .. heartbeat)
// and major version.
func plausibleRecordHeader(h [tlsRecordHeaderLen]byte) bool {
	return h[0] >= 20 && h[0] <= 24 && h[1] == 3
}
