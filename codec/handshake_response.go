package codec

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"
)

// Defaults for the two ResponseParser limits.
const (
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxBodyBytes   = 4 << 10
)

// ResponseParser reads the server's answer to the upgrade request, as bytes
// arrive, split anywhere. It is meant to live in the connection and be Reset
// for each handshake: the header bytes are copied into one internal buffer
// and headers are kept as offsets into it, so a warm parser does not
// allocate.
//
// Feed returns done=true once the whole response has been read. For a 101
// that is the end of the header block, and the bytes after it are already
// WebSocket frames. Any other final status is a failed upgrade: the parser
// reads its bounded body first (so status, headers and body can be reported)
// and then returns done=true together with an *UpgradeError. Interim 1xx
// responses other than 101 are skipped, as HTTP requires of every client.
//
// err != nil means the upgrade failed; done says whether the response was
// complete (a 101 with a bad Sec-WebSocket-Accept is complete; garbage is
// not). After done or an error, Feed consumes nothing and repeats them.
type ResponseParser struct {
	// MaxHeaderBytes bounds the status line plus headers, line endings
	// included (0 means DefaultMaxHeaderBytes).
	MaxHeaderBytes int
	// MaxBodyBytes bounds the body kept from a non-101 response: reading
	// stops once that much has arrived (0 means DefaultMaxBodyBytes, < 0
	// keeps no body).
	MaxBodyBytes int

	state respState
	done  bool
	err   error

	buf         []byte    // status line and header lines, line endings removed
	fields      []hsField // headers, as offsets into buf
	lineStart   int       // where in buf the line being read starts
	checked     int       // bytes of that line already checked
	colon       int       // 1 + index of its first colon, 0 if none yet
	headerBytes int       // header bytes consumed, interim responses included
	status      int
	statusEnd   int // the status line is buf[:statusEnd]

	accept    [28]byte
	protocols []string
	extNames  []string
	extUsed   []bool
	protocol  int    // 1 + index in protocols of the chosen one, 0 for none
	ext       []byte // extension values when they must be joined
	extStart  int    // else the single value is buf[extStart:extEnd]
	extEnd    int

	body      []byte
	bodyMode  bodyMode
	remaining int64 // Content-Length or current chunk bytes still to come
	chunk     chunkState
}

type respState uint8

const (
	stStatus respState = iota // reading the status line
	stHeader                  // reading header lines
	stBody                    // reading the body of a non-101 response
)

type bodyMode uint8

const (
	bodyUntilClose bodyMode = iota
	bodyLength
	bodyChunked
)

// chunkState is the chunked-coding decoder (RFC 9112 section 7.1). Only
// what is needed to find the data and the end: extensions and trailers are
// skipped, and anything malformed just ends the body, which only ever
// serves as a diagnostic.
type chunkState struct {
	phase    uint8 // chunkSize, chunkExt, chunkData, chunkDataEnd
	digits   int
	sawCR    bool
	lineSize int
}

const (
	chunkSize = iota
	chunkExt
	chunkData
	chunkDataEnd
)

// hsField locates one header: name buf[ns:ne], value buf[vs:ve] (trimmed).
type hsField struct{ ns, ne, vs, ve int }

// Reset prepares p for a new handshake: key is the Sec-WebSocket-Key that was
// sent, protocols the subprotocols offered, extensionNames the names of the
// extensions offered (without parameters). The slices are copied.
func (p *ResponseParser) Reset(key []byte, protocols []string, extensionNames []string) {
	p.state, p.done, p.err = stStatus, false, nil
	p.buf, p.fields, p.body, p.ext = p.buf[:0], p.fields[:0], p.body[:0], p.ext[:0]
	p.lineStart, p.headerBytes, p.status, p.statusEnd = 0, 0, 0, 0
	p.newLine()
	p.accept = AcceptKey(key)
	p.protocols = append(p.protocols[:0], protocols...)
	p.extNames = append(p.extNames[:0], extensionNames...)
	p.protocol, p.extStart, p.extEnd = 0, 0, 0
	p.bodyMode, p.remaining, p.chunk = bodyUntilClose, 0, chunkState{}
}

// Feed consumes response bytes from b and reports how many it used. See
// ResponseParser for done and err.
func (p *ResponseParser) Feed(b []byte) (n int, done bool, err error) {
	for n < len(b) && !p.done && p.err == nil {
		if p.state == stBody {
			n += p.readBody(b[n:])
		} else {
			n += p.readLine(b[n:])
		}
	}
	return n, p.done, p.err
}

