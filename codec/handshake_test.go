package codec

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"testing"
)

// The sample handshake of RFC 6455 section 1.3.
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

func TestGenerateKey(t *testing.T) {
	seen := map[[24]byte]bool{}
	for i := 0; i < 100; i++ {
		var k [24]byte
		GenerateKey(&k)
		raw, err := base64.StdEncoding.DecodeString(string(k[:]))
		if err != nil || len(raw) != 16 {
			t.Fatalf("key %q: %d bytes, %v", k, len(raw), err)
		}
		if seen[k] {
			t.Fatalf("key %q repeated", k)
		}
		seen[k] = true
	}
}

func TestAcceptKey(t *testing.T) {
	if got := AcceptKey([]byte(rfcKey)); string(got[:]) != rfcAccept {
		t.Fatalf("AcceptKey(RFC sample) = %s, want %s", got, rfcAccept)
	}
	// Any length, including the ones past the stack buffer, must agree with
	// the definition.
	for _, key := range []string{"", "x", rfcKey + "=", strings.Repeat("k", 200)} {
		sum := sha1.Sum([]byte(key + acceptGUID))
		want := base64.StdEncoding.EncodeToString(sum[:])
		if got := AcceptKey([]byte(key)); string(got[:]) != want {
			t.Errorf("AcceptKey(%q) = %s, want %s", key, got, want)
		}
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAppendRequestExact(t *testing.T) {
	o := &RequestOptions{
		Protocols:  []string{"chat", "superchat"},
		Extensions: "permessage-deflate; client_max_window_bits",
		Header: http.Header{
			"Origin":        {"http://example.com"},
			"Authorization": {"Bearer t"},
			"X-Multi":       {"a", "b"},
		},
	}
	got, err := AppendRequest([]byte("prefix|"), mustURL(t, "ws://server.example.com/chat?room=1#frag"), []byte(rfcKey), o)
	if err != nil {
		t.Fatal(err)
	}
	want := "prefix|GET /chat?room=1 HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + rfcKey + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
		"Authorization: Bearer t\r\n" +
		"Origin: http://example.com\r\n" +
		"X-Multi: a\r\n" +
		"X-Multi: b\r\n" +
		"\r\n"
	if string(got) != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

// More header names than the stack array holds still come out sorted.
func TestAppendRequestManyHeaders(t *testing.T) {
	h := http.Header{}
	for i := 0; i < 40; i++ {
		h.Set(fmt.Sprintf("X-H%02d", 39-i), fmt.Sprint(i))
	}
	got, err := AppendRequest(nil, mustURL(t, "ws://h/"), []byte(rfcKey), &RequestOptions{Header: h})
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, line := range strings.Split(string(got), "\r\n") {
		if strings.HasPrefix(line, "X-H") {
			if line < last {
				t.Fatalf("%q after %q", line, last)
			}
			last = line
		}
	}
	if last != "X-H39: 0" {
		t.Fatalf("last header %q", last)
	}
}

func TestAppendRequestHostAndURI(t *testing.T) {
	for _, tc := range []struct{ url, host, uri string }{
		{"ws://example.com", "example.com", "/"},
		{"ws://example.com/", "example.com", "/"},
		{"ws://example.com:80/chat", "example.com", "/chat"},
		{"ws://example.com:443/", "example.com:443", "/"},
		{"ws://example.com:8080/", "example.com:8080", "/"},
		{"wss://example.com:443/", "example.com", "/"},
		{"wss://example.com:80/", "example.com:80", "/"},
		{"wss://example.com", "example.com", "/"},
		{"http://example.com:80/x", "example.com", "/x"},
		{"https://example.com:443/x", "example.com", "/x"},
		{"WS://Example.COM/", "Example.COM", "/"},
		{"ws://127.0.0.1:9001/runCase?case=1&agent=wsfleet", "127.0.0.1:9001", "/runCase?case=1&agent=wsfleet"},
		{"ws://[::1]:8080/x?y=1", "[::1]:8080", "/x?y=1"},
		{"ws://[::1]/", "[::1]", "/"},
		{"wss://[2001:db8::1]:443/", "[2001:db8::1]", "/"},
		{"ws://[fe80::1%25eth0]:9000/", "[fe80::1]:9000", "/"},
		{"ws://h/a%20b/c%2Fd", "h", "/a%20b/c%2Fd"},
		{"ws://h/a b", "h", "/a%20b"},
		{"ws://h/path?q=a%20b#frag", "h", "/path?q=a%20b"},
		{"ws://h?", "h", "/?"},
		{"ws://h?x", "h", "/?x"},
		{"ws://user:pass@h/", "h", "/"},
		{"ws://h:/", "h", "/"},
	} {
		got, err := AppendRequest(nil, mustURL(t, tc.url), []byte(rfcKey), nil)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(got)))
		if err != nil {
			t.Errorf("%s: net/http cannot read our request: %v\n%s", tc.url, err, got)
			continue
		}
		if req.Host != tc.host || req.RequestURI != tc.uri {
			t.Errorf("%s: Host %q URI %q, want %q %q", tc.url, req.Host, req.RequestURI, tc.host, tc.uri)
		}
	}
}

// TestAppendRequestReadByNetHTTP checks every field as net/http's own
// request parser sees it.
func TestAppendRequestReadByNetHTTP(t *testing.T) {
	o := &RequestOptions{
		Protocols:  []string{"v2.bookings", "v1.bookings"},
		Extensions: `permessage-deflate; client_max_window_bits, x-foo; a="b,c"`,
		Header:     http.Header{"Origin": {"https://o.example"}, "Cookie": {"a=1; b=2"}, "User-Agent": {"wsfleet-test"}},
	}
	raw, err := AppendRequest(nil, mustURL(t, "wss://api.example.com:8443/v1/stream?x=%2F&y"), []byte(rfcKey), o)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatal(err)
	}
	if br.Buffered() != 0 {
		t.Errorf("%d bytes after the request", br.Buffered())
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	check("Method", req.Method, "GET")
	check("Proto", req.Proto, "HTTP/1.1")
	check("RequestURI", req.RequestURI, "/v1/stream?x=%2F&y")
	check("Host", req.Host, "api.example.com:8443")
	check("Upgrade", req.Header.Get("Upgrade"), "websocket")
	check("Connection", req.Header.Get("Connection"), "Upgrade")
	check("Key", req.Header.Get("Sec-WebSocket-Key"), rfcKey)
	check("Version", req.Header.Get("Sec-WebSocket-Version"), "13")
	check("Protocol", req.Header.Get("Sec-WebSocket-Protocol"), "v2.bookings, v1.bookings")
	check("Extensions", req.Header.Get("Sec-WebSocket-Extensions"), o.Extensions)
	check("Origin", req.Header.Get("Origin"), "https://o.example")
	check("Cookie", req.Header.Get("Cookie"), "a=1; b=2")
	check("User-Agent", req.UserAgent(), "wsfleet-test")
	if req.ContentLength != 0 || len(req.TransferEncoding) != 0 {
		t.Errorf("request has a body: %d %v", req.ContentLength, req.TransferEncoding)
	}
}

func TestAppendRequestRefuses(t *testing.T) {
	ctl := &url.URL{Scheme: "ws", Host: "h", Path: "/", RawQuery: "a\r\nX-Injected: 1"}
	for _, tc := range []struct {
		name string
		u    *url.URL
		key  string
		o    *RequestOptions
		want string
	}{
		{"nil URL", nil, rfcKey, nil, "nil URL"},
		{"scheme", mustURL(t, "ftp://h/"), rfcKey, nil, `unsupported URL scheme "ftp"`},
		{"no host", mustURL(t, "ws:///path"), rfcKey, nil, "URL has no host"},
		{"opaque", &url.URL{Scheme: "ws", Opaque: "h/x"}, rfcKey, nil, "has no host"},
		{"host CRLF", &url.URL{Scheme: "ws", Host: "h\r\nX: y"}, rfcKey, nil, "invalid character in URL host"},
		{"bad port", &url.URL{Scheme: "ws", Host: "h:8x"}, rfcKey, nil, `malformed URL host "h:8x"`},
		{"bare IPv6", &url.URL{Scheme: "ws", Host: "::1"}, rfcKey, nil, "malformed URL host"},
		{"open bracket", &url.URL{Scheme: "ws", Host: "[::1"}, rfcKey, nil, "malformed URL host"},
		{"after bracket", &url.URL{Scheme: "ws", Host: "[::1]x"}, rfcKey, nil, "malformed URL host"},
		{"empty v6", &url.URL{Scheme: "ws", Host: "[]:80"}, rfcKey, nil, "malformed URL host"},
		{"port only", &url.URL{Scheme: "ws", Host: ":80"}, rfcKey, nil, "malformed URL host"},
		{"query CRLF", ctl, rfcKey, nil, "invalid character in URL query"},
		{"short key", mustURL(t, "ws://h/"), "abc", nil, "Sec-WebSocket-Key must be 24 base64 characters"},
		{"key CRLF", mustURL(t, "ws://h/"), "dGhlIHNhbXBsZSBub25j\r\n==", nil, "Sec-WebSocket-Key"},
		{"empty protocol", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Protocols: []string{""}}, `subprotocol "" is not a valid token`},
		{"protocol space", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Protocols: []string{"a b"}}, `subprotocol "a b" is not a valid token`},
		{"protocol comma", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Protocols: []string{"a,b"}}, "not a valid token"},
		{"protocol twice", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Protocols: []string{"a", "b", "a"}}, `subprotocol "a" offered twice`},
		{"extensions CRLF", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Extensions: "x\r\nEvil: 1"}, "invalid character in Sec-WebSocket-Extensions"},
		{"header name space", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Header: http.Header{"Bad Name": {"v"}}}, `invalid header name "Bad Name"`},
		{"header name colon", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Header: http.Header{"a:b": {"v"}}}, "invalid header name"},
		{"header name empty", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Header: http.Header{"": {"v"}}}, "invalid header name"},
		{"value CR", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Header: http.Header{"X": {"a\rb"}}}, `invalid character in value of header "X"`},
		{"value LF", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Header: http.Header{"X": {"ok", "a\nInjected: 1"}}}, "invalid character in value"},
		{"value NUL", mustURL(t, "ws://h/"), rfcKey, &RequestOptions{Header: http.Header{"X": {"a\x00"}}}, "invalid character in value"},
	} {
		dst := []byte("keep")
		got, err := AppendRequest(dst, tc.u, []byte(tc.key), tc.o)
		var ue *UpgradeError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want an *UpgradeError containing %q", tc.name, err, tc.want)
		}
		if string(got) != "keep" {
			t.Errorf("%s: dst changed to %q", tc.name, got)
		}
	}
}

