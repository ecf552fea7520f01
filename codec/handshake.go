package codec

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The client half of the opening handshake (RFC 6455 section 4.1): the key,
// the expected accept value and the GET request. The response parser is in
// handshake_response.go.

// UpgradeError is every handshake failure: a request the caller asked for
// that cannot be written, or a response that is not a valid upgrade.
type UpgradeError struct {
	Reason string
}

func (e *UpgradeError) Error() string { return "websocket upgrade: " + e.Reason }

func upgradeErr(reason string) error { return &UpgradeError{Reason: reason} }

// keyLen is the length of a Sec-WebSocket-Key: base64 of a 16-byte nonce.
const keyLen = 24

// acceptGUID is the fixed suffix of RFC 6455 section 1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// GenerateKey writes a fresh Sec-WebSocket-Key: base64 of 16 random bytes
// from crypto/rand. The nonce only has to be unpredictable to caches and
// proxies, but crypto/rand is cheap enough that there is no reason to settle
// for less.
func GenerateKey(dst *[24]byte) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // never fails since Go 1.24; it crashes instead
	base64.StdEncoding.Encode(dst[:], nonce[:])
}

// AcceptKey returns the Sec-WebSocket-Accept a server must answer to key:
// base64(SHA-1(key + GUID)).
func AcceptKey(key []byte) [28]byte {
	// Concatenate on the stack for any sane key, so the usual call is free.
	var stack [keyLen + len(acceptGUID)]byte
	var buf []byte
	if len(key) <= keyLen {
		buf = stack[:0]
	}
	buf = append(buf, key...)
	buf = append(buf, acceptGUID...)
	sum := sha1.Sum(buf)
	var out [28]byte
	base64.StdEncoding.Encode(out[:], sum[:])
	return out
}

// RequestOptions are the negotiable parts of the upgrade request.
type RequestOptions struct {
	// Protocols are offered in Sec-WebSocket-Protocol, in order of preference.
	// Each must be a non-empty HTTP token, and no two may be equal.
	Protocols []string
	// Extensions is the raw Sec-WebSocket-Extensions offer, for instance
	// "permessage-deflate; client_max_window_bits".
	Extensions string
	// Header holds extra request headers (Origin, Authorization, cookies...).
	// The headers the handshake itself owns are refused, see AppendRequest.
	Header http.Header
}

var noOptions RequestOptions

// AppendRequest appends the GET upgrade request for u to dst. The Host header
// comes from u.Host without a default port (80 for ws/http, 443 for wss/https)
// and with IPv6 literals in brackets (zone removed, as net/http does); the
// Request-URI is u's escaped path ("/" if empty) plus its query. key is the
// Sec-WebSocket-Key (GenerateKey). o may be nil.
//
// It refuses, with an *UpgradeError and dst unchanged: other URL schemes, an
// empty host, caller headers that the handshake owns (Host, Upgrade,
// Connection, Sec-WebSocket-Key/Version/Protocol/Extensions/Accept,
// Content-Length, Transfer-Encoding), header names that are not tokens, and
// values with CR, LF or other control characters. A valid request costs no
// allocation when dst has room (with up to 16 extra header names).
func AppendRequest(dst []byte, u *url.URL, key []byte, o *RequestOptions) ([]byte, error) {
	if o == nil {
		o = &noOptions
	}
	if err := checkRequest(u, key, o); err != nil {
		return dst, err
	}
	host, port, _ := splitHostPort(u.Host)
	secure := u.Scheme == "wss" || u.Scheme == "https"

	dst = append(dst, "GET "...)
	dst = appendRequestURI(dst, u)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // an IPv6 zone means nothing to the server
	}
	if strings.IndexByte(host, ':') >= 0 {
		dst = append(dst, '[')
		dst = append(dst, host...)
		dst = append(dst, ']')
	} else {
		dst = append(dst, host...)
	}
	if port != "" && !(secure && port == "443") && !(!secure && port == "80") {
		dst = append(dst, ':')
		dst = append(dst, port...)
	}
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	dst = append(dst, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if len(o.Protocols) > 0 {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		for i, p := range o.Protocols {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, p...)
		}
		dst = append(dst, "\r\n"...)
	}
	if o.Extensions != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, o.Extensions...)
		dst = append(dst, "\r\n"...)
	}
	dst = appendExtraHeaders(dst, o.Header)
	return append(dst, "\r\n"...), nil
}