// Finish tells p that the response ended (the peer closed, or the caller gave
// up waiting). A body being read ends with what arrived, and the response is
// then done; without a complete header block, it is an error.
func (p *ResponseParser) Finish() {
	if p.done || p.err != nil {
		return
	}
	if p.state == stBody {
		p.finishBody()
		return
	}
	p.fail("connection closed before the response headers were complete")
}

// Done reports whether the whole response has been read.
func (p *ResponseParser) Done() bool { return p.done }

// Err is the error Feed returned last, or the one Finish settled on.
func (p *ResponseParser) Err() error { return p.err }

// StatusCode is the status of the (final) response, 0 before its status line.
func (p *ResponseParser) StatusCode() int { return p.status }

// Status is the status code and reason phrase, e.g. "401 Unauthorized".
func (p *ResponseParser) Status() string {
	if p.status == 0 {
		return ""
	}
	return string(bytes.TrimRight(p.buf[len("HTTP/1.1 "):p.statusEnd], " \t"))
}

// Header returns the first value of the named header (case-insensitive),
// trimmed, or nil. It points into p and is valid until the next Reset.
func (p *ResponseParser) Header(name string) []byte {
	for _, f := range p.fields {
		if hsEqualFold(p.buf[f.ns:f.ne], name) {
			return p.buf[f.vs:f.ve:f.ve]
		}
	}
	return nil
}

// HTTPHeader returns a copy of the headers for users (it allocates).
func (p *ResponseParser) HTTPHeader() http.Header {
	h := make(http.Header, len(p.fields))
	for _, f := range p.fields {
		k := textproto.CanonicalMIMEHeaderKey(string(p.buf[f.ns:f.ne]))
		h[k] = append(h[k], string(p.buf[f.vs:f.ve]))
	}
	return h
}

// AppendHeaderLines appends the response's headers as "Name: value\n" lines, in the order
// they came: a compact form a caller can keep instead of an http.Header (one small string
// rather than a map per connection).
func (p *ResponseParser) AppendHeaderLines(dst []byte) []byte {
	return p.AppendHeaderLinesExcept(dst, "")
}

// AppendHeaderLinesExcept is AppendHeaderLines without the fields named skip (compared
// case-insensitively; "" skips nothing).
func (p *ResponseParser) AppendHeaderLinesExcept(dst []byte, skip string) []byte {
	for _, f := range p.fields {
		if skip != "" && hsEqualFold(p.buf[f.ns:f.ne], skip) {
			continue
		}
		dst = append(dst, p.buf[f.ns:f.ne]...)
		dst = append(dst, ": "...)
		dst = append(dst, p.buf[f.vs:f.ve]...)
		dst = append(dst, '\n')
	}
	return dst
}

// Body is the body kept from a non-101 response (at most MaxBodyBytes,
// chunked coding removed). Valid until the next Reset.
func (p *ResponseParser) Body() []byte { return p.body[:len(p.body):len(p.body)] }

// Subprotocol is the subprotocol the server chose, "" for none.
func (p *ResponseParser) Subprotocol() string {
	if p.protocol == 0 {
		return ""
	}
	return p.protocols[p.protocol-1]
}

// Extensions is the raw Sec-WebSocket-Extensions of a successful upgrade, all
// values joined with ", ", for the extension code to read the parameters.
// Valid until the next Reset.
func (p *ResponseParser) Extensions() []byte {
	if p.extStart == p.extEnd {
		return nil
	}
	if len(p.ext) > 0 {
		return p.ext
	}
	return p.buf[p.extStart:p.extEnd:p.extEnd]
}

func (p *ResponseParser) fail(reason string) { p.err = upgradeErr(reason) }

