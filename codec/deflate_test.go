package codec

import (
	"bytes"
	stdflate "compress/flate"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/wsfleet/wsfleet/internal/testkit"
)

// jsonLike returns n bytes of JSON-ish text, different for each seed: what a market-data
// or chat feed sends (repeated keys, varying numbers and names).
func jsonLike(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	var b bytes.Buffer
	b.WriteByte('[')
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}
	events := []string{"update", "trade", "quote", "cancel", "heartbeat"}
	for b.Len() < n {
		fmt.Fprintf(&b, `{"id":%d,"user":"%s","event":"%s","price":%d.%02d,"qty":%d,"ts":%d,"tags":["%s","x%d"]},`,
			r.IntN(1e6), names[r.IntN(len(names))], events[r.IntN(len(events))], r.IntN(5000), r.IntN(100),
			r.IntN(1000), int64(1700000000000)+r.Int64N(1e9), names[r.IntN(len(names))], r.IntN(50))
	}
	return b.Bytes()[:n]
}

// pair is a sender and a receiver of one direction of a connection.
type pair struct {
	d Deflater
	f Inflater
}

func newPair(t testing.TB, level, bits int, noContext bool) *pair {
	p := new(pair)
	if err := p.d.Init(level, bits, noContext); err != nil {
		t.Fatal(err)
	}
	p.f.Init(bits, noContext)
	return p
}

func (p *pair) roundTrip(t testing.TB, msg []byte) []byte {
	t.Helper()
	z := p.d.Deflate(nil, msg, nil)
	if len(z) >= 4 && [4]byte(z[len(z)-4:]) == deflateTail {
		t.Fatalf("the 00 00 ff ff tail was not trimmed")
	}
	out, err := p.f.Inflate(nil, z, len(msg), nil)
	if err != nil {
		t.Fatalf("inflate %d bytes (compressed %d): %v", len(msg), len(z), err)
	}
	if !bytes.Equal(out, msg) {
		t.Fatalf("round trip of %d bytes changed the message", len(msg))
	}
	return z
}

func TestDeflateRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 7, 100, 128, 4096, 40000, 70000, 1 << 20}
	for _, noContext := range []bool{false, true} {
		for _, bits := range []int{8, 9, 12, 15} {
			for _, level := range []int{0, 1, 5, 9} {
				if level == 9 && bits != 15 {
					continue // the level is ignored below 15
				}
				name := fmt.Sprintf("noContext=%v/bits=%d/level=%d", noContext, bits, level)
				t.Run(name, func(t *testing.T) {
					p := newPair(t, level, bits, noContext)
					for i, n := range sizes {
						if (testing.Short() || hsRaceEnabled()) && n > 70000 {
							continue
						}
						p.roundTrip(t, jsonLike(n, uint64(i)))
						p.roundTrip(t, testkit.Bytes(n/4, uint64(i)))
						p.roundTrip(t, jsonLike(n, uint64(i))) // the same again: back-references
					}
					if noContext && (p.d.HistoryCap() != 0 || p.f.HistoryCap() != 0) {
						t.Errorf("no context, yet histories of %d and %d bytes", p.d.HistoryCap(), p.f.HistoryCap())
					}
					if w := 1 << bits; p.d.HistoryCap() > w || p.f.HistoryCap() > w {
						t.Errorf("histories of %d and %d bytes exceed the window %d", p.d.HistoryCap(), p.f.HistoryCap(), w)
					}
				})
			}
		}
	}
}

func TestDeflateEmptyMessage(t *testing.T) {
	p := newPair(t, 0, 15, false)
	z := p.roundTrip(t, nil)
	if !bytes.Equal(z, []byte{0x00}) {
		t.Errorf("empty message compressed to % x, want 00 (RFC 7692 7.2.3.6)", z)
	}
	// An empty payload with RSV1 is an empty message too.
	out, err := p.f.Inflate(nil, nil, 10, nil)
	if err != nil || len(out) != 0 {
		t.Errorf("inflate of an empty payload: %q, %v", out, err)
	}
}

