package codec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// properRunePrefixes is every proper prefix of the encoding of every valid rune,
// built from unicode/utf8 alone so that the oracle below shares nothing with the
// automaton under test.
var properRunePrefixes = sync.OnceValue(func() map[string]bool {
	set := make(map[string]bool)
	var buf [utf8.UTFMax]byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		enc := utf8.AppendRune(buf[:0], r)
		for n := 1; n < len(enc); n++ {
			set[string(enc[:n])] = true
		}
	}
	return set
})

// firstUnrecoverable is the oracle: the index of the first byte of s after which no
// continuation could make s valid UTF-8, or -1 if there is none (s is valid, or
// valid but for a truncated character at its end).
func firstUnrecoverable(s []byte) int {
	prefixes := properRunePrefixes()
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r != utf8.RuneError || size > 1 {
			i += size
			continue
		}
		// s[i:] does not start with a whole valid character: find how far it
		// stays a prefix of one.
		for k := i; k < len(s); k++ {
			if !prefixes[string(s[i:k+1])] {
				return k
			}
		}
		return -1
	}
	return -1
}

// validateInChunks feeds s to a validator cut at the given offsets and returns the
// offset of the first invalid byte in s (or -1) and Done at the end.
func validateInChunks(s []byte, cuts []int) (bad int, done bool) {
	var v UTF8Validator
	start := 0
	for i := 0; i <= len(cuts); i++ {
		end := len(s)
		if i < len(cuts) {
			end = cuts[i]
		}
		if off := v.Write(s[start:end]); off >= 0 {
			return start + off, v.Done()
		}
		start = end
	}
	return -1, v.Done()
}

// checkAllSplits compares the validator with the oracle for s fed in every way it can
// be cut into fragments (2^(len-1) ways; keep s short).
func checkAllSplits(t *testing.T, s []byte) {
	t.Helper()
	want := firstUnrecoverable(s)
	wantDone := want < 0 && utf8.Valid(s)
	var cutBuf [utf8.UTFMax]int
	cuts := cutBuf[:0]
	for mask := 0; mask < 1<<max(len(s)-1, 0); mask++ {
		cuts = cuts[:0]
		for i := 1; i < len(s); i++ {
			if mask&(1<<(i-1)) != 0 {
				cuts = append(cuts, i)
			}
		}
		bad, done := validateInChunks(s, cuts)
		if bad != want || (want < 0 && done != wantDone) {
			t.Fatalf("% x cut at %v: invalid byte at %d, Done %v; want %d, Done %v", s, slices.Clone(cuts), bad, done, want, wantDone)
		}
	}
	if got := ValidUTF8(s); got != utf8.Valid(s) {
		t.Fatalf("ValidUTF8(% x) = %v, utf8.Valid says %v", s, got, !got)
	}
}

func TestUTF8AllOneAndTwoByteSequences(t *testing.T) {
	for a := range 256 {
		checkAllSplits(t, []byte{byte(a)})
		for b := range 256 {
			checkAllSplits(t, []byte{byte(a), byte(b)})
		}
	}
}

// exhaustive reports whether to run the long sweeps (16.7M 3-byte sequences, every
// rune). Under -race they take minutes and the race detector has nothing to find in
// single-goroutine code, so -race and -short run a sample instead.
func exhaustive() bool {
	if testing.Short() {
		return false
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return false
			}
		}
	}
	return true
}

func TestUTF8AllThreeByteSequences(t *testing.T) {
	seconds := utf8BoundaryBytes
	if exhaustive() {
		seconds = allBytes()
	} else {
		t.Log("sample: first byte exhaustive, others from utf8BoundaryBytes (exhaustive without -short/-race)")
	}
	s := make([]byte, 3)
	for a := range 256 {
		for _, b := range seconds {
			for _, c := range seconds {
				s[0], s[1], s[2] = byte(a), b, c
				checkAllSplits(t, s)
			}
		}
	}
}

func allBytes() []byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return all
}

// utf8BoundaryBytes holds both ends of every range that matters to UTF-8, so that
// the 4-byte sequences built from them reach every state and every transition
// (all 2^32 sequences would take hours).
var utf8BoundaryBytes = []byte{
	0x00, 0x41, 0x7F, // ASCII
	0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, // continuation bytes, split where E0/ED/F0/F4 care
	0xC0, 0xC1, // never valid
	0xC2, 0xDF, // 2-byte leads
	0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, // 3-byte leads
	0xF0, 0xF1, 0xF3, 0xF4, // 4-byte leads
	0xF5, 0xF8, 0xFF, // never valid
}