func (p *ResponseParser) maxHeader() int {
	if p.MaxHeaderBytes > 0 {
		return p.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

func (p *ResponseParser) maxBody() int {
	switch {
	case p.MaxBodyBytes > 0:
		return p.MaxBodyBytes
	case p.MaxBodyBytes < 0:
		return 0
	}
	return DefaultMaxBodyBytes
}

// readLine copies bytes of the current line into buf, up to and including
// its LF, and handles the line once it is complete.
//
// Whatever the split, the verdict is the same: the checks that can fail on a
// prefix of a line (checkLine) run on every piece as it arrives, so garbage
// is refused at its first bad byte rather than after MaxHeaderBytes; they
// cover a complete line before anything else looks at it; and the size limit
// is checked only after them, on the same byte count.
func (p *ResponseParser) readLine(b []byte) int {
	budget := p.maxHeader() - p.headerBytes
	seg, eol := b, bytes.IndexByte(b, '\n')
	if eol >= 0 {
		seg = b[:eol]
	}
	need := len(seg)
	if eol >= 0 {
		need++
	}
	over := need > budget
	if over {
		seg = seg[:min(len(seg), budget)]
	}
	p.buf = append(p.buf, seg...)
	p.headerBytes += len(seg)
	line := p.buf[p.lineStart:]
	if reason := p.checkLine(line); reason != "" {
		p.fail(reason)
		return len(seg)
	}
	if over {
		p.fail("response headers exceed " + strconv.Itoa(p.maxHeader()) + " bytes")
		return len(seg)
	}
	if eol < 0 {
		return len(b)
	}
	p.headerBytes++ // the LF
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1] // CRLF or a lone LF, as RFC 9112 allows
		p.buf = p.buf[:len(p.buf)-1]
	}
	if p.state == stStatus {
		p.statusLine(line)
	} else {
		p.headerLine(line)
	}
	p.lineStart = len(p.buf)
	p.newLine()
	return eol + 1
}

func (p *ResponseParser) newLine() { p.checked, p.colon = 0, 0 }

// checkLine checks the bytes of the current line that arrived since the last
// call (so a line trickling in byte by byte costs linear time, not
// quadratic). A CR as the last byte may still be the line ending: it is
// judged when the next byte arrives.
func (p *ResponseParser) checkLine(line []byte) string {
	end := len(line)
	if end > 0 && line[end-1] == '\r' {
		end--
	}
	if p.state == stStatus {
		// "HTTP/1.d ddd" then an optional " reason".
		const pattern = "HTTP/1.# X##" // #: a digit, X: 1 to 5
		for i := p.checked; i < end; i++ {
			c := line[i]
			var ok bool
			switch {
			case i > len(pattern):
				ok = c == '\t' || c >= ' ' && c != 0x7f
			case i == len(pattern):
				ok = c == ' '
			case pattern[i] == '#':
				ok = c >= '0' && c <= '9'
			case pattern[i] == 'X':
				ok = c >= '1' && c <= '5'
			default:
				ok = c == pattern[i]
			}
			if !ok {
				return "malformed status line"
			}
		}
	} else {
		// "name: value": no leading whitespace (obsolete line folding), a
		// token for the name, no control characters in the value.
		for i := p.checked; i < end; i++ {
			c := line[i]
			if p.colon > 0 {
				if c < ' ' && c != '\t' || c == 0x7f {
					return "invalid character in value of header " + strconv.Quote(string(line[:p.colon-1]))
				}
				continue
			}
			switch {
			case c == ':' && i > 0:
				p.colon = i + 1
			case i == 0 && (c == ' ' || c == '\t'):
				return "obsolete line folding in header"
			case !hsTokenChars[c]:
				return "malformed header line"
			}
		}
	}
	p.checked = max(p.checked, end)
	return ""
}

func (p *ResponseParser) statusLine(line []byte) {
	if len(line) < len("HTTP/1.1 101") {
		p.fail("malformed status line")
		return
	}
	p.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	p.statusEnd = len(line)
	p.state = stHeader
}

func (p *ResponseParser) headerLine(line []byte) {
	if len(line) == 0 {
		p.endHeaders()
		return
	}
	colon := p.colon - 1
	if colon < 0 {
		p.fail("malformed header line")
		return
	}
	vs, ve := colon+1, len(line)
	for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
		vs++
	}
	for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
		ve--
	}
	base := p.lineStart
	p.fields = append(p.fields, hsField{ns: base, ne: base + colon, vs: base + vs, ve: base + ve})
}

// endHeaders decides what the complete header block means.
func (p *ResponseParser) endHeaders() {
	switch {
	case p.status == 101:
		p.done = true
		if reason := p.checkUpgrade(); reason != "" {
			p.fail(reason)
			// A refused upgrade negotiated nothing.
			p.protocol, p.extStart, p.extEnd, p.ext = 0, 0, 0, p.ext[:0]
		}
		return
	case p.status < 200:
		// Interim response (100 Continue, 103 Early Hints): the real one follows.
		p.buf, p.fields, p.lineStart, p.status, p.statusEnd = p.buf[:0], p.fields[:0], 0, 0, 0
		p.newLine()
		p.state = stStatus
		return
	}
	p.state = stBody
	switch {
	case p.status == 204 || p.status == 304:
		p.finishBody()
		return
	case p.chunked():
		p.bodyMode = bodyChunked
	default:
		if n, ok := parseContentLength(p.Header("Content-Length")); ok {
			p.bodyMode, p.remaining = bodyLength, n
		}
	}
	if p.maxBody() == 0 || p.bodyMode == bodyLength && p.remaining == 0 {
		p.finishBody()
	}
}

