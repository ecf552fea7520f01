package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	offeredProtocols  = []string{"chat", "superchat"}
	offeredExtensions = []string{"permessage-deflate", "x-webkit-deflate-frame"}
)

// ok101 builds a 101 response for the RFC sample key with extra header lines.
func ok101(extra ...string) string {
	s := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + rfcAccept + "\r\n"
	for _, h := range extra {
		s += h + "\r\n"
	}
	return s + "\r\n"
}

// parseResult is everything observable after a parse, for comparing the
// results of different ways of feeding the same bytes.
type parseResult struct {
	n           int // bytes consumed; meaningful when done
	done        bool
	err         string
	status      int
	statusText  string
	header      string
	body        string
	subprotocol string
	extensions  string
}

func (r parseResult) String() string {
	return fmt.Sprintf("n=%d done=%v err=%q status=%d %q proto=%q ext=%q body=%q\n%s",
		r.n, r.done, r.err, r.status, r.statusText, r.subprotocol, r.extensions, r.body, r.header)
}

// parseChunks resets p, feeds it the chunks in order and, if finish, ends
// the input with Finish. It checks the invariants that hold for any input.
func parseChunks(t testing.TB, p *ResponseParser, chunks [][]byte, finish bool) parseResult {
	t.Helper()
	p.Reset([]byte(rfcKey), offeredProtocols, offeredExtensions)
	var r parseResult
	var err error
	total := 0
	for _, c := range chunks {
		n, done, e := p.Feed(c)
		if n < 0 || n > len(c) {
			t.Fatalf("Feed(%d bytes) = %d", len(c), n)
		}
		if !done && e == nil && n != len(c) {
			t.Fatalf("Feed consumed %d of %d bytes without finishing", n, len(c))
		}
		total += n
		r.done, err = done, e
		if done || e != nil {
			break
		}
	}
	if finish && !r.done && err == nil {
		p.Finish()
		r.done, err = p.Done(), p.Err()
		if !r.done && err == nil {
			t.Fatal("Finish left the parser neither done nor failed")
		}
	}
	if err != nil {
		var ue *UpgradeError
		if !errors.As(err, &ue) {
			t.Fatalf("error %T %v is not an *UpgradeError", err, err)
		}
		r.err = err.Error()
	}
	if r.done != p.Done() || err != p.Err() {
		t.Fatalf("Done/Err disagree with Feed: %v %v vs %v %v", p.Done(), p.Err(), r.done, err)
	}
	if r.done && err == nil && p.StatusCode() != 101 {
		t.Fatalf("status %d accepted as an upgrade", p.StatusCode())
	}
	if r.done {
		r.n = total
	}
	r.status, r.statusText = p.StatusCode(), p.Status()
	h := p.HTTPHeader()
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.header += fmt.Sprintf("%s=%q\n", k, h[k])
	}
	r.body = string(p.Body())
	if len(r.body) > max(p.maxBody(), 0) {
		t.Fatalf("body of %d bytes kept, limit %d", len(r.body), p.maxBody())
	}
	r.subprotocol = p.Subprotocol()
	r.extensions = string(p.Extensions())
	return r
}

// parseAllWays parses data whole, split in two at every byte (at a few
// hundred points for long inputs), and one byte at a time, fails the test if
// any result differs, and returns the result.
func parseAllWays(t testing.TB, p *ResponseParser, data []byte, finish bool) parseResult {
	t.Helper()
	whole := parseChunks(t, p, [][]byte{data}, finish)
	step := 1
	if len(data) > 2048 {
		step = len(data)/300 + 1
	}
	for i := 0; i <= len(data); i += step {
		if got := parseChunks(t, p, [][]byte{data[:i], data[i:]}, finish); got != whole {
			t.Fatalf("split at %d:\n%v\nwhole:\n%v", i, got, whole)
		}
	}
	bytewise := make([][]byte, len(data))
	for i := range data {
		bytewise[i] = data[i : i+1]
	}
	if got := parseChunks(t, p, bytewise, finish); got != whole {
		t.Fatalf("byte by byte:\n%v\nwhole:\n%v", got, whole)
	}
	return whole
}

