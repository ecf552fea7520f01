package bench

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/codec"
)

// Header cases: the three length encodings, as a client sees them (frames
// from the server are unmasked, frames to it are masked).
var headerCases = []struct {
	name   string
	masked bool
	length int64
}{
	{"unmasked-125", false, 125},      // 2-byte header, 7-bit length
	{"masked-1024", true, 1024},       // 8-byte header, 16-bit length
	{"masked-65536", true, 65536 + 1}, // 14-byte header, 64-bit length
}

func wsfleetHeader(masked bool, length int64) codec.Header {
	h := codec.Header{Fin: true, Opcode: codec.OpBinary, Masked: masked, Length: length}
	if masked {
		h.Mask = maskKey
	}
	return h
}

func gobwasHeader(masked bool, length int64) ws.Header {
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: masked, Length: length}
	if masked {
		h.Mask = maskKey
	}
	return h
}

var (
	sinkHeader  codec.Header
	sinkGHeader ws.Header
)

// BenchmarkHeader compares decoding (op=parse) and encoding (op=encode) one
// frame header. wsfleet works on byte slices; gobwas/ws reads from an
// io.Reader and writes to an io.Writer, here a bytes.Reader and a
// bytes.Buffer reset each time, with and without its caller-supplied-buffer
// variants (ReadHeaderBuffer, WriteHeaderBuffer).
func BenchmarkHeader(b *testing.B) {
	for _, c := range headerCases {
		var wire [codec.MaxHeaderSize]byte
		wireLen := codec.PutHeader(wire[:], wsfleetHeader(c.masked, c.length))
		frame := wire[:wireLen]

		b.Run("op=parse/impl=wsfleet/frame="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h, _, err := codec.ParseHeader(frame)
				if err != nil {
					b.Fatal(err)
				}
				sinkHeader = h
			}
		})
		b.Run("op=parse/impl=gobwas-readheader/frame="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			r := bytes.NewReader(frame)
			for i := 0; i < b.N; i++ {
				r.Reset(frame)
				h, err := ws.ReadHeader(r)
				if err != nil {
					b.Fatal(err)
				}
				sinkGHeader = h
			}
		})
		b.Run("op=parse/impl=gobwas-readheaderbuffer/frame="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			r := bytes.NewReader(frame)
			buf := make([]byte, ws.MaxHeaderSize)
			for i := 0; i < b.N; i++ {
				r.Reset(frame)
				h, err := ws.ReadHeaderBuffer(r, buf)
				if err != nil {
					b.Fatal(err)
				}
				sinkGHeader = h
			}
		})

		b.Run("op=encode/impl=wsfleet/frame="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			h := wsfleetHeader(c.masked, c.length)
			var dst [codec.MaxHeaderSize]byte
			for i := 0; i < b.N; i++ {
				sink = codec.PutHeader(dst[:], h)
			}
		})
		b.Run("op=encode/impl=gobwas-writeheader/frame="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			h := gobwasHeader(c.masked, c.length)
			var w bytes.Buffer
			w.Grow(ws.MaxHeaderSize)
			for i := 0; i < b.N; i++ {
				w.Reset()
				if err := ws.WriteHeader(&w, h); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("op=encode/impl=gobwas-writeheaderbuffer/frame="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			h := gobwasHeader(c.masked, c.length)
			var w bytes.Buffer
			w.Grow(ws.MaxHeaderSize)
			buf := make([]byte, ws.MaxHeaderSize)
			for i := 0; i < b.N; i++ {
				w.Reset()
				if err := ws.WriteHeaderBuffer(&w, h, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHeaderAgreement: both libraries read each other's headers the same
// way, so the benchmarks above compare like with like.
func TestHeaderAgreement(t *testing.T) {
	for _, c := range headerCases {
		var wire [codec.MaxHeaderSize]byte
		n := codec.PutHeader(wire[:], wsfleetHeader(c.masked, c.length))
		gh, err := ws.ReadHeader(bytes.NewReader(wire[:n]))
		if err != nil || gh != gobwasHeader(c.masked, c.length) {
			t.Fatalf("%s: gobwas read %+v, %v", c.name, gh, err)
		}
		var w bytes.Buffer
		if err := ws.WriteHeader(&w, gh); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Bytes(), wire[:n]) {
			t.Fatalf("%s: gobwas wrote % x, wsfleet % x", c.name, w.Bytes(), wire[:n])
		}
		h, hn, err := codec.ParseHeader(w.Bytes())
		if err != nil || hn != n || h != wsfleetHeader(c.masked, c.length) {
			t.Fatalf("%s: wsfleet read %+v (%d bytes), %v", c.name, h, hn, err)
		}
	}
}

// TestMaskAgreement: the contenders in BenchmarkMask compute the same bytes.
func TestMaskAgreement(t *testing.T) {
	src := make([]byte, 1000)
	for i := range src {
		src[i] = byte(i * 7)
	}
	var want []byte
	for _, impl := range maskImpls {
		if impl.name == "copy" {
			continue
		}
		dst := append([]byte(nil), src...)
		impl.fn(dst, src)
		if want == nil {
			want = dst
		} else if !bytes.Equal(dst, want) {
			t.Fatalf("%s differs from %s", impl.name, maskImpls[0].name)
		}
	}
}