// finishBody ends a non-101 response: complete, and a failed upgrade.
func (p *ResponseParser) finishBody() {
	p.done = true
	p.fail("server did not switch protocols: status " + strconv.Quote(p.Status()))
}

// chunked reports whether the final transfer coding is chunked.
func (p *ResponseParser) chunked() bool {
	var last []byte
	for _, f := range p.fields {
		if hsEqualFold(p.buf[f.ns:f.ne], "Transfer-Encoding") {
			v := p.buf[f.vs:f.ve]
			if i := bytes.LastIndexByte(v, ','); i >= 0 {
				v = v[i+1:]
			}
			last = bytes.Trim(v, " \t")
		}
	}
	return hsEqualFold(last, "chunked")
}

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// readBody keeps up to MaxBodyBytes of body and ends the response when the
// body is complete or the limit is reached.
func (p *ResponseParser) readBody(b []byte) int {
	room := p.maxBody() - len(p.body)
	switch p.bodyMode {
	case bodyLength:
		take := int(min(int64(len(b)), p.remaining, int64(room)))
		p.body = append(p.body, b[:take]...)
		p.remaining -= int64(take)
		if p.remaining == 0 || len(p.body) == p.maxBody() {
			p.finishBody()
		}
		return take
	case bodyChunked:
		return p.readChunked(b)
	}
	take := min(len(b), room)
	p.body = append(p.body, b[:take]...)
	if len(p.body) == p.maxBody() {
		p.finishBody()
	}
	return take
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

func (p *ResponseParser) readChunked(b []byte) int {
	c := &p.chunk
	for i := 0; i < len(b); i++ {
		ch := b[i]
		switch c.phase {
		case chunkSize, chunkExt:
			c.lineSize++
			if c.lineSize > maxChunkLine {
				p.finishBody()
				return i + 1
			}
			switch {
			case ch == '\n':
				if c.digits == 0 {
					p.finishBody() // malformed: keep what we have
					return i + 1
				}
				if p.remaining == 0 { // last chunk; trailers do not matter
					p.finishBody()
					return i + 1
				}
				c.phase, c.lineSize = chunkData, 0
			case c.phase == chunkSize && hexDigit(ch) >= 0:
				if c.digits++; c.digits > 15 {
					p.finishBody()
					return i + 1
				}
				p.remaining = p.remaining<<4 | int64(hexDigit(ch))
			default:
				if c.digits == 0 {
					p.finishBody()
					return i + 1
				}
				c.phase = chunkExt // ";ext", whitespace, the CR: skipped
			}
		case chunkData:
			room := p.maxBody() - len(p.body)
			take := int(min(int64(len(b)-i), p.remaining, int64(room)))
			p.body = append(p.body, b[i:i+take]...)
			p.remaining -= int64(take)
			if len(p.body) == p.maxBody() {
				p.finishBody()
				return i + take
			}
			if p.remaining == 0 {
				c.phase = chunkDataEnd
			}
			i += take - 1
		case chunkDataEnd:
			switch {
			case ch == '\r' && !c.sawCR:
				c.sawCR = true
			case ch == '\n':
				*c = chunkState{}
			default:
				p.finishBody()
				return i + 1
			}
		}
	}
	return len(b)
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// checkUpgrade applies RFC 6455 section 4.1's checks to a 101 response and
// returns why it fails, "" if it does not.
func (p *ResponseParser) checkUpgrade() string {
	up := p.Header("Upgrade")
	if up == nil {
		return "missing Upgrade: websocket header"
	}
	if !hsEqualFold(up, "websocket") {
		return "server sent Upgrade: " + strconv.Quote(string(up)) + ", not websocket"
	}
	if !p.hasToken("Connection", "upgrade") {
		return "missing Connection: Upgrade header"
	}
	p.extUsed = p.extUsed[:0]
	for range p.extNames {
		p.extUsed = append(p.extUsed, false)
	}
	var accept []byte
	var protocols, extensions int
	for _, f := range p.fields {
		name, value := p.buf[f.ns:f.ne], p.buf[f.vs:f.ve]
		switch {
		case hsEqualFold(name, "Sec-WebSocket-Accept"):
			if accept != nil {
				return "more than one Sec-WebSocket-Accept header"
			}
			accept = value
		case hsEqualFold(name, "Sec-WebSocket-Protocol"):
			if protocols++; protocols > 1 {
				return "more than one Sec-WebSocket-Protocol header"
			}
			if reason := p.checkProtocol(value); reason != "" {
				return reason
			}
		case hsEqualFold(name, "Sec-WebSocket-Extensions"):
			if reason := p.checkExtensions(value); reason != "" {
				return reason
			}
			if len(value) == 0 {
				continue
			}
			if extensions++; extensions == 1 {
				p.extStart, p.extEnd = f.vs, f.ve
			} else {
				if extensions == 2 {
					p.ext = append(p.ext[:0], p.buf[p.extStart:p.extEnd]...)
				}
				p.ext = append(p.ext, ", "...)
				p.ext = append(p.ext, value...)
			}
		}
	}
	if accept == nil {
		return "missing Sec-WebSocket-Accept header"
	}
	if string(accept) != string(p.accept[:]) {
		return "Sec-WebSocket-Accept does not match the key"
	}
	return ""
}

// hasToken reports whether any header called name lists token.
func (p *ResponseParser) hasToken(name, token string) bool {
	for _, f := range p.fields {
		if !hsEqualFold(p.buf[f.ns:f.ne], name) {
			continue
		}
		for v := p.buf[f.vs:f.ve]; len(v) > 0; {
			elem := v
			if i := bytes.IndexByte(v, ','); i >= 0 {
				elem, v = v[:i], v[i+1:]
			} else {
				v = nil
			}
			if hsEqualFold(bytes.Trim(elem, " \t"), token) {
				return true
			}
		}
	}
	return false
}

func (p *ResponseParser) checkProtocol(v []byte) string {
	if len(v) == 0 {
		return "" // an empty header chooses nothing
	}
	if bytes.IndexByte(v, ',') >= 0 {
		return "server chose more than one subprotocol: " + strconv.Quote(string(v))
	}
	for i, offered := range p.protocols {
		if string(v) == offered {
			p.protocol = i + 1
			return ""
		}
	}
	return "server chose subprotocol " + strconv.Quote(string(v)) + " which was not offered"
}

// checkExtensions parses one Sec-WebSocket-Extensions value (RFC 6455
// section 9.1) far enough to check the names: each must be one offered, and
// none may be enabled twice. Parameters are left to the extension.
func (p *ResponseParser) checkExtensions(v []byte) string {
	const malformed = "malformed Sec-WebSocket-Extensions header"
	i := 0
	for {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++ // empty list elements are allowed
		}
		if i == len(v) {
			return ""
		}
		name := hsTokenAt(v, i)
		if len(name) == 0 {
			return malformed
		}
		i += len(name)
		if reason := p.useExtension(name); reason != "" {
			return reason
		}
		for {
			i = hsSkipOWS(v, i)
			if i == len(v) || v[i] == ',' {
				break
			}
			if v[i] != ';' {
				return malformed
			}
			i = hsSkipOWS(v, i+1)
			param := hsTokenAt(v, i)
			if len(param) == 0 {
				return malformed
			}
			i = hsSkipOWS(v, i+len(param))
			if i < len(v) && v[i] == '=' {
				i = hsSkipOWS(v, i+1)
				if i < len(v) && v[i] == '"' {
					if i = hsSkipQuoted(v, i); i < 0 {
						return malformed
					}
				} else if value := hsTokenAt(v, i); len(value) > 0 {
					i += len(value)
				} else {
					return malformed
				}
			}
		}
	}
}

func (p *ResponseParser) useExtension(name []byte) string {
	for j, offered := range p.extNames {
		if hsEqualFold(name, offered) {
			if p.extUsed[j] {
				return "server enabled extension " + strconv.Quote(string(name)) + " twice"
			}
			p.extUsed[j] = true
			return ""
		}
	}
	return "server enabled extension " + strconv.Quote(string(name)) + " which was not offered"
}

// hsTokenAt returns the token starting at v[i] (empty if none).
func hsTokenAt(v []byte, i int) []byte {
	j := i
	for j < len(v) && hsTokenChars[v[j]] {
		j++
	}
	return v[i:j]
}

func hsSkipOWS(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

// hsSkipQuoted returns the index after the quoted-string at v[i], -1 if it
// is not terminated.
func hsSkipQuoted(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// hsEqualFold compares ASCII case-insensitively without allocating.
func hsEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}