func TestResponseParser(t *testing.T) {
	long := strings.Repeat("a", 5000)
	for _, tc := range []struct {
		name   string
		resp   string
		finish bool   // end the input with Finish
		err    string // substring; "" means a successful upgrade
		status int
		proto  string
		ext    string
		body   string
		n      int // bytes consumed, if not len(resp)
	}{
		{name: "minimal", resp: ok101(), status: 101},
		{name: "no reason phrase", resp: strings.Replace(ok101(), "101 Switching Protocols", "101", 1), status: 101},
		{name: "empty reason phrase", resp: strings.Replace(ok101(), "101 Switching Protocols", "101 ", 1), status: 101},
		{name: "HTTP/1.0", resp: strings.Replace(ok101(), "HTTP/1.1", "HTTP/1.0", 1), status: 101},
		{name: "bare LF", resp: strings.ReplaceAll(ok101("Sec-WebSocket-Protocol: chat"), "\r\n", "\n"), status: 101, proto: "chat"},
		{name: "case and spacing", status: 101, resp: "HTTP/1.1 101 Switching Protocols\r\nupgrade:WebSocket\r\nCONNECTION: keep-alive ,  UPGRADE\r\n" +
			"sec-websocket-accept:   " + rfcAccept + " \t\r\n\r\n"},
		{name: "connection in second header", status: 101, resp: "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n" +
			"Sec-WebSocket-Accept: " + rfcAccept + "\r\n\r\n"},
		{name: "subprotocol", resp: ok101("Sec-WebSocket-Protocol: superchat"), status: 101, proto: "superchat"},
		{name: "empty subprotocol header", resp: ok101("Sec-WebSocket-Protocol:"), status: 101},
		{name: "extension", resp: ok101("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10; server_no_context_takeover"),
			status: 101, ext: "permessage-deflate; client_max_window_bits=10; server_no_context_takeover"},
		{name: "extension name case", resp: ok101("Sec-WebSocket-Extensions: PerMessage-Deflate"), status: 101, ext: "PerMessage-Deflate"},
		{name: "two extensions, two headers", resp: ok101("Sec-WebSocket-Extensions: permessage-deflate", "Sec-WebSocket-Extensions: x-webkit-deflate-frame"),
			status: 101, ext: "permessage-deflate, x-webkit-deflate-frame"},
		{name: "quoted parameter with comma", resp: ok101(`Sec-WebSocket-Extensions: permessage-deflate; x="a, b;\"c"` + " , x-webkit-deflate-frame"),
			status: 101, ext: `permessage-deflate; x="a, b;\"c" , x-webkit-deflate-frame`},
		{name: "empty list elements", resp: ok101("Sec-WebSocket-Extensions: , permessage-deflate ,,"), status: 101, ext: ", permessage-deflate ,,"},
		{name: "frames after the header", resp: ok101() + "\x81\x02hi", status: 101, n: len(ok101())},
		{name: "100 continue first", resp: "HTTP/1.1 100 Continue\r\nX: y\r\n\r\n" + ok101("Sec-WebSocket-Protocol: chat"), status: 101, proto: "chat"},

		{name: "missing upgrade", resp: strings.Replace(ok101(), "Upgrade: websocket\r\n", "", 1), status: 101, err: "missing Upgrade: websocket header"},
		{name: "wrong upgrade", resp: strings.Replace(ok101(), "Upgrade: websocket", "Upgrade: h2c", 1), status: 101, err: `server sent Upgrade: "h2c", not websocket`},
		{name: "upgrade list", resp: strings.Replace(ok101(), "Upgrade: websocket", "Upgrade: websocket, h2c", 1), status: 101, err: "not websocket"},
		{name: "missing connection", resp: strings.Replace(ok101(), "Connection: Upgrade\r\n", "", 1), status: 101, err: "missing Connection: Upgrade header"},
		{name: "connection without upgrade", resp: strings.Replace(ok101(), "Connection: Upgrade", "Connection: keep-alive, upgrades", 1), status: 101, err: "missing Connection: Upgrade header"},
		{name: "missing accept", resp: strings.Replace(ok101(), "Sec-WebSocket-Accept: "+rfcAccept+"\r\n", "", 1), status: 101, err: "missing Sec-WebSocket-Accept header"},
		{name: "bad accept", resp: strings.Replace(ok101(), rfcAccept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOp=", 1), status: 101, err: "Sec-WebSocket-Accept does not match the key"},
		{name: "accept case", resp: strings.Replace(ok101(), rfcAccept, strings.ToLower(rfcAccept), 1), status: 101, err: "does not match"},
		{name: "two accepts", resp: ok101("Sec-WebSocket-Accept: " + rfcAccept), status: 101, err: "more than one Sec-WebSocket-Accept header"},
		{name: "unoffered subprotocol", resp: ok101("Sec-WebSocket-Protocol: x"), status: 101, err: `server chose subprotocol "x" which was not offered`},
		{name: "subprotocol case", resp: ok101("Sec-WebSocket-Protocol: Chat"), status: 101, err: `subprotocol "Chat" which was not offered`},
		{name: "two subprotocols", resp: ok101("Sec-WebSocket-Protocol: chat, superchat"), status: 101, err: "server chose more than one subprotocol"},
		{name: "two subprotocol headers", resp: ok101("Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"), status: 101, err: "more than one Sec-WebSocket-Protocol header"},
		{name: "unoffered extension", resp: ok101("Sec-WebSocket-Extensions: foo"), status: 101, err: `server enabled extension "foo" which was not offered`},
		{name: "unoffered second extension", resp: ok101("Sec-WebSocket-Extensions: permessage-deflate; a=1, foo; b"), status: 101, err: `extension "foo" which was not offered`},
		{name: "extension twice", resp: ok101("Sec-WebSocket-Extensions: permessage-deflate", "Sec-WebSocket-Extensions: permessage-deflate"), status: 101, err: `server enabled extension "permessage-deflate" twice`},
		{name: "extension no name", resp: ok101("Sec-WebSocket-Extensions: ; a=1"), status: 101, err: "malformed Sec-WebSocket-Extensions header"},
		{name: "extension empty param", resp: ok101("Sec-WebSocket-Extensions: permessage-deflate; =1"), status: 101, err: "malformed Sec-WebSocket-Extensions"},
		{name: "extension empty value", resp: ok101("Sec-WebSocket-Extensions: permessage-deflate; a="), status: 101, err: "malformed Sec-WebSocket-Extensions"},
		{name: "extension open quote", resp: ok101(`Sec-WebSocket-Extensions: permessage-deflate; a="1`), status: 101, err: "malformed Sec-WebSocket-Extensions"},
		{name: "extension junk", resp: ok101("Sec-WebSocket-Extensions: permessage-deflate x"), status: 101, err: "malformed Sec-WebSocket-Extensions"},

		{name: "garbage", resp: "SSH-2.0-OpenSSH_9.6\r\n", err: "malformed status line", n: -1},
		{name: "request instead", resp: "GET / HTTP/1.1\r\n", err: "malformed status line", n: -1},
		{name: "HTTP/2", resp: "HTTP/2 101\r\n\r\n", err: "malformed status line", n: -1},
		{name: "letters in code", resp: "HTTP/1.1 1o1 OK\r\n\r\n", err: "malformed status line", n: -1},
		{name: "code 600", resp: "HTTP/1.1 600 X\r\n\r\n", err: "malformed status line", n: -1},
		{name: "short code", resp: "HTTP/1.1 10\r\n\r\n", err: "malformed status line", n: -1},
		{name: "no space", resp: "HTTP/1.1 101x\r\n\r\n", err: "malformed status line", n: -1},
		{name: "empty line first", resp: "\r\n" + ok101(), err: "malformed status line", n: -1},
		{name: "CTL in reason", resp: "HTTP/1.1 101 Swi\x00tching\r\n\r\n", err: "malformed status line", n: -1},
		{name: "line folding", resp: ok101("X: a", " b"), status: 101, err: "obsolete line folding in header", n: -1},
		{name: "tab folding", resp: ok101("X: a", "\tb"), status: 101, err: "obsolete line folding", n: -1},
		{name: "no colon", resp: ok101("Nonsense"), status: 101, err: "malformed header line", n: -1},
		{name: "space before colon", resp: ok101("X : y"), status: 101, err: "malformed header line", n: -1},
		{name: "empty name", resp: ok101(": y"), status: 101, err: "malformed header line", n: -1},
		{name: "NUL in value", resp: ok101("X-Y: a\x00b"), status: 101, err: `invalid character in value of header "X-Y"`, n: -1},
		{name: "bare CR in value", resp: ok101("X-Y: a\rb"), status: 101, err: "invalid character in value", n: -1},
		{name: "CR CR LF", resp: ok101("X-Y: ab\r"), status: 101, err: "invalid character in value", n: -1},
		{name: "oversized headers", resp: ok101("X-Big: " + strings.Repeat("b", 16<<10)), status: 101, err: "response headers exceed 16384 bytes", n: -1},
		{name: "many headers", resp: ok101(strings.Repeat("X-A: 1234567890\r\n", 1000)), status: 101, err: "response headers exceed 16384 bytes", n: -1},
		{name: "endless interim", resp: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 1000), err: "response headers exceed", n: -1},
		{name: "closed early", resp: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", finish: true, status: 101, err: "connection closed before the response headers were complete", n: -1},
		{name: "closed before anything", resp: "", finish: true, err: "connection closed before the response headers", n: -1},

		{name: "401 with body", resp: "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 12\r\n\r\nno entry :-(",
			status: 401, err: `server did not switch protocols: status "401 Unauthorized"`, body: "no entry :-("},
		{name: "body beyond content-length", resp: "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nnoEXTRA", status: 403, err: `status "403 Forbidden"`, body: "no", n: -1},
		{name: "302", resp: "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/ws\r\nContent-Length: 0\r\n\r\n", status: 302, err: `status "302 Found"`},
		{name: "204", resp: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, err: `"204 No Content"`},
		{name: "chunked", resp: "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n",
			status: 500, err: `"500 Oops"`, body: "hello, world", n: -1},
		{name: "chunked uppercase hex and bare LF", resp: "HTTP/1.1 500 Oops\nTransfer-Encoding: gzip, Chunked\n\nA\nhelloworld\n0\n",
			status: 500, err: `"500 Oops"`, body: "helloworld"},
		{name: "chunked malformed", resp: "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n", status: 500, err: `"500 Oops"`, body: "abc", n: -1},
		{name: "chunked beats length", resp: "HTTP/1.1 500 Oops\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
			status: 500, err: `"500 Oops"`, body: "hi", n: -1},
		{name: "body capped", resp: "HTTP/1.1 400 Bad\r\nContent-Length: 5000\r\n\r\n" + long, status: 400, err: `"400 Bad"`, body: long[:4096], n: -1},
		{name: "chunked capped", resp: "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + long + "\r\n0\r\n\r\n",
			status: 400, err: `"400 Bad"`, body: long[:4096], n: -1},
		{name: "until close", resp: "HTTP/1.0 503 Service Unavailable\r\nServer: x\r\n\r\nbusy", finish: true,
			status: 503, err: `"503 Service Unavailable"`, body: "busy"},
		{name: "until close capped", resp: "HTTP/1.0 503 Busy\r\n\r\n" + long, status: 503, err: `"503 Busy"`, body: long[:4096], n: -1},
		{name: "bad content-length reads until close", resp: "HTTP/1.1 404 Not Found\r\nContent-Length: 1x\r\n\r\nnope", finish: true,
			status: 404, err: `"404 Not Found"`, body: "nope"},
		{name: "interim then 404", resp: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\n?",
			status: 404, err: `"404 Not Found"`, body: "?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p ResponseParser
			r := parseAllWays(t, &p, []byte(tc.resp), tc.finish)
			if tc.err == "" && r.err != "" || !strings.Contains(r.err, tc.err) {
				t.Fatalf("err %q, want %q", r.err, tc.err)
			}
			if tc.err != "" && !strings.HasPrefix(r.err, "websocket upgrade: ") {
				t.Errorf("error %q lacks the prefix", r.err)
			}
			if r.status != tc.status || r.subprotocol != tc.proto || r.extensions != tc.ext || r.body != tc.body {
				t.Fatalf("got %v", r)
			}
			switch {
			case tc.n == -1:
			case tc.n > 0 && r.n != tc.n, tc.n == 0 && r.n != len(tc.resp):
				t.Errorf("consumed %d bytes of %d", r.n, len(tc.resp))
			}
			if (tc.err == "" || strings.Contains(tc.err, "status")) && !r.done && tc.n != -1 {
				t.Error("not done")
			}
		})
	}
}

func TestResponseParserGarbageFailsAtOnce(t *testing.T) {
	var p ResponseParser
	p.Reset([]byte(rfcKey), nil, nil)
	// A TLS record: refused at its first byte, not after MaxHeaderBytes.
	if _, done, err := p.Feed([]byte{0x16}); err == nil || done {
		t.Fatalf("done=%v err=%v", done, err)
	}
	p.Reset([]byte(rfcKey), nil, nil)
	if _, _, err := p.Feed([]byte("HTTP")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Feed([]byte("/1.1 1")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Feed([]byte("x")); err == nil || !strings.Contains(err.Error(), "malformed status line") {
		t.Fatalf("err %v", err)
	}
	// A header line of binary junk fails at its first bad byte too.
	p.Reset([]byte(rfcKey), nil, nil)
	if _, _, err := p.Feed([]byte("HTTP/1.1 101 OK\r\n\x00")); err == nil {
		t.Fatal("no error")
	}
}

func TestResponseParserStickyAndReset(t *testing.T) {
	var p ResponseParser
	p.Reset([]byte(rfcKey), nil, nil)
	if _, _, err := p.Feed([]byte("nope")); err == nil {
		t.Fatal("no error")
	}
	if n, _, err := p.Feed([]byte(ok101())); n != 0 || err == nil {
		t.Fatalf("after an error: n=%d err=%v", n, err)
	}
	p.Reset([]byte(rfcKey), []string{"chat"}, nil)
	n, done, err := p.Feed([]byte(ok101("Sec-WebSocket-Protocol: chat", "X-A: 1")))
	if err != nil || !done || p.Subprotocol() != "chat" || string(p.Header("x-a")) != "1" {
		t.Fatalf("n=%d done=%v err=%v proto=%q", n, done, err, p.Subprotocol())
	}
	if n, done, err := p.Feed([]byte("more")); n != 0 || !done || err != nil {
		t.Fatalf("after done: %d %v %v", n, done, err)
	}
	// A new handshake with a new key and no offer: nothing of the old one
	// remains.
	p.Reset([]byte("AAAAAAAAAAAAAAAAAAAAAA=="), nil, nil)
	if p.StatusCode() != 0 || p.Header("X-A") != nil || p.Subprotocol() != "" || p.Extensions() != nil || len(p.Body()) != 0 {
		t.Fatal("state survived Reset")
	}
	if _, _, err := p.Feed([]byte(ok101())); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("old key still accepted: %v", err)
	}
}

// A parser that was never Reset must not panic; it just knows no key.
func TestResponseParserZeroValue(t *testing.T) {
	var p ResponseParser
	_, done, err := p.Feed([]byte(ok101("Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Extensions: x")))
	if !done || err == nil || p.Subprotocol() != "" || p.Extensions() != nil {
		t.Fatalf("done %v err %v", done, err)
	}
	var q ResponseParser
	q.Feed([]byte("HTTP/1.1 101 OK\r\nX: y"))
	q.Finish()
	if q.Err() == nil || q.Done() {
		t.Fatal(q.Err())
	}
}

func TestResponseParserHeaders(t *testing.T) {
	var p ResponseParser
	p.Reset([]byte(rfcKey), nil, nil)
	resp := "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nwww-authenticate: Bearer\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n"
	if _, done, _ := p.Feed([]byte(resp)); !done {
		t.Fatal("not done")
	}
	if p.Status() != "401 Unauthorized" || p.StatusCode() != 401 {
		t.Fatalf("status %q %d", p.Status(), p.StatusCode())
	}
	if got := string(p.Header("WWW-AUTHENTICATE")); got != "Basic" {
		t.Errorf("Header = %q", got)
	}
	if got := p.Header("X-Empty"); got == nil || len(got) != 0 {
		t.Errorf("empty header = %#v, want present and empty", got)
	}
	if p.Header("X-Missing") != nil {
		t.Error("missing header found")
	}
	h := p.HTTPHeader()
	if got := h.Values("Www-Authenticate"); len(got) != 2 || got[0] != "Basic" || got[1] != "Bearer" {
		t.Errorf("HTTPHeader: %v", h)
	}
	if got := string(p.AppendHeaderLines(nil)); got != "WWW-Authenticate: Basic\nwww-authenticate: Bearer\nX-Empty: \nContent-Length: 0\n" {
		t.Errorf("AppendHeaderLines = %q", got)
	}
	if got := string(p.AppendHeaderLinesExcept(nil, "www-AUTHENTICATE")); got != "X-Empty: \nContent-Length: 0\n" {
		t.Errorf("AppendHeaderLinesExcept = %q", got)
	}
	// Header's result may not be appended to in place.
	v := p.Header("WWW-Authenticate")
	_ = append(v, 'X')
	if got := string(p.Header("www-authenticate")); got != "Basic" {
		t.Errorf("append through Header clobbered the parser: %q", got)
	}
}

func TestResponseParserLimits(t *testing.T) {
	p := ResponseParser{MaxHeaderBytes: len(ok101())}
	r := parseAllWays(t, &p, []byte(ok101()), false)
	if r.err != "" {
		t.Fatalf("exactly at the limit: %s", r.err)
	}
	p = ResponseParser{MaxHeaderBytes: len(ok101()) - 1}
	r = parseAllWays(t, &p, []byte(ok101()), false)
	if want := fmt.Sprintf("response headers exceed %d bytes", len(ok101())-1); !strings.Contains(r.err, want) {
		t.Fatalf("one byte over: %q", r.err)
	}
	p = ResponseParser{MaxBodyBytes: 3}
	r = parseAllWays(t, &p, []byte("HTTP/1.1 400 Bad\r\nContent-Length: 10\r\n\r\n0123456789"), false)
	if r.body != "012" || !r.done {
		t.Fatalf("capped body: %v", r)
	}
	p = ResponseParser{MaxBodyBytes: -1}
	r = parseAllWays(t, &p, []byte("HTTP/1.1 400 Bad\r\n\r\nbody"), false)
	if r.body != "" || !r.done || r.n != len("HTTP/1.1 400 Bad\r\n\r\n") {
		t.Fatalf("no body wanted: %v", r)
	}
}

func TestResponseParserFinish(t *testing.T) {
	var p ResponseParser
	p.Reset([]byte(rfcKey), nil, nil)
	resp := []byte("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nsorry")
	n, done, err := p.Feed(resp)
	if done || err != nil || n != len(resp) {
		t.Fatalf("before Finish: %d %v %v", n, done, err)
	}
	p.Finish()
	if !p.Done() || p.Err() == nil || string(p.Body()) != "sorry" {
		t.Fatalf("after Finish: %v %v %q", p.Done(), p.Err(), p.Body())
	}
	// Finish after done changes nothing.
	p.Reset([]byte(rfcKey), nil, nil)
	p.Feed([]byte(ok101()))
	p.Finish()
	if !p.Done() || p.Err() != nil {
		t.Fatalf("Finish spoiled a complete upgrade: %v", p.Err())
	}
}

// typical101 is what a common server answers to a client offering a
// subprotocol and permessage-deflate.
var typical101 = []byte("HTTP/1.1 101 Switching Protocols\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: " + rfcAccept + "\r\n" +
	"Sec-WebSocket-Protocol: chat\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n" +
	"Date: Sat, 28 Nov 2026 03:30:00 GMT\r\n" +
	"Server: nginx\r\n" +
	"\r\n")

func TestResponseParserAllocs(t *testing.T) {
	var p ResponseParser
	key := []byte(rfcKey)
	run := func() {
		p.Reset(key, offeredProtocols, offeredExtensions)
		if _, done, err := p.Feed(typical101); !done || err != nil {
			t.Fatal(done, err)
		}
		if p.Subprotocol() != "chat" || len(p.Extensions()) == 0 || p.Header("server") == nil {
			t.Fatal("wrong result")
		}
	}
	run()
	if a := testing.AllocsPerRun(200, run); a != 0 {
		t.Errorf("Reset+Feed of a 101: %v allocs", a)
	}
	split := func() {
		p.Reset(key, offeredProtocols, offeredExtensions)
		for i := 0; i < len(typical101); i += 7 {
			p.Feed(typical101[i:min(i+7, len(typical101))])
		}
		if !p.Done() || p.Err() != nil {
			t.Fatal(p.Err())
		}
	}
	split()
	if a := testing.AllocsPerRun(200, split); a != 0 {
		t.Errorf("Reset+Feed in pieces: %v allocs", a)
	}
}

func BenchmarkResponseParser(b *testing.B) {
	var p ResponseParser
	key := []byte(rfcKey)
	b.ReportAllocs()
	b.SetBytes(int64(len(typical101)))
	for b.Loop() {
		p.Reset(key, offeredProtocols, offeredExtensions)
		if _, done, err := p.Feed(typical101); !done || err != nil {
			b.Fatal(done, err)
		}
	}
}

func BenchmarkResponseParserBytewise(b *testing.B) {
	var p ResponseParser
	key := []byte(rfcKey)
	b.ReportAllocs()
	b.SetBytes(int64(len(typical101)))
	for b.Loop() {
		p.Reset(key, offeredProtocols, offeredExtensions)
		for i := range typical101 {
			p.Feed(typical101[i : i+1])
		}
		if !p.Done() || p.Err() != nil {
			b.Fatal(p.Err())
		}
	}
}

// --- against net/http -------------------------------------------------------

// roundTrip sends our upgrade request for path to addr and parses the answer
// as the engine would: feed what arrives, Finish on EOF. raw is every byte
// read, for comparing with net/http's reading of the same bytes.
func roundTrip(t *testing.T, addr, path string, protocols []string) (p *ResponseParser, raw []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var key [24]byte
	GenerateKey(&key)
	req, err := AppendRequest(nil, mustURL(t, "ws://"+addr+path), key[:], &RequestOptions{
		Protocols:  protocols,
		Extensions: "permessage-deflate; client_max_window_bits",
		Header:     http.Header{"Origin": {"http://" + addr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	p = &ResponseParser{}
	p.Reset(key[:], protocols, []string{"permessage-deflate"})
	buf := make([]byte, 64) // small reads: the response arrives in pieces
	for !p.Done() && p.Err() == nil {
		m, rerr := conn.Read(buf)
		raw = append(raw, buf[:m]...)
		if _, _, err := p.Feed(buf[:m]); err != nil {
			break
		}
		if rerr == io.EOF {
			p.Finish()
		} else if rerr != nil {
			t.Fatal(rerr)
		}
	}
	return p, raw
}

func TestResponseParserAgainstNetHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		// net/http has parsed our request; check what it saw.
		if r.Method != "GET" || r.Proto != "HTTP/1.1" || r.Header.Get("Sec-WebSocket-Version") != "13" ||
			!strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Origin") != "http://"+r.Host ||
			r.Header.Get("Sec-WebSocket-Protocol") != "chat, superchat" || r.URL.RawQuery != "a=1" {
			http.Error(w, fmt.Sprintf("bad request: %v %v", r.RequestURI, r.Header), http.StatusBadRequest)
			return
		}
		accept := AcceptKey([]byte(r.Header.Get("Sec-WebSocket-Key")))
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: superchat\r\n"+
			"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12\r\n\r\n\x81\x05hello", accept[:])
		brw.Flush()
		time.Sleep(50 * time.Millisecond) // let the client read before the close
	})
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wsfleet"`)
		http.Error(w, "token required", http.StatusUnauthorized)
	})
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusFound)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, part := range []string{"try ", "again ", "later"} {
			io.WriteString(w, part)
			w.(http.Flusher).Flush() // forces chunked encoding
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10000")
		w.WriteHeader(http.StatusForbidden)
		w.Write(bytes.Repeat([]byte("z"), 10000))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	t.Run("upgrade", func(t *testing.T) {
		p, raw := roundTrip(t, addr, "/ws?a=1", []string{"chat", "superchat"})
		if p.Err() != nil || !p.Done() {
			t.Fatalf("%v\n%s", p.Err(), raw)
		}
		if p.Subprotocol() != "superchat" || string(p.Extensions()) != "permessage-deflate; client_max_window_bits=12" {
			t.Fatalf("proto %q ext %q", p.Subprotocol(), p.Extensions())
		}
	})
	for _, tc := range []struct {
		path   string
		status int
		body   string // prefix
		header string
		value  string
	}{
		{"/private", 401, "token required\n", "WWW-Authenticate", `Bearer realm="wsfleet"`},
		{"/old", 302, "", "Location", "/new"},
		{"/stream", 503, "try again later", "", ""},
		{"/big", 403, strings.Repeat("z", DefaultMaxBodyBytes), "Content-Length", "10000"},
	} {
		t.Run(tc.path[1:], func(t *testing.T) {
			p, raw := roundTrip(t, addr, tc.path, nil)
			if !p.Done() || p.StatusCode() != tc.status {
				t.Fatalf("done %v status %d err %v\n%s", p.Done(), p.StatusCode(), p.Err(), raw)
			}
			want := fmt.Sprintf("websocket upgrade: server did not switch protocols: status %q", p.Status())
			if p.Err() == nil || p.Err().Error() != want {
				t.Errorf("err %v", p.Err())
			}
			if !strings.HasPrefix(string(p.Body()), tc.body) || tc.body == "" && len(p.Body()) > 0 && tc.status != 302 {
				t.Errorf("body %q", p.Body())
			}
			if tc.header != "" && string(p.Header(tc.header)) != tc.value {
				t.Errorf("%s: %q", tc.header, p.Header(tc.header))
			}
			// net/http reads the same bytes the same way.
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != p.StatusCode() || resp.Status != p.Status() {
				t.Errorf("net/http: %q, we: %q", resp.Status, p.Status())
			}
			if n := min(len(body), len(p.Body())); string(body[:n]) != string(p.Body()) {
				t.Errorf("net/http body %q, ours %q", body, p.Body())
			}
			ours := p.HTTPHeader()
			for k, v := range resp.Header {
				if fmt.Sprint(ours[k]) != fmt.Sprint(v) {
					t.Errorf("header %s: net/http %q, ours %q", k, v, ours[k])
				}
			}
		})
	}
}