// TestDeflateRFCExamples inflates the examples of RFC 7692 section 7.2.3.
func TestDeflateRFCExamples(t *testing.T) {
	var f Inflater
	f.Init(15, false)
	hello := "f248cdc9c90700"
	for i := 0; i < 2; i++ {
		src, _ := hex.DecodeString(hello)
		out, err := f.Inflate(nil, src, 100, nil)
		if err != nil || string(out) != "Hello" {
			t.Fatalf("message %d: %q, %v", i, out, err)
		}
	}
	// The second "Hello" referring to the first (context takeover), 7.2.3.2.
	src, _ := hex.DecodeString("f200110000")
	if out, err := f.Inflate(nil, src, 100, nil); err != nil || string(out) != "Hello" {
		t.Fatalf("back-reference into the history: %q, %v", out, err)
	}
	// A stored (uncompressed) block, 7.2.3.3, and a message with BFINAL set, 7.2.3.5 ("Hello"
	// in two blocks, the second final).
	for _, h := range []string{"0005 00faff48656c6c6f 00", "f248cdc9c90700", "f20000"[:0] + "f248cdc9c907" + "00"} {
		src, _ := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if out, err := f.Inflate(nil, src, 100, nil); err != nil || string(out) != "Hello" {
			t.Errorf("%s: %q, %v", h, out, err)
		}
	}
}

// TestDeflateAgainstStdlib inflates our output with the standard library's decompressor
// (given the same history as a dictionary), and ours inflates the standard library's output.
func TestDeflateAgainstStdlib(t *testing.T) {
	p := newPair(t, 0, 15, false)
	var hist []byte
	for i := 0; i < 20; i++ {
		msg := jsonLike(100+i*997, uint64(i))
		z := p.d.Deflate(nil, msg, nil)
		r := stdflate.NewReaderDict(io.MultiReader(bytes.NewReader(z), bytes.NewReader(inflateTail[:])), hist)
		out, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(out, msg) {
			t.Fatalf("message %d: the standard library does not inflate our output: %v", i, err)
		}
		hist = append(hist, msg...)
		if len(hist) > 1<<15 {
			hist = hist[len(hist)-1<<15:]
		}
	}
	// The other way: stdlib compresses with a dictionary, we inflate with the same history.
	var f Inflater
	f.Init(15, false)
	var sent []byte
	for i := 0; i < 20; i++ {
		msg := jsonLike(50+i*1500, uint64(100+i))
		var buf bytes.Buffer
		w, _ := stdflate.NewWriterDict(&buf, 6, sent)
		w.Write(msg)
		w.Flush()
		z := bytes.TrimSuffix(buf.Bytes(), deflateTail[:])
		out, err := f.Inflate(nil, z, len(msg), nil)
		if err != nil || !bytes.Equal(out, msg) {
			t.Fatalf("message %d: we do not inflate the standard library's output: %v", i, err)
		}
		sent = append(sent, msg...)
		if len(sent) > 1<<15 {
			sent = sent[len(sent)-1<<15:]
		}
	}
}

// TestDeflateWindowLimit checks with zlib itself (through Python, when present) that our
// compressor never refers farther back than 2^bits: zlib's raw inflate with that window
// fails with "invalid distance too far back" otherwise. Messages are large and repetitive
// at distances just over the window, with context takeover, so a lax compressor would use
// them.
func TestDeflateWindowLimit(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 for zlib")
	}
	for _, bits := range []int{8, 9, 10, 12, 14, 15} {
		p := newPair(t, 0, bits, false)
		var stream bytes.Buffer
		var want bytes.Buffer
		w := 1 << bits
		for i := 0; i < 6; i++ {
			// A block of w+16 random bytes repeated: every repeat starts w+16 back.
			blk := testkit.Bytes(w+16, uint64(i))
			msg := bytes.Repeat(blk, 3)
			msg = append(msg, jsonLike(3*w, uint64(i))...)
			z := p.d.Deflate(nil, msg, nil)
			stream.Write(z)
			stream.Write(deflateTail[:])
			want.Write(msg)
		}
		script := fmt.Sprintf(`import sys, zlib
d = zlib.decompressobj(wbits=-%d)
sys.stdout.buffer.write(d.decompress(sys.stdin.buffer.read()))`, bits)
		cmd := exec.Command(py, "-c", script)
		cmd.Stdin = &stream
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("window %d: zlib refused our stream: %v\n%s", bits, err, stderr.String())
		}
		if !bytes.Equal(out, want.Bytes()) {
			t.Fatalf("window %d: zlib inflated %d bytes, want %d", bits, len(out), want.Len())
		}
	}
}