func TestUTF8FourByteSequencesOfBoundaryBytes(t *testing.T) {
	s := make([]byte, 4)
	for _, a := range utf8BoundaryBytes {
		for _, b := range utf8BoundaryBytes {
			for _, c := range utf8BoundaryBytes {
				for _, d := range utf8BoundaryBytes {
					s[0], s[1], s[2], s[3] = a, b, c, d
					checkAllSplits(t, s)
				}
			}
		}
	}
}

// Every valid rune, then the same rune with its last byte replaced by every other
// byte value, in every split: the 4-byte characters exhaustively in their last byte.
func TestUTF8EveryRuneAndEveryLastByte(t *testing.T) {
	step := rune(1)
	if !exhaustive() {
		step = 97
	}
	var buf [utf8.UTFMax]byte
	for r := rune(0); r <= utf8.MaxRune; r += step {
		if !utf8.ValidRune(r) {
			continue
		}
		enc := utf8.AppendRune(buf[:0], r)
		checkAllSplits(t, enc)
		if len(enc) == 4 && r%64 == 0 { // one rune per last-byte group is enough
			last := enc[3]
			for b := range 256 {
				enc[3] = byte(b)
				checkAllSplits(t, enc)
			}
			enc[3] = last
		}
	}
}

// Surrogates U+D800..U+DFFF encoded the way CESU/WTF-8 would: invalid at the 2nd byte.
func TestUTF8Surrogates(t *testing.T) {
	for r := 0xD800; r <= 0xDFFF; r++ {
		s := []byte{0xE0 | byte(r>>12), 0x80 | byte(r>>6)&0x3F, 0x80 | byte(r)&0x3F}
		var v UTF8Validator
		if got := v.Write(s); got != 1 {
			t.Fatalf("U+%04X as % x: invalid byte at %d, want 1", r, s, got)
		}
	}
}

// The Autobahn|Testsuite 6.x cases, as the fragments (or TCP chunks) it sends them in.
func TestUTF8AutobahnCases(t *testing.T) {
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" // κόσμε
	type failure struct{ chunk, offset int }
	ok := failure{-1, -1}
	cases := []struct {
		name   string
		chunks []string
		want   failure
		done   bool
	}{
		{"6.2.x valid, whole", []string{"Hello-µ@ßöäüàá-UTF-8!!"}, ok, true},
		{"6.3.1 surrogate mid-text", []string{kosme + "\xed\xa0\x80edited"}, failure{0, 12}, false},
		{"6.3.2 same, byte by byte", eachByte(kosme + "\xed\xa0\x80edited"), failure{12, 0}, false},
		{"6.4.1 above U+10FFFF in 2nd frame", []string{kosme, "\xf4\x90\x80\x80", "edited"}, failure{1, 1}, false},
		{"6.4.2 F4 ends frame 1, 90 starts frame 2", []string{kosme + "\xf4", "\x90", "\x80\x80edited"}, failure{1, 0}, false},
		{"6.4.3 chopped into chunks", []string{kosme, "\xf4\x90\x80\x80", "edited"}, failure{1, 1}, false},
		{"6.4.4 F4 and 90 alone", []string{kosme, "\xf4", "\x90", "\x80\x80edited"}, failure{2, 0}, false},
		{"invalid byte as last of a fragment", []string{"ab\xc0", "x"}, failure{0, 2}, false},
		{"overlong E0 80 as last bytes", []string{"ab\xe0\x80", "\x80"}, failure{0, 3}, false},
		{"surrogate ED A0 as last bytes", []string{"ab\xed\xa0", "\x80"}, failure{0, 3}, false},
		{"F5 as last byte", []string{"ab\xf5"}, failure{0, 2}, false},
		{"truncated sequence at fragment end is fine", []string{"ab\xf0\x9f", "\x98\x80"}, ok, true},
		{"truncated sequence at message end", []string{"ab\xf0\x9f\x98"}, ok, false},
		{"6.5.x first 4-byte", []string{"\xf0\x90\x80\x80"}, ok, true},
		{"6.5.x last 4-byte", []string{"\xf4\x8f\xbf\xbf"}, ok, true},
		{"6.8.1 5-byte form", []string{"\xf8\x88\x80\x80\x80"}, failure{0, 0}, false},
		{"6.8.2 6-byte form", []string{"\xfc\x84\x80\x80\x80\x80"}, failure{0, 0}, false},
		{"6.10.x lone continuation", []string{"\x80"}, failure{0, 0}, false},
		{"6.16.x overlong slash C0 AF", []string{"\xc0\xaf"}, failure{0, 0}, false},
		{"6.16.x overlong slash E0 80 AF", []string{"\xe0\x80\xaf"}, failure{0, 1}, false},
		{"6.16.x overlong slash F0 80 80 AF", []string{"\xf0\x80\x80\xaf"}, failure{0, 1}, false},
		{"6.17.x max overlong C1 BF", []string{"\xc1\xbf"}, failure{0, 0}, false},
		{"6.17.x max overlong E0 9F BF", []string{"\xe0\x9f\xbf"}, failure{0, 1}, false},
		{"6.17.x max overlong F0 8F BF BF", []string{"\xf0\x8f\xbf\xbf"}, failure{0, 1}, false},
		{"6.19.x paired surrogates", []string{"\xed\xa0\x80\xed\xb0\x80"}, failure{0, 1}, false},
		{"6.22.x noncharacter U+FFFE is valid", []string{"\xef\xbf\xbe"}, ok, true},
		{"6.22.x noncharacter U+10FFFF is valid", []string{"\xf4\x8f\xbf\xbf"}, ok, true},
		{"U+FFFD itself is valid", []string{"\xef\xbf\xbd"}, ok, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v UTF8Validator
			got := ok
			for i, chunk := range c.chunks {
				if off := v.Write([]byte(chunk)); off >= 0 {
					got = failure{i, off}
					break
				}
			}
			if got != c.want || v.Done() != c.done {
				t.Fatalf("failure %+v, Done %v; want %+v, Done %v", got, v.Done(), c.want, c.done)
			}
			// The same text in one piece fails at the same absolute offset.
			whole := []byte(strings.Join(c.chunks, ""))
			if wantAt := firstUnrecoverable(whole); wantAt != absoluteOffset(c.chunks, c.want.chunk, c.want.offset) {
				t.Fatalf("test table disagrees with the oracle: oracle says %d", wantAt)
			}
		})
	}
}