// TestResponseParserCloseDelimited uses a raw server: an HTTP/1.0-style
// answer whose body ends when the connection does.
func TestResponseParserCloseDelimited(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintf(conn, "HTTP/1.0 429 Too Many Requests\r\nRetry-After: 3\r\n\r\nslow down, %s", req.URL.Path)
	}()
	p, raw := roundTrip(t, ln.Addr().String(), "/x", nil)
	if !p.Done() || p.StatusCode() != 429 || string(p.Body()) != "slow down, /x" || string(p.Header("Retry-After")) != "3" {
		t.Fatalf("done %v err %v body %q\n%s", p.Done(), p.Err(), p.Body(), raw)
	}
}

// --- fuzzing ----------------------------------------------------------------

// FuzzResponseParser feeds arbitrary bytes whole, cut at the points cuts
// encodes, and byte by byte (for short inputs): it must never panic and
// must reach the same result every way. limits picks small header and body
// limits, so that the limit paths get exercised too (0: the defaults).
func FuzzResponseParser(f *testing.F) {
	for _, s := range []string{
		ok101(), string(typical101), ok101("Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Extensions: permessage-deflate; a=\"b,c\", x-webkit-deflate-frame"),
		"HTTP/1.1 100 Continue\r\n\r\n" + ok101(),
		"HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.0 503 Busy\n\nbody until close",
		"HTTP/1.1 101 OK\r\nX: a\r\n b\r\n\r\n",
		"SSH-2.0-x\r\n",
	} {
		f.Add([]byte(s), []byte{3, 17, 1, 200}, uint16(0))
		f.Add([]byte(s), []byte{}, uint16(0x0c40))
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte, limits uint16) {
		if len(cuts) > 256 {
			cuts = cuts[:256] // more cut points add time, not coverage
		}
		var p ResponseParser
		if limits != 0 {
			p.MaxHeaderBytes = int(limits&0x3ff) + 1 // 1..1024
			p.MaxBodyBytes = int(limits>>10) - 8     // -8..55
		}
		for _, finish := range []bool{false, true} {
			whole := parseChunks(t, &p, [][]byte{data}, finish)
			if whole.n > len(data) {
				t.Fatalf("consumed %d of %d", whole.n, len(data))
			}
			var chunks [][]byte
			rest := data
			for _, c := range cuts {
				k := min(int(c)%64, len(rest))
				chunks, rest = append(chunks, rest[:k]), rest[k:]
			}
			chunks = append(chunks, rest)
			if got := parseChunks(t, &p, chunks, finish); got != whole {
				t.Fatalf("cut %v:\n%v\nwhole:\n%v", cuts, got, whole)
			}
			if len(data) <= 2048 {
				bytewise := make([][]byte, len(data))
				for i := range data {
					bytewise[i] = data[i : i+1]
				}
				if got := parseChunks(t, &p, bytewise, finish); got != whole {
					t.Fatalf("byte by byte:\n%v\nwhole:\n%v", got, whole)
				}
			}
		}
	})
}