func TestAppendRequestRefusesProtocolHeaders(t *testing.T) {
	for _, name := range []string{
		"Host", "host", "Upgrade", "UPGRADE", "Connection", "Sec-WebSocket-Key", "sec-websocket-key",
		"Sec-WebSocket-Version", "Sec-Websocket-Protocol", "Sec-WebSocket-Extensions",
		"Sec-WebSocket-Accept", "Content-Length", "Transfer-Encoding",
	} {
		o := &RequestOptions{Header: http.Header{name: {"x"}}}
		_, err := AppendRequest(nil, mustURL(t, "ws://h/"), []byte(rfcKey), o)
		if err == nil || !strings.Contains(err.Error(), "cannot be overridden") {
			t.Errorf("header %q: err %v", name, err)
		}
	}
	// A value may contain a tab, and obs-text; nothing else is policed.
	o := &RequestOptions{Header: http.Header{"X-Ok": {"a\tb \xe9"}}}
	if _, err := AppendRequest(nil, mustURL(t, "ws://h/"), []byte(rfcKey), o); err != nil {
		t.Error(err)
	}
}

func TestHandshakeAllocs(t *testing.T) {
	u := mustURL(t, "wss://stream.example.com:8443/feed?x=1")
	o := &RequestOptions{Protocols: []string{"chat", "v2.chat"}, Header: http.Header{"Origin": {"https://example.com"}}}
	dst := make([]byte, 0, 1024)
	var key [24]byte
	GenerateKey(&key)
	if a := testing.AllocsPerRun(200, func() {
		if _, err := AppendRequest(dst[:0], u, key[:], o); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("AppendRequest: %v allocs", a)
	}
	// crypto/rand keeps its generators in a sync.Pool, which drops Puts on
	// purpose under the race detector.
	if a := testing.AllocsPerRun(200, func() { GenerateKey(&key) }); a != 0 && !hsRaceEnabled() {
		t.Errorf("GenerateKey: %v allocs", a)
	}
	if a := testing.AllocsPerRun(200, func() { AcceptKey(key[:]) }); a != 0 {
		t.Errorf("AcceptKey: %v allocs", a)
	}
}

// hsRaceEnabled reports whether the test binary was built with -race.
func hsRaceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

func BenchmarkAppendRequest(b *testing.B) {
	u := mustURL(b, "wss://stream.example.com:8443/feed?x=1")
	o := &RequestOptions{Protocols: []string{"chat", "v2.chat"}, Header: http.Header{"Origin": {"https://example.com"}}}
	dst := make([]byte, 0, 1024)
	key := []byte(rfcKey)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendRequest(dst[:0], u, key, o); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkGenerateKey(b *testing.B) {
	var key [24]byte
	b.ReportAllocs()
	for b.Loop() {
		GenerateKey(&key)
	}
}

func BenchmarkAcceptKey(b *testing.B) {
	key := []byte(rfcKey)
	b.ReportAllocs()
	for b.Loop() {
		AcceptKey(key)
	}
}
