package testserver

// A deliberately small WebSocket client over net.Conn for these tests. It does
// not use codec, so the server is checked against an independent implementation.

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

type testClient struct {
	tb   testing.TB
	conn net.Conn
	br   *bufio.Reader
	resp *http.Response
	key  [4]byte // fixed per client in benchmarks; random per frame otherwise
	fast bool
	wbuf []byte
}

type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// rawRequest is a valid upgrade request for path, plus extra header lines.
func rawRequest(host, path, key string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func newKey() string {
	var k [16]byte
	_, _ = rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

func expectedAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// sendRequest dials s and sends req; it returns the connection and the parsed response.
func sendRequest(tb testing.TB, s *Server, req string) (net.Conn, *bufio.Reader, *http.Response) {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		tb.Fatalf("write request: %v", err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatalf("read response: %v", err)
	}
	return conn, br, resp
}

// dial upgrades a connection to path and checks the 101 response.
func dial(tb testing.TB, s *Server, path string, extra ...string) *testClient {
	tb.Helper()
	key := newKey()
	conn, br, resp := sendRequest(tb, s, rawRequest(s.Addr(), path, key, extra...))
	if resp.StatusCode != 101 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		tb.Fatalf("%s: status %d %q", path, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != expectedAccept(key) {
		tb.Fatalf("Sec-WebSocket-Accept %q, want %q", got, expectedAccept(key))
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		tb.Fatalf("bad upgrade headers: %v", resp.Header)
	}
	tb.Cleanup(func() { conn.Close() })
	return &testClient{tb: tb, conn: conn, br: br, resp: resp}
}

// appendFrame appends a masked client frame.
func (c *testClient) appendFrame(dst []byte, fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	n := len(payload)
	switch {
	case n <= 125:
		dst = append(dst, b0, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	key := c.key
	if !c.fast {
		_, _ = rand.Read(key[:])
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= key[i&3]
	}
	return dst
}

func (c *testClient) writeFrame(fin bool, op byte, payload []byte) {
	c.tb.Helper()
	c.wbuf = c.appendFrame(c.wbuf[:0], fin, op, payload)
	if _, err := c.conn.Write(c.wbuf); err != nil {
		c.tb.Fatalf("write frame: %v", err)
	}
}

func (c *testClient) writeRaw(b []byte) {
	c.tb.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
}

// readFrame reads one server frame; payload is a fresh slice.
func (c *testClient) readFrame() (frame, error) {
	var f frame
	var hdr [8]byte
	if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
		return f, err
	}
	if hdr[0]&0x70 != 0 {
		return f, fmt.Errorf("server set RSV bits: %#x", hdr[0])
	}
	if hdr[1]&0x80 != 0 {
		return f, fmt.Errorf("server frame is masked")
	}
	f.fin, f.op = hdr[0]&0x80 != 0, hdr[0]&0x0f
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(hdr[:2]))
	case 127:
		if _, err := io.ReadFull(c.br, hdr[:8]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(hdr[:8])
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(c.br, f.payload)
	return f, err
}

func (c *testClient) mustReadFrame() frame {
	c.tb.Helper()
	f, err := c.readFrame()
	if err != nil {
		c.tb.Fatalf("read frame: %v", err)
	}
	return f
}

// readMessage reassembles the next data message, failing on control frames.
func (c *testClient) readMessage() (byte, []byte) {
	c.tb.Helper()
	f := c.mustReadFrame()
	op, data := f.op, f.payload
	for !f.fin {
		f = c.mustReadFrame()
		if f.op != opCont {
			c.tb.Fatalf("got opcode %d inside a fragmented message", f.op)
		}
		data = append(data, f.payload...)
	}
	return op, data
}

// expectClose reads the next frame, checks it is a close with code and reason, and
// that TCP closes after it.
func (c *testClient) expectClose(code uint16, reason string) {
	c.tb.Helper()
	f := c.mustReadFrame()
	if f.op != opClose {
		c.tb.Fatalf("got opcode %d, want close", f.op)
	}
	if code == 0 {
		if len(f.payload) != 0 {
			c.tb.Fatalf("close payload %q, want empty", f.payload)
		}
	} else if len(f.payload) < 2 || binary.BigEndian.Uint16(f.payload) != code || string(f.payload[2:]) != reason {
		c.tb.Fatalf("close payload %q, want code %d reason %q", f.payload, code, reason)
	}
}

func (c *testClient) expectEOF() {
	c.tb.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if f, err := c.readFrame(); err != io.EOF {
		c.tb.Fatalf("want EOF, got frame op %d (%d bytes), err %v", f.op, len(f.payload), err)
	}
}
