package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestParseHeader(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	cases := []struct {
		name string
		in   []byte
		want Header
		n    int
		err  error
	}{
		{"empty text", []byte{0x81, 0x00}, Header{Fin: true, Opcode: OpText}, 2, nil},
		{"7-bit 5", []byte{0x81, 0x05}, Header{Fin: true, Opcode: OpText, Length: 5}, 2, nil},
		{"7-bit max 125", []byte{0x82, 0x7D}, Header{Fin: true, Opcode: OpBinary, Length: 125}, 2, nil},
		{"16-bit min 126", []byte{0x82, 0x7E, 0x00, 0x7E}, Header{Fin: true, Opcode: OpBinary, Length: 126}, 4, nil},
		{"16-bit max 65535", []byte{0x82, 0x7E, 0xFF, 0xFF}, Header{Fin: true, Opcode: OpBinary, Length: 65535}, 4, nil},
		{"64-bit min 65536", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, Header{Fin: true, Opcode: OpBinary, Length: 65536}, 10, nil},
		{"64-bit max", []byte{0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, Header{Fin: true, Opcode: OpBinary, Length: math.MaxInt64}, 10, nil},
		{"64-bit top bit set", []byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, Header{}, 10, ErrLengthOverflow},
		{"64-bit top bit seen early", []byte{0x82, 0x7F, 0x80}, Header{}, 10, ErrLengthOverflow},
		{"masked 7-bit", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}, Header{Fin: true, Opcode: OpText, Masked: true, Mask: key, Length: 5}, 6, nil},
		{"masked 16-bit", []byte{0x82, 0xFE, 0x01, 0x00, 0x37, 0xfa, 0x21, 0x3d}, Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: key, Length: 256}, 8, nil},
		{"masked 64-bit", []byte{0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d}, Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: key, Length: 65536}, 14, nil},
		{"not fin continuation", []byte{0x00, 0x03}, Header{Opcode: OpContinuation, Length: 3}, 2, nil},
		{"all RSV bits", []byte{0xF1, 0x00}, Header{Fin: true, Rsv: RSV1 | RSV2 | RSV3, Opcode: OpText}, 2, nil},
		{"RSV1 only", []byte{0xC1, 0x00}, Header{Fin: true, Rsv: RSV1, Opcode: OpText}, 2, nil},
		{"reserved opcode parses", []byte{0x83, 0x00}, Header{Fin: true, Opcode: 3}, 2, nil},
		{"ping", []byte{0x89, 0x04}, Header{Fin: true, Opcode: OpPing, Length: 4}, 2, nil},
		{"non-minimal 16-bit accepted", []byte{0x81, 0x7E, 0x00, 0x05}, Header{Fin: true, Opcode: OpText, Length: 5}, 4, nil},
		{"non-minimal 64-bit accepted", []byte{0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7E}, Header{Fin: true, Opcode: OpText, Length: 126}, 10, nil},
		{"trailing payload ignored", []byte{0x81, 0x02, 'h', 'i'}, Header{Fin: true, Opcode: OpText, Length: 2}, 2, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := ParseHeader(c.in)
			if h != c.want || n != c.n || err != c.err {
				t.Fatalf("ParseHeader(% x) = %+v, %d, %v; want %+v, %d, %v", c.in, h, n, err, c.want, c.n, c.err)
			}
		})
	}
}

// Every prefix of a header asks for more bytes (n > len), never for more than the
// header needs, and never fails.
func TestParseHeaderIsResumable(t *testing.T) {
	for _, length := range []int64{0, 1, 125, 126, 127, 65535, 65536, 1 << 32, math.MaxInt64} {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: true, Opcode: OpBinary, Masked: masked, Length: length}
			if masked {
				h.Mask = [4]byte{1, 2, 3, 4}
			}
			full := AppendHeader(nil, h)
			for k := range len(full) {
				got, n, err := ParseHeader(full[:k])
				if err != nil || n <= k || n > len(full) || got != (Header{}) {
					t.Fatalf("length %d masked %v, %d of %d bytes: %+v, n=%d, %v", length, masked, k, len(full), got, n, err)
				}
				if k >= 2 && n != len(full) { // once the length byte is known, n is exact
					t.Fatalf("length %d masked %v, %d bytes: n=%d, want %d", length, masked, k, n, len(full))
				}
			}
			got, n, err := ParseHeader(full)
			if got != h || n != len(full) || err != nil {
				t.Fatalf("length %d masked %v: %+v, %d, %v", length, masked, got, n, err)
			}
		}
	}
}