// checkRequest validates everything up front so that a refused request
// leaves dst untouched.
func checkRequest(u *url.URL, key []byte, o *RequestOptions) error {
	if u == nil {
		return upgradeErr("nil URL")
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return upgradeErr("unsupported URL scheme " + strconv.Quote(u.Scheme) + " (want ws or wss)")
	}
	if u.Opaque != "" {
		return upgradeErr("URL " + strconv.Quote(u.String()) + " has no host")
	}
	if u.Host == "" {
		return upgradeErr("URL has no host")
	}
	if !hsPrintable(u.Host) {
		return upgradeErr("invalid character in URL host " + strconv.Quote(u.Host))
	}
	if _, _, ok := splitHostPort(u.Host); !ok {
		return upgradeErr("malformed URL host " + strconv.Quote(u.Host))
	}
	if !hsPrintable(u.RawQuery) {
		return upgradeErr("invalid character in URL query " + strconv.Quote(u.RawQuery))
	}
	if len(key) != keyLen || !hsBase64(key) {
		return upgradeErr("Sec-WebSocket-Key must be 24 base64 characters (see GenerateKey)")
	}
	for i, p := range o.Protocols {
		if !hsToken(p) {
			return upgradeErr("subprotocol " + strconv.Quote(p) + " is not a valid token")
		}
		for _, q := range o.Protocols[:i] {
			if p == q {
				return upgradeErr("subprotocol " + strconv.Quote(p) + " offered twice")
			}
		}
	}
	if !hsFieldValue(o.Extensions) {
		return upgradeErr("invalid character in Sec-WebSocket-Extensions " + strconv.Quote(o.Extensions))
	}
	for name, values := range o.Header {
		if !hsToken(name) {
			return upgradeErr("invalid header name " + strconv.Quote(name))
		}
		if hsReservedHeader(name) {
			return upgradeErr("header " + strconv.Quote(name) + " is set by the WebSocket handshake and cannot be overridden")
		}
		for _, v := range values {
			if !hsFieldValue(v) {
				return upgradeErr("invalid character in value of header " + strconv.Quote(name))
			}
		}
	}
	return nil
}

// splitHostPort splits u.Host strictly (url.Hostname and url.Port are
// lenient with hand-made URLs): "host", "host:port", "[v6]" or "[v6]:port",
// with a non-empty host, a numeric (or empty) port, and no colon in a host
// outside brackets.
func splitHostPort(hostport string) (host, port string, ok bool) {
	host = hostport
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", "", false
		}
		host, port = hostport[1:end], hostport[end+1:]
		if port != "" && port[0] != ':' {
			return "", "", false
		}
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i:]
		if strings.IndexByte(host, ':') >= 0 {
			return "", "", false // IPv6 literal without brackets
		}
	}
	if port != "" {
		port = port[1:]
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", "", false
		}
	}
	return host, port, host != ""
}

// appendRequestURI writes u's path and query; a fragment is never sent.
func appendRequestURI(dst []byte, u *url.URL) []byte {
	path := u.EscapedPath() // returns Path itself when nothing needs escaping
	if path == "" {
		dst = append(dst, '/')
	} else {
		if path[0] != '/' {
			dst = append(dst, '/')
		}
		dst = append(dst, path...)
	}
	if u.ForceQuery || u.RawQuery != "" {
		dst = append(dst, '?')
		dst = append(dst, u.RawQuery...)
	}
	return dst
}

// appendExtraHeaders writes h sorted by name, so the request is
// deterministic. The names are sorted in a stack array; only a request with
// more than 16 header names pays for a heap slice.
func appendExtraHeaders(dst []byte, h http.Header) []byte {
	if len(h) == 0 {
		return dst
	}
	var stack [16]string
	names := stack[:0]
	for name := range h {
		names = append(names, name)
	}
	for i := 1; i < len(names); i++ { // insertion sort: few names, no allocation
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	for _, name := range names {
		for _, v := range h[name] {
			dst = append(dst, name...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	return dst
}

// reservedHeaders are the request headers the handshake writes itself (or
// that would change how the request is framed).
var reservedHeaders = [...]string{
	"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
	"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Sec-WebSocket-Accept",
	"Content-Length", "Transfer-Encoding",
}

func hsReservedHeader(name string) bool {
	for _, r := range reservedHeaders {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// hsTokenChars marks the tchar set of RFC 9110 section 5.6.2.
var hsTokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func hsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !hsTokenChars[s[i]] {
			return false
		}
	}
	return true
}

// hsFieldValue refuses what could end the header line or confuse a parser:
// control characters other than horizontal tab (CR and LF among them).
func hsFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// hsPrintable accepts visible ASCII and bytes >= 0x80, nothing else.
func hsPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func hsBase64(b []byte) bool {
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
		case c == '=' && i >= len(b)-2:
		default:
			return false
		}
	}
	return true
}