func eachByte(s string) []string {
	out := make([]string, len(s))
	for i := 0; i < len(s); i++ { // bytes, not runes
		out[i] = s[i : i+1]
	}
	return out
}

func absoluteOffset(chunks []string, chunk, offset int) int {
	if chunk < 0 {
		return -1
	}
	n := offset
	for _, c := range chunks[:chunk] {
		n += len(c)
	}
	return n
}

// A bad byte at every position of long ASCII runs, to cover the 16-, 8- and 1-byte
// steps of the ASCII path and the hand-over to the automaton.
func TestUTF8BadByteAfterASCII(t *testing.T) {
	for _, bad := range []string{"\xff", "\x80", "\xc3\x28", "é\xff"} {
		for n := range 70 {
			s := []byte(strings.Repeat("a", n) + bad + strings.Repeat("b", 20))
			want := firstUnrecoverable(s)
			var v UTF8Validator
			if got := v.Write(s); got != want {
				t.Fatalf("%d ASCII bytes then % x: invalid at %d, want %d", n, bad, got, want)
			}
		}
	}
	for n := range 70 {
		s := []byte(strings.Repeat("a", n) + "é" + strings.Repeat("b", n))
		if !ValidUTF8(s) {
			t.Fatalf("%d ASCII bytes around é reported invalid", n)
		}
	}
}

func TestUTF8StaysFailedUntilReset(t *testing.T) {
	var v UTF8Validator
	if got := v.Write([]byte("a\xffb")); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
	if !v.Failed() || v.Done() {
		t.Fatalf("Failed %v Done %v after an invalid byte", v.Failed(), v.Done())
	}
	if got := v.Write([]byte("valid")); got != 0 {
		t.Fatalf("Write after failure = %d, want 0", got)
	}
	v.Reset()
	if v.Write([]byte("valid")) != -1 || !v.Done() || v.Failed() {
		t.Fatal("Reset did not clear the failure")
	}
	var open UTF8Validator
	open.Write([]byte("\xe2\x82"))
	if open.Done() {
		t.Fatal("Done with a sequence left open")
	}
	open.Reset()
	if !open.Done() {
		t.Fatal("Reset did not drop the open sequence")
	}
}

