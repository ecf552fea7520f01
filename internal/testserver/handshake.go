package testserver

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strconv"

	"github.com/wsfleet/wsfleet/codec"
)

// maxRequestBytes bounds the upgrade request head; the handshake buffer never grows past it.
const maxRequestBytes = 8 << 10

// upgradeRequest is what the server needs from a valid upgrade request.
type upgradeRequest struct {
	path        string
	query       url.Values
	key         []byte
	subprotocol string // selected, "" for none
}

// httpError is a refusal of the request, answered with status and a short body.
type httpError struct {
	status int
	text   string // reason phrase
	body   string
	header string // extra header lines, each ending in CRLF
}

func badRequest(body string) *httpError {
	return &httpError{status: 400, text: "Bad Request", body: body}
}

// findHeadEnd returns the length of the request head (through the blank line) in
// b, or -1 if it is not complete. Bare LF line ends are accepted, as RFC 9112 allows.
func findHeadEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j // b[i] ends a line; a blank line may follow
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// parseUpgrade checks a request head against RFC 6455 section 4.2.1 and picks a
// subprotocol. known reports whether a path is served, so that a wrong path gets 404
// whether or not the rest is a valid upgrade.
func parseUpgrade(head []byte, known func(path string) bool, subprotocols []string) (upgradeRequest, *httpError) {
	var r upgradeRequest
	line, rest := cutLine(head)
	method, line, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(line, []byte(" "))
	if !ok1 || !ok2 || len(target) == 0 {
		return r, badRequest("malformed request line\n")
	}
	if string(method) != "GET" {
		return r, badRequest("a WebSocket upgrade must use GET\n")
	}
	if !bytes.HasPrefix(version, []byte("HTTP/1.")) || string(version) == "HTTP/1.0" {
		return r, badRequest("a WebSocket upgrade needs HTTP/1.1\n")
	}
	u, err := url.ParseRequestURI(string(target))
	if err != nil {
		return r, badRequest("malformed request target\n")
	}
	r.path = u.Path
	if r.path == "" {
		r.path = "/"
	}
	if !known(r.path) {
		return r, &httpError{status: 404, text: "Not Found",
			body: "no such endpoint; try /echo, /push, /stall, /close or /reset\n"}
	}
	if r.query, err = url.ParseQuery(u.RawQuery); err != nil {
		return r, badRequest("malformed query\n")
	}

	var host, upgrade, connection, version13, versionSeen bool
	var offered [][]byte
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return r, badRequest("malformed header line\n")
		}
		value = bytes.TrimSpace(value)
		switch {
		case equalFold(name, "Host"):
			host = len(value) > 0
		case equalFold(name, "Upgrade"):
			upgrade = upgrade || hasToken(value, "websocket")
		case equalFold(name, "Connection"):
			connection = connection || hasToken(value, "upgrade")
		case equalFold(name, "Sec-WebSocket-Key"):
			if r.key != nil {
				return r, badRequest("more than one Sec-WebSocket-Key\n")
			}
			r.key = value
		case equalFold(name, "Sec-WebSocket-Version"):
			versionSeen = true
			version13 = string(value) == "13"
		case equalFold(name, "Sec-WebSocket-Protocol"):
			offered = append(offered, value)
		}
	}
	switch {
	case !host:
		return r, badRequest("missing Host header\n")
	case !upgrade:
		return r, badRequest("missing Upgrade: websocket\n")
	case !connection:
		return r, badRequest("missing Connection: Upgrade\n")
	case !versionSeen:
		return r, badRequest("missing Sec-WebSocket-Version\n")
	case !version13:
		return r, &httpError{status: 426, text: "Upgrade Required",
			body: "only WebSocket version 13 is supported\n", header: "Sec-WebSocket-Version: 13\r\n"}
	case !validKey(r.key):
		return r, badRequest("Sec-WebSocket-Key must be base64 of 16 bytes\n")
	}
	r.subprotocol = selectSubprotocol(subprotocols, offered)
	return r, nil
}

// cutLine splits off the first line, without its CRLF or LF.
func cutLine(b []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(b, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

// hasToken reports whether the comma-separated list v contains tok (case-insensitive).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte(","))
		if equalFold(bytes.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

func validKey(k []byte) bool {
	var raw [18]byte
	n, err := base64.StdEncoding.Decode(raw[:], k)
	return len(k) == 24 && err == nil && n == 16
}

// selectSubprotocol returns the first of the server's subprotocols that the client
// offered (names compare exactly), or "".
func selectSubprotocol(server []string, offered [][]byte) string {
	for _, s := range server {
		for _, list := range offered {
			for len(list) > 0 {
				var t []byte
				t, list, _ = bytes.Cut(list, []byte(","))
				if string(bytes.TrimSpace(t)) == s {
					return s
				}
			}
		}
	}
	return ""
}

// appendSwitching appends the 101 response.
func appendSwitching(dst []byte, key []byte, subprotocol string) []byte {
	accept := codec.AcceptKey(key)
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, accept[:]...)
	dst = append(dst, "\r\n"...)
	if subprotocol != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, subprotocol...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// appendHTTPError appends a complete error response; the connection is closed after it.
func appendHTTPError(dst []byte, e *httpError) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.status), 10)
	dst = append(dst, ' ')
	dst = append(dst, e.text...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.body)), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, e.header...)
	dst = append(dst, "\r\n"...)
	return append(dst, e.body...)
}
