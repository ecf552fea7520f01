package codec

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsfleet/wsfleet/internal/testkit"
)

func TestCloseCodeAllowedOnWire(t *testing.T) {
	allowed := map[CloseCode]bool{1000: true, 1001: true, 1002: true, 1003: true,
		1007: true, 1008: true, 1009: true, 1010: true, 1011: true, 1012: true, 1013: true, 1014: true}
	for c := 0; c <= 0xFFFF; c++ {
		code := CloseCode(c)
		want := allowed[code] || c >= 3000 && c <= 4999
		if CloseCodeAllowedOnWire(code) != want {
			t.Errorf("CloseCodeAllowedOnWire(%d) = %v", c, !want)
		}
	}
}

func TestParseClosePayload(t *testing.T) {
	cases := []struct {
		name   string
		in     []byte
		code   CloseCode
		reason string
		err    error
	}{
		{"empty means no status", nil, CloseNoStatus, "", nil},
		{"one byte", []byte{0x03}, 0, "", ErrCloseTooShort},
		{"normal, no reason", testkit.ClosePayload(1000, ""), CloseNormal, "", nil},
		{"normal with reason", testkit.ClosePayload(1000, "bye"), CloseNormal, "bye", nil},
		{"UTF-8 reason", testkit.ClosePayload(1001, "до свидания 👋"), CloseGoingAway, "до свидания 👋", nil},
		{"1003", testkit.ClosePayload(1003, ""), CloseUnsupportedData, "", nil},
		{"1007", testkit.ClosePayload(1007, ""), CloseInvalidPayload, "", nil},
		{"1014", testkit.ClosePayload(1014, ""), CloseBadGateway, "", nil},
		{"3000", testkit.ClosePayload(3000, ""), 3000, "", nil},
		{"4999", testkit.ClosePayload(4999, "x"), 4999, "x", nil},
		{"0", testkit.ClosePayload(0, ""), 0, "", ErrInvalidCloseCode},
		{"999", testkit.ClosePayload(999, ""), 999, "", ErrInvalidCloseCode},
		{"1004 reserved", testkit.ClosePayload(1004, ""), 1004, "", ErrInvalidCloseCode},
		{"1005 never on the wire", testkit.ClosePayload(1005, ""), CloseNoStatus, "", ErrInvalidCloseCode},
		{"1006 never on the wire", testkit.ClosePayload(1006, ""), CloseAbnormal, "", ErrInvalidCloseCode},
		{"1015 never on the wire", testkit.ClosePayload(1015, ""), CloseTLSHandshake, "", ErrInvalidCloseCode},
		{"1016 unassigned", testkit.ClosePayload(1016, ""), 1016, "", ErrInvalidCloseCode},
		{"2999", testkit.ClosePayload(2999, ""), 2999, "", ErrInvalidCloseCode},
		{"5000", testkit.ClosePayload(5000, ""), 5000, "", ErrInvalidCloseCode},
		{"65535", testkit.ClosePayload(65535, ""), 65535, "", ErrInvalidCloseCode},
		{"invalid UTF-8 reason", testkit.ClosePayload(1000, "a\xffb"), CloseNormal, "a\xffb", ErrInvalidCloseReason},
		{"truncated UTF-8 reason", testkit.ClosePayload(1000, "caf\xc3"), CloseNormal, "caf\xc3", ErrInvalidCloseReason},
		{"surrogate in reason", testkit.ClosePayload(1000, "\xed\xa0\x80"), CloseNormal, "\xed\xa0\x80", ErrInvalidCloseReason},
		{"125 bytes", testkit.ClosePayload(1000, strings.Repeat("r", 123)), CloseNormal, strings.Repeat("r", 123), nil},
		{"126 bytes", testkit.ClosePayload(1000, strings.Repeat("r", 124)), 0, "", ErrControlTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, reason, err := ParseClosePayload(c.in)
			if code != c.code || string(reason) != c.reason || err != c.err {
				t.Fatalf("ParseClosePayload(% x) = %v, %q, %v; want %v, %q, %v", c.in, code, reason, err, c.code, c.reason, c.err)
			}
		})
	}
}