// Long random texts mixing ASCII, multi-byte characters and noise, cut at random.
func TestUTF8RandomTextsAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "hello ", "é", "мир", "世界", "😀", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbd",
		"\xff", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90", "\x80", "\xe2\x82", "\xf0\x9f"}
	for range 20000 {
		var b bytes.Buffer
		for range rng.IntN(40) {
			p := pieces[rng.IntN(len(pieces))]
			if rng.IntN(8) > 0 && p[0] >= 0x80 && !utf8.ValidString(p) {
				p = "x" // keep most texts valid so that failures come late
			}
			b.WriteString(p)
		}
		s := b.Bytes()
		var cuts []int
		for i := 1; i < len(s); i++ {
			if rng.IntN(6) == 0 {
				cuts = append(cuts, i)
			}
		}
		want := firstUnrecoverable(s)
		bad, done := validateInChunks(s, cuts)
		if bad != want || (want < 0 && done != utf8.Valid(s)) {
			t.Fatalf("%q cut at %v: invalid at %d, Done %v; want %d, Done %v", s, cuts, bad, done, want, utf8.Valid(s))
		}
		if ValidUTF8(s) != utf8.Valid(s) {
			t.Fatalf("ValidUTF8(%q) disagrees with utf8.Valid", s)
		}
	}
}

func TestValidUTF8DoesNotAllocate(t *testing.T) {
	s := []byte(mixedText(1024))
	if n := testing.AllocsPerRun(100, func() { ValidUTF8(s) }); n != 0 {
		t.Fatalf("%v allocs per ValidUTF8", n)
	}
}

// FuzzUTF8Validator checks the validator against unicode/utf8 with the input cut
// into fragments where the fuzzer says: the reported offset must be exactly the
// first byte at which the text can no longer become valid.
func FuzzUTF8Validator(f *testing.F) {
	f.Add([]byte("Hello-µ@ßöäüàá-UTF-8!!"), []byte{3, 5})
	f.Add([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited"), []byte{12, 1})
	f.Add([]byte("ab\xed\xa0\x80"), []byte{4})
	f.Add([]byte("\xf0\x9f\x98\x80 ok"), []byte{1, 1, 1})
	f.Fuzz(func(t *testing.T, s []byte, cutSizes []byte) {
		// Each byte of cutSizes is the length of the next fragment (0 = empty fragment).
		var cuts []int
		at := 0
		for _, n := range cutSizes {
			at += int(n)
			if at > len(s) {
				break
			}
			cuts = append(cuts, at)
		}
		want := firstUnrecoverable(s)
		bad, done := validateInChunks(s, cuts)
		if bad != want {
			t.Fatalf("% x cut at %v: invalid at %d, want %d", s, cuts, bad, want)
		}
		if want < 0 && done != utf8.Valid(s) {
			t.Fatalf("% x cut at %v: Done %v, utf8.Valid %v", s, cuts, done, utf8.Valid(s))
		}
		if ValidUTF8(s) != utf8.Valid(s) {
			t.Fatalf("ValidUTF8(% x) disagrees with utf8.Valid", s)
		}
	})
}

// mixedText is n bytes of valid text: mostly ASCII with Latin, Cyrillic, CJK and emoji.
func mixedText(n int) string {
	const sample = "The quick brown fox — Größe, naïve café; Быстрая лиса; 速い茶色の狐; 🦊🚀 jumps!\n"
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(sample)
	}
	s := b.String()[:n]
	for !utf8.ValidString(s) { // do not end inside a character
		s = s[:len(s)-1]
	}
	return s
}

func BenchmarkUTF8Validator(b *testing.B) {
	for _, size := range []int{64, 1024, 16 * 1024} {
		for _, kind := range []string{"ascii", "mixed", "cyrillic"} {
			var text []byte
			switch kind {
			case "ascii":
				text = []byte(strings.Repeat("a", size))
			case "mixed":
				text = []byte(mixedText(size))
			case "cyrillic":
				text = []byte(strings.Repeat("я", size/2))
			}
			b.Run(fmt.Sprintf("%s/%d/codec", kind, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(text)))
				var v UTF8Validator
				for b.Loop() {
					v.Reset()
					if v.Write(text) >= 0 || !v.Done() {
						b.Fatal("invalid")
					}
				}
			})
			b.Run(fmt.Sprintf("%s/%d/stdlib", kind, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					if !utf8.Valid(text) {
						b.Fatal("invalid")
					}
				}
			})
		}
	}
}

// Streaming cost: the same 16 KiB mixed text in 100-byte fragments.
func BenchmarkUTF8ValidatorFragments(b *testing.B) {
	text := []byte(mixedText(16 * 1024))
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	var v UTF8Validator
	for b.Loop() {
		v.Reset()
		for p := text; len(p) > 0; {
			n := min(100, len(p))
			if v.Write(p[:n]) >= 0 {
				b.Fatal("invalid")
			}
			p = p[n:]
		}
		if !v.Done() {
			b.Fatal("not done")
		}
	}
}