func TestPutHeaderUsesMinimalLengths(t *testing.T) {
	cases := []struct {
		length int64
		want   []byte // after the first byte
	}{
		{0, []byte{0x00}},
		{125, []byte{0x7D}},
		{126, []byte{0x7E, 0x00, 0x7E}},
		{65535, []byte{0x7E, 0xFF, 0xFF}},
		{65536, []byte{0x7F, 0, 0, 0, 0, 0, 1, 0, 0}},
		{math.MaxInt64, []byte{0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
	}
	for _, c := range cases {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: true, Opcode: OpText, Length: c.length, Masked: masked}
			want := append([]byte{0x81}, c.want...)
			if masked {
				h.Mask = [4]byte{9, 8, 7, 6}
				want[1] |= 0x80
				want = append(want, 9, 8, 7, 6)
			}
			var buf [MaxHeaderSize]byte
			n := PutHeader(buf[:], h)
			if !bytes.Equal(buf[:n], want) {
				t.Errorf("PutHeader(length %d, masked %v) = % x, want % x", c.length, masked, buf[:n], want)
			}
			if size := HeaderSize(c.length, masked); size != len(want) {
				t.Errorf("HeaderSize(%d, %v) = %d, want %d", c.length, masked, size, len(want))
			}
			if got := AppendHeader([]byte("x"), h); !bytes.Equal(got, append([]byte("x"), want...)) {
				t.Errorf("AppendHeader = % x", got)
			}
			if back, n2, err := ParseHeader(want); back != h || n2 != n || err != nil || StrictLength(back, n2) != nil {
				t.Errorf("round trip of % x: %+v %d %v", want, back, n2, err)
			}
		}
	}
}

func TestPutHeaderFirstByte(t *testing.T) {
	for _, fin := range []bool{false, true} {
		for rsv := byte(0); rsv <= 0x70; rsv += 0x10 {
			for op := Opcode(0); op < 16; op++ {
				h := Header{Fin: fin, Rsv: rsv, Opcode: op}
				var buf [MaxHeaderSize]byte
				PutHeader(buf[:], h)
				want := rsv | byte(op)
				if fin {
					want |= 0x80
				}
				if buf[0] != want {
					t.Fatalf("%+v: first byte %#x, want %#x", h, buf[0], want)
				}
				if back, _, _ := ParseHeader(buf[:2]); back != h {
					t.Fatalf("round trip %+v -> %+v", h, back)
				}
			}
		}
	}
}

func TestPutHeaderPanicsOnNegativeLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	PutHeader(make([]byte, MaxHeaderSize), Header{Length: -1})
}