func TestAppendClosePayload(t *testing.T) {
	cases := []struct {
		name   string
		code   CloseCode
		reason string
		want   []byte
		err    error
	}{
		{"normal", CloseNormal, "", testkit.ClosePayload(1000, ""), nil},
		{"with reason", CloseGoingAway, "shutting down", testkit.ClosePayload(1001, "shutting down"), nil},
		{"private code", 4321, "é", testkit.ClosePayload(4321, "é"), nil},
		{"no status means empty payload", CloseNoStatus, "", nil, nil},
		{"no status with reason", CloseNoStatus, "x", nil, ErrInvalidCloseCode},
		{"abnormal", CloseAbnormal, "", nil, ErrInvalidCloseCode},
		{"TLS", CloseTLSHandshake, "", nil, ErrInvalidCloseCode},
		{"1004", 1004, "", nil, ErrInvalidCloseCode},
		{"2000", 2000, "", nil, ErrInvalidCloseCode},
		{"5000", 5000, "", nil, ErrInvalidCloseCode},
		{"reason of 123 bytes", CloseNormal, strings.Repeat("a", 123), testkit.ClosePayload(1000, strings.Repeat("a", 123)), nil},
		{"reason of 124 bytes", CloseNormal, strings.Repeat("a", 124), nil, ErrCloseReasonTooLong},
		{"invalid UTF-8", CloseNormal, "bad \xc0\xaf", nil, ErrInvalidCloseReason},
		{"truncated UTF-8", CloseNormal, "caf\xc3", nil, ErrInvalidCloseReason},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := []byte("hdr")
			got, err := AppendClosePayload(prefix, c.code, c.reason)
			if err != c.err || !bytes.Equal(got, append([]byte("hdr"), c.want...)) {
				t.Fatalf("AppendClosePayload(%v, %q) = % x, %v; want hdr+% x, %v", c.code, c.reason, got, err, c.want, c.err)
			}
			if err != nil {
				return
			}
			code, reason, err := ParseClosePayload(got[3:])
			if err != nil || code != c.code || string(reason) != c.reason {
				t.Fatalf("round trip: %v %q %v", code, reason, err)
			}
		})
	}
}

func TestClosePayloadDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, MaxControlPayload)
	if n := testing.AllocsPerRun(100, func() {
		var err error
		buf, err = AppendClosePayload(buf[:0], CloseGoingAway, "server restarting — à bientôt")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ParseClosePayload(buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

// FuzzParseClosePayload: no panic; accepted payloads are exactly those with an
// allowed code and a UTF-8 reason within 125 bytes, and they re-encode to themselves.
func FuzzParseClosePayload(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add(testkit.ClosePayload(1000, "bye"))
	f.Add(testkit.ClosePayload(1005, ""))
	f.Add(testkit.ClosePayload(4000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"))
	f.Add(testkit.ClosePayload(1000, "\xed\xa0\x80"))
	f.Fuzz(func(t *testing.T, p []byte) {
		code, reason, err := ParseClosePayload(p)
		var want error
		switch {
		case len(p) == 0:
		case len(p) == 1:
			want = ErrCloseTooShort
		case len(p) > 125:
			want = ErrControlTooLong
		case !CloseCodeAllowedOnWire(CloseCode(uint16(p[0])<<8 | uint16(p[1]))):
			want = ErrInvalidCloseCode
		case !utf8.Valid(p[2:]):
			want = ErrInvalidCloseReason
		}
		if err != want {
			t.Fatalf("ParseClosePayload(% x) error %v, want %v", p, err, want)
		}
		if err != nil {
			return
		}
		again, err := AppendClosePayload(nil, code, string(reason))
		if err != nil || !bytes.Equal(again, p) {
			t.Fatalf("% x -> %v %q -> % x, %v", p, code, reason, again, err)
		}
	})
}

func BenchmarkParseClosePayload(b *testing.B) {
	p := testkit.ClosePayload(1001, "server is restarting, please reconnect")
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, _, err := ParseClosePayload(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendClosePayload(b *testing.B) {
	const reason = "server is restarting, please reconnect"
	buf := make([]byte, 0, MaxControlPayload)
	b.ReportAllocs()
	b.SetBytes(2 + int64(len(reason)))
	for b.Loop() {
		var err error
		if buf, err = AppendClosePayload(buf[:0], CloseGoingAway, reason); err != nil {
			b.Fatal(err)
		}
	}
}
