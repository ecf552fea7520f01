package transport

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestRecordCursor hands a stream of records over the way the TLS bridge does, in chunks
// cut at random points, and checks that no hand-over crosses a record boundary and that
// toEnd finds every boundary.
func TestRecordCursor(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var stream []byte
	var ends []int // offsets just after each record
	for i := 0; i < 2000; i++ {
		n := rng.IntN(700)
		if i%50 == 0 {
			n = 0
		}
		var h [5]byte
		h[0], h[1], h[2] = 23, 3, 3
		binary.BigEndian.PutUint16(h[3:], uint16(n))
		stream = append(stream, h[:]...)
		for k := 0; k < n; k++ {
			stream = append(stream, byte(rng.IntN(256)))
		}
		ends = append(ends, len(stream))
	}
	isEnd := map[int]bool{}
	for _, e := range ends {
		isEnd[e] = true
	}
	var r RecordCursor
	pos := 0
	for pos < len(stream) {
		chunk := stream[pos:min(len(stream), pos+1+rng.IntN(1500))]
		for len(chunk) > 0 {
			limit := len(chunk)
			if end := r.ToEnd(chunk); end >= 0 && end < limit {
				limit = end
				if !isEnd[pos+end] {
					t.Fatalf("offset %d: toEnd %d is not a record boundary", pos, end)
				}
			}
			n := 1 + rng.IntN(limit) // crypto/tls may take less than offered
			r.Advance(chunk, n)
			for k := pos + 1; k < pos+n; k++ {
				if isEnd[k] {
					t.Fatalf("a hand-over of %d bytes at %d crossed the boundary at %d", n, pos, k)
				}
			}
			pos += n
			chunk = chunk[n:]
			if isEnd[pos] && (r.hdrHave != 0 || r.bodyLeft != 0) {
				t.Fatalf("offset %d is a boundary but the cursor is at header %d, body left %d", pos, r.hdrHave, r.bodyLeft)
			}
		}
	}
	if r.Lost {
		t.Fatal("the cursor lost track of a valid stream")
	}
	var junk RecordCursor
	if junk.ToEnd([]byte("HTTP/1.1 200 OK")) != -1 || !junk.Lost {
		t.Fatal("a stream that is not TLS records was not noticed")
	}
}