func TestStrictLength(t *testing.T) {
	for _, in := range [][]byte{
		{0x81, 0x7E, 0x00, 0x7D},                   // 125 in 16 bits
		{0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5},       // 5 in 64 bits
		{0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, // 65535 in 64 bits
	} {
		h, n, err := ParseHeader(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := StrictLength(h, n); !errors.Is(err, ErrNonMinimalLength) {
			t.Errorf("StrictLength(% x) = %v, want ErrNonMinimalLength", in, err)
		}
	}
	for _, in := range [][]byte{{0x81, 0x7D}, {0x81, 0x7E, 0x00, 0x7E}, {0x81, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}} {
		h, n, _ := ParseHeader(in)
		if err := StrictLength(h, n); err != nil {
			t.Errorf("StrictLength(% x) = %v, want nil", in, err)
		}
	}
}

func TestOpcode(t *testing.T) {
	names := map[Opcode]string{0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
	for op := Opcode(0); op < 32; op++ {
		name, known := names[op]
		if op.IsReserved() == known {
			t.Errorf("%#x: IsReserved %v", uint8(op), op.IsReserved())
		}
		if want := op >= 8 && op < 16 || op >= 24; op.IsControl() != want {
			t.Errorf("%#x: IsControl %v", uint8(op), op.IsControl())
		}
		if !known {
			name = fmt.Sprintf("reserved(%#x)", uint8(op))
		}
		if op.String() != name {
			t.Errorf("%#x: String %q, want %q", uint8(op), op.String(), name)
		}
	}
}

func TestHeaderCodeDoesNotAllocate(t *testing.T) {
	h := Header{Fin: true, Opcode: OpBinary, Masked: true, Length: 70000}
	buf := make([]byte, 0, MaxHeaderSize)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendHeader(buf[:0], h)
		if _, _, err := ParseHeader(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs", allocs)
	}
}

func ExampleParseHeader() {
	in := []byte{0x81, 0x7E, 0x01} // a text frame whose 16-bit length has not fully arrived
	_, n, _ := ParseHeader(in)
	fmt.Println("need", n-len(in), "more byte(s)")
	in = append(in, 0x00)
	h, n, _ := ParseHeader(in)
	fmt.Println(h.Opcode, h.Fin, h.Length, "header size", n)
	// Output:
	// need 1 more byte(s)
	// text true 256 header size 4
}

func ExampleAppendHeader() {
	h := Header{Fin: true, Opcode: OpText, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 5}
	fmt.Printf("% x\n", AppendHeader(nil, h))
	// Output: 81 85 01 02 03 04
}

// FuzzParseHeader: arbitrary bytes never panic and, when they hold a header, it
// re-encodes to the same bytes (if minimal) and is found by resuming from any
// prefix; and any header built from the fuzzer's fields survives PutHeader/ParseHeader.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, byte(0x82), true, uint32(0x01020304), uint64(126))
	f.Add([]byte{0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, byte(0x01), false, uint32(0), uint64(65536))
	f.Add([]byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, byte(0xF9), true, uint32(7), uint64(1)<<63)
	f.Add([]byte{0x81, 0x7E, 0x00, 0x05}, byte(0x00), false, uint32(0), uint64(65535))
	f.Fuzz(func(t *testing.T, data []byte, first byte, masked bool, key uint32, length uint64) {
		h, n, err := ParseHeader(data)
		if n < 2 || n > MaxHeaderSize {
			t.Fatalf("header size %d", n)
		}
		if err == nil && n <= len(data) {
			if h.Length < 0 {
				t.Fatalf("negative length %d", h.Length)
			}
			if StrictLength(h, n) == nil && !bytes.Equal(AppendHeader(nil, h), data[:n]) {
				t.Fatalf("% x parsed to %+v, which encodes as % x", data[:n], h, AppendHeader(nil, h))
			}
			for k := range n {
				got, need, perr := ParseHeader(data[:k])
				if perr != nil || need <= k || need > n || got != (Header{}) {
					t.Fatalf("prefix %d of % x: %+v, n=%d, %v", k, data[:n], got, need, perr)
				}
			}
		}

		built := Header{
			Fin:    first&0x80 != 0,
			Rsv:    first & 0x70,
			Opcode: Opcode(first & 0x0F),
			Masked: masked,
			Length: int64(length &^ (1 << 63)),
		}
		if masked {
			built.Mask = [4]byte{byte(key >> 24), byte(key >> 16), byte(key >> 8), byte(key)}
		}
		enc := AppendHeader(nil, built)
		if len(enc) != HeaderSize(built.Length, masked) {
			t.Fatalf("%+v encoded in %d bytes, HeaderSize says %d", built, len(enc), HeaderSize(built.Length, masked))
		}
		back, n2, err := ParseHeader(enc)
		if back != built || n2 != len(enc) || err != nil || StrictLength(back, n2) != nil {
			t.Fatalf("%+v -> % x -> %+v, %d, %v", built, enc, back, n2, err)
		}
		for k := range len(enc) {
			if _, need, perr := ParseHeader(enc[:k]); perr != nil || need <= k {
				t.Fatalf("prefix %d of % x: n=%d, %v", k, enc, need, perr)
			}
		}
	})
}

var benchHeaders = []struct {
	name string
	h    Header
}{
	{"7bit", Header{Fin: true, Opcode: OpText, Length: 100}},
	{"16bit", Header{Fin: true, Opcode: OpBinary, Length: 4096}},
	{"64bit-masked", Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 1 << 20}},
}

var sinkHeader Header

func BenchmarkParseHeader(b *testing.B) {
	for _, c := range benchHeaders {
		in := AppendHeader(nil, c.h)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				h, _, err := ParseHeader(in)
				if err != nil {
					b.Fatal(err)
				}
				sinkHeader = h
			}
		})
	}
}

func BenchmarkPutHeader(b *testing.B) {
	for _, c := range benchHeaders {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf [MaxHeaderSize]byte
			b.SetBytes(int64(HeaderSize(c.h.Length, c.h.Masked)))
			for b.Loop() {
				PutHeader(buf[:], c.h)
			}
		})
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	for _, c := range benchHeaders {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, MaxHeaderSize)
			b.SetBytes(int64(HeaderSize(c.h.Length, c.h.Masked)))
			for b.Loop() {
				buf = AppendHeader(buf[:0], c.h)
			}
		})
	}
}