// TestDeflateWarmAndCold interleaves connections on the same compressor pool, so that
// compressors go back and forth between them: every message must still inflate with its
// own connection's history (a compressor that continues another stream would break it).
func TestDeflateWarmAndCold(t *testing.T) {
	const conns = 12 // more than the pool keeps idle
	ps := make([]*pair, conns)
	for i := range ps {
		ps[i] = newPair(t, 1, 15, false)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 600; i++ {
		k := r.IntN(conns)
		if r.IntN(3) == 0 {
			k = i % 2 // two busy ones that stay warm
		}
		ps[k].roundTrip(t, jsonLike(10+r.IntN(9000), uint64(i)))
	}
}

func TestDeflateConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d Deflater
			var f Inflater
			bits := 10 + g%6
			d.Init(1, bits, g%3 == 0)
			f.Init(bits, g%3 == 0)
			for i := 0; i < 200; i++ {
				msg := jsonLike(1+(i*131)%5000, uint64(g*1000+i))
				z := d.Deflate(nil, msg, nil)
				out, err := f.Inflate(nil, z, 1<<20, nil)
				if err != nil || !bytes.Equal(out, msg) {
					errs <- fmt.Errorf("goroutine %d message %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestInflateBomb: 256 MiB of zeros compress to about 256 KiB; with a 1 MiB limit,
// inflating must fail with ErrMessageTooBig having written at most limit+1 bytes and
// allocated about that much, not the inflated size.
func TestInflateBomb(t *testing.T) {
	var buf bytes.Buffer
	w, _ := stdflate.NewWriter(&buf, 9)
	zero := make([]byte, 1<<20)
	for i := 0; i < 256; i++ {
		w.Write(zero)
	}
	w.Flush()
	z := bytes.TrimSuffix(buf.Bytes(), deflateTail[:])
	var f Inflater
	f.Init(15, false)
	const limit = 1 << 20
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	out, err := f.Inflate(nil, z, limit, nil)
	runtime.ReadMemStats(&m1)
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("inflating a bomb: %v, want ErrMessageTooBig", err)
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != CloseMessageTooBig {
		t.Fatalf("the error does not carry close 1009: %v", err)
	}
	if len(out) > limit+1 {
		t.Errorf("wrote %d bytes past a %d limit", len(out), limit)
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 4*limit {
		t.Errorf("allocated %d bytes to refuse a bomb with a %d limit", alloc, limit)
	}
	if f.HistoryCap() != 0 {
		t.Errorf("a refused message went into the history")
	}
	// Exactly at the limit is fine.
	msg := jsonLike(5000, 3)
	p := newPair(t, 0, 15, false)
	zz := p.d.Deflate(nil, msg, nil)
	if _, err := p.f.Inflate(nil, zz, len(msg), nil); err != nil {
		t.Errorf("a message of exactly the limit: %v", err)
	}
	if _, err := p.f.Inflate(nil, p.d.Deflate(nil, msg, nil), len(msg)-1, nil); !errors.Is(err, ErrMessageTooBig) {
		t.Errorf("a message one byte over the limit: %v", err)
	}
}

func TestInflateCorrupt(t *testing.T) {
	p := newPair(t, 0, 15, false)
	msg := jsonLike(3000, 9)
	z := p.d.Deflate(nil, msg, nil)
	var f Inflater
	f.Init(15, false)
	if _, err := f.Inflate(nil, z[:len(z)/2], 1<<20, nil); !errors.Is(err, ErrInflate) {
		t.Errorf("truncated message: %v, want ErrInflate", err)
	}
	if _, err := f.Inflate(nil, []byte{0xff, 0xff, 0xff, 0xff}, 1<<20, nil); !errors.Is(err, ErrInflate) {
		t.Errorf("garbage: %v, want ErrInflate", err)
	}
	// A reference into a history the receiver does not have (the server kept context that
	// we were told it would not).
	p2 := newPair(t, 0, 15, false)
	p2.roundTrip(t, msg)
	z2 := p2.d.Deflate(nil, msg, nil) // refers to the first copy
	var fresh Inflater
	fresh.Init(15, true)
	if _, err := fresh.Inflate(nil, z2, 1<<20, nil); !errors.Is(err, ErrInflate) {
		t.Errorf("reference beyond the history: %v, want ErrInflate", err)
	}
}

func TestDeflaterInitRefuses(t *testing.T) {
	var d Deflater
	for _, c := range [][2]int{{-1, 15}, {10, 15}, {1, 7}, {1, 16}} {
		if err := d.Init(c[0], c[1], false); err == nil {
			t.Errorf("Init(level %d, bits %d) accepted", c[0], c[1])
		}
	}
}

// growBuf is a Grower over one reusable buffer, as the engine's pooled buffers are.
type growBuf struct{ b []byte }

func (g *growBuf) Grow(b []byte, n int) []byte {
	if cap(g.b) < len(b)+n {
		g.b = make([]byte, len(b), 2*(len(b)+n))
	}
	g.b = g.b[:len(b)]
	copy(g.b, b)
	return g.b
}

func TestDeflateAllocs(t *testing.T) {
	if hsRaceEnabled() {
		t.Skip("sync.Pool drops items under -race")
	}
	for _, n := range []int{128, 4096, 65536} {
		for _, noContext := range []bool{false, true} {
			p := newPair(t, 0, 15, noContext)
			msg := jsonLike(n, 1)
			zb := make([]byte, 0, n+64)
			ob := make([]byte, 0, n)
			run := func() {
				z := p.d.Deflate(zb[:0], msg, nil)
				out, err := p.f.Inflate(ob[:0], z, n, nil)
				if err != nil || len(out) != n {
					t.Fatal(err)
				}
			}
			for i := 0; i < 10; i++ {
				run()
			}
			if a := testing.AllocsPerRun(50, run); a != 0 {
				t.Errorf("%d bytes, noContext=%v: %v allocs per compress+decompress, want 0", n, noContext, a)
			}
		}
	}
}

// BenchmarkDeflate compresses and inflates one JSON-like message per op, as one
// connection sending to another: context takeover (the compressor stays warm: the same
// connection takes it back) or none. SetBytes counts the message once.
func BenchmarkDeflate(b *testing.B) {
	for _, mode := range []string{"context", "no-context"} {
		for _, n := range []int{128, 4 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("%s/%s", mode, sizeName(n)), func(b *testing.B) {
				benchRoundTrip(b, n, mode == "no-context", 1)
			})
		}
	}
}

// BenchmarkDeflateCold is BenchmarkDeflate with 64 connections taking turns, more than
// the pool keeps warm: with context takeover every message primes a compressor with its
// connection's history (an encoding pass over up to 32 KiB).
func BenchmarkDeflateCold(b *testing.B) {
	for _, mode := range []string{"context", "no-context"} {
		for _, n := range []int{128, 4 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("%s/%s", mode, sizeName(n)), func(b *testing.B) {
				benchRoundTrip(b, n, mode == "no-context", 64)
			})
		}
	}
}

func benchRoundTrip(b *testing.B, n int, noContext bool, conns int) {
	ps := make([]*pair, conns)
	msgs := benchMessages(n)
	for i := range ps {
		ps[i] = newPair(b, 0, 15, noContext)
		for _, m := range msgs[:4] { // fill the histories
			ps[i].roundTrip(b, m)
		}
	}
	zb := make([]byte, 0, n+64)
	ob := make([]byte, 0, n)
	var zsum int
	b.ReportAllocs()
	b.SetBytes(int64(n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := ps[i%conns]
		z := p.d.Deflate(zb[:0], msgs[i%len(msgs)], nil)
		zsum += len(z)
		if _, err := p.f.Inflate(ob[:0], z, n, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(zsum)/float64(b.N)/float64(n), "ratio")
}

// BenchmarkInflate and BenchmarkDeflateOnly split the round trip (context takeover, warm).
func BenchmarkInflate(b *testing.B) {
	for _, n := range []int{128, 4 << 10, 64 << 10} {
		b.Run(sizeName(n), func(b *testing.B) {
			p := newPair(b, 0, 15, false)
			msg := jsonLike(n, 1)
			p.roundTrip(b, jsonLike(n, 2))
			z := p.d.Deflate(nil, msg, nil)
			hist := append([]byte(nil), p.f.hist...)
			ob := make([]byte, 0, n)
			b.ResetTimer()
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				p.f.hist = append(p.f.hist[:0], hist...) // the same history each time
				if _, err := p.f.Inflate(ob[:0], z, n, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDeflateOnly(b *testing.B) {
	for _, n := range []int{128, 4 << 10, 64 << 10} {
		b.Run(sizeName(n), func(b *testing.B) {
			p := newPair(b, 0, 15, false)
			msgs := benchMessages(n)
			zb := make([]byte, 0, n+64)
			b.ResetTimer()
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				p.d.Deflate(zb[:0], msgs[i%len(msgs)], nil)
			}
		})
	}
}

// benchMessages are distinct JSON-like messages of n bytes, more than a 32 KiB history
// holds, so that no message is found whole in the history when it comes round again.
func benchMessages(n int) [][]byte {
	k := max(8, 2*(1<<15)/n+1)
	msgs := make([][]byte, k)
	for i := range msgs {
		msgs[i] = jsonLike(n, uint64(1000+i))
	}
	return msgs
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// FuzzInflate: any input either inflates within the limit or fails cleanly, never writing
// more than limit+1 bytes, and a failure leaves the history as it was.
func FuzzInflate(f *testing.F) {
	p := newPair(f, 0, 15, false)
	f.Add(p.d.Deflate(nil, jsonLike(300, 1), nil), false)
	f.Add([]byte{0x00}, true)
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, false)
	f.Fuzz(func(t *testing.T, src []byte, noContext bool) {
		var in Inflater
		in.Init(12, noContext)
		const limit = 4096
		out, err := in.Inflate(nil, src, limit, nil)
		if len(out) > limit+1 {
			t.Fatalf("wrote %d bytes with a %d limit", len(out), limit)
		}
		if err != nil {
			if in.HistoryCap() != 0 {
				t.Fatalf("a failed message went into the history")
			}
			return
		}
		if !noContext && len(out) > 0 && in.HistoryCap() == 0 {
			t.Fatalf("no history kept")
		}
	})
}

// TestDeflateGrower: output that outgrows the buffer goes through the Grower, both ways.
func TestDeflateGrower(t *testing.T) {
	p := newPair(t, 0, 15, false)
	for i, n := range []int{1, 100, 255, 256, 257, 4096, 70000} {
		msg := testkit.Bytes(n, uint64(i))
		zg := &growBuf{b: make([]byte, 0, 8)}
		z := p.d.Deflate(zg.b[:0], msg, zg)
		og := &growBuf{b: make([]byte, 0, 8)}
		out, err := p.f.Inflate(og.b[:0], z, n, og)
		if err != nil || !bytes.Equal(out, msg) {
			t.Fatalf("%d random bytes through growers: %v", n, err)
		}
	}
}
