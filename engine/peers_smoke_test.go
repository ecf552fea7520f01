package engine_test

// A guard for the interop peers themselves, independent of the engine: a minimal hand-written
// WebSocket client (just enough RFC 6455 for these checks) talks to each peer, over ws:// and
// wss://, with and without permessage-deflate.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/testkit"
)

func TestPeerSmoke(t *testing.T) {
	for _, kind := range peerKinds {
		t.Run(kind, func(t *testing.T) {
			certFile, keyFile, roots := testkit.SelfSignedFiles(t)
			for _, mode := range []struct {
				name string
				args []string
			}{
				{"ws", nil},
				{"wss", []string{"--tls", certFile, keyFile}},
			} {
				t.Run(mode.name, func(t *testing.T) {
					base := startPeer(t, kind, mode.args...)
					if !strings.HasPrefix(base, mode.name+"://127.0.0.1:") {
						t.Fatalf("startPeer returned %q", base)
					}
					peerSmokeBasics(t, base, roots)
				})
			}
			t.Run("compress-on", func(t *testing.T) {
				base := startPeer(t, kind, "--compress", "on")
				peerSmokeCompression(t, base, false)
			})
			t.Run("compress-no-context", func(t *testing.T) {
				base := startPeer(t, kind, "--compress", "no-context")
				peerSmokeCompression(t, base, true)
			})
			t.Run("compress-off", func(t *testing.T) {
				base := startPeer(t, kind)
				c := smokeDial(t, base+"/echo", nil, "Sec-WebSocket-Extensions: permessage-deflate")
				if ext := c.resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
					t.Errorf("compression off, yet the peer accepted %q", ext)
				}
			})
		})
	}
}

// TestPeerExitsOnStdinEOF checks the orphan guard: a peer whose stdin closes exits by itself.
func TestPeerExitsOnStdinEOF(t *testing.T) {
	for _, kind := range peerKinds {
		t.Run(kind, func(t *testing.T) {
			p := launchPeer(t, kind)
			p.stdin.Close()
			select {
			case <-p.exited:
				if p.err != nil {
					t.Errorf("peer exited with %v; stderr:\n%s", p.err, p.stderr.String())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("peer still running 5s after its stdin closed")
			}
		})
	}
}

func peerSmokeBasics(t *testing.T, base string, roots *x509.CertPool) {
	t.Run("echo", func(t *testing.T) {
		c := smokeDial(t, base+"/echo", roots)
		if p := c.resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
			t.Errorf("no subprotocol offered, yet the peer selected %q", p)
		}
		c.expectEcho(opText, []byte("hi"))
		c.expectEcho(opBinary, []byte{0, 1, 2, 0xff})
		c.expectEcho(opText, []byte{})
		c.expectEcho(opBinary, bytes.Repeat([]byte{7}, 300))      // 16-bit length
		c.expectEcho(opBinary, bytes.Repeat([]byte("ab"), 40000)) // 64-bit length
		c.expectEcho(opText, []byte("héllo ✓"))
		// A fragmented message comes back whole.
		c.writeFrame(false, opText, []byte("frag"))
		c.writeFrame(true, opContinuation, []byte("ment"))
		c.expectMessage(opText, []byte("fragment"))
		c.closeHandshake(1000, "")
	})

	t.Run("close", func(t *testing.T) {
		c := smokeDial(t, base+"/close?code=4001&reason=bye", roots)
		c.expectClose(4001, "bye")
		c.writeClose(4001, "")
	})

	t.Run("close-default", func(t *testing.T) {
		c := smokeDial(t, base+"/close", roots)
		c.expectClose(1000, "")
	})

	t.Run("ping", func(t *testing.T) {
		c := smokeDial(t, base+"/ping?data=hello", roots)
		f := c.readFrame()
		if f.op != opPing || string(f.payload) != "hello" {
			t.Fatalf("got %s %q, want a ping \"hello\"", f.op, f.payload)
		}
		c.writeFrame(true, opText, []byte("early")) // held until the pong has arrived
		c.writeFrame(true, opPong, f.payload)
		c.expectMessage(opText, []byte("pong:hello"))
		c.expectMessage(opText, []byte("early"))
		c.expectEcho(opText, []byte("hi"))
		// The peer answers our pings.
		c.writeFrame(true, opPing, []byte("p1"))
		if f := c.readFrame(); f.op != opPong || string(f.payload) != "p1" {
			t.Fatalf("got %s %q, want pong \"p1\"", f.op, f.payload)
		}
		c.closeHandshake(1000, "")
	})

	t.Run("headers", func(t *testing.T) {
		c := smokeDial(t, base+"/headers", roots, "X-Smoke: yes", "X-Multi: a", "x-multi: b")
		f := c.readFrame()
		if f.op != opText {
			t.Fatalf("got %s, want text", f.op)
		}
		var h map[string]string
		if err := json.Unmarshal(f.payload, &h); err != nil {
			t.Fatalf("headers message %q: %v", f.payload, err)
		}
		host := strings.TrimPrefix(strings.TrimPrefix(base, "ws://"), "wss://")
		for k, v := range map[string]string{"x-smoke": "yes", "x-multi": "a, b", "host": host, "upgrade": "websocket"} {
			if h[k] != v {
				t.Errorf("headers[%q] = %q, want %q (all: %s)", k, h[k], v, f.payload)
			}
		}
		c.expectEcho(opText, []byte("after headers"))
	})

	t.Run("subprotocol", func(t *testing.T) {
		for _, tc := range []struct{ offer, want string }{
			{"chat.v0, chat.v1, chat.v2", "chat.v1"},
			{"chat.v2, chat.v1", "chat.v2"},
			{"chat.v3", ""},
		} {
			c := smokeDial(t, base+"/echo", roots, "Sec-WebSocket-Protocol: "+tc.offer)
			if got := c.resp.Header.Get("Sec-WebSocket-Protocol"); got != tc.want {
				t.Errorf("offered %q: selected %q, want %q", tc.offer, got, tc.want)
			}
			c.closeHandshake(1000, "")
		}
	})

	t.Run("push", func(t *testing.T) {
		c := smokeDial(t, base+"/push?count=5&size=1000", roots)
		for i := range 5 {
			c.expectMessage(opBinary, peerPushPayload(i, 1000))
		}
		c.expectClose(1000, "done")
	})

	t.Run("large", func(t *testing.T) {
		if testing.Short() {
			t.Skip("messages of up to 16 MiB; skipped in -short")
		}
		size := 16 << 20
		if strings.HasPrefix(base, "wss:") {
			size = 1 << 20 // the size limit is TLS-agnostic; keep the race-detector run short
		}
		c := smokeDial(t, base+"/echo", roots)
		c.conn.SetDeadline(time.Now().Add(60 * time.Second))
		c.expectEcho(opBinary, peerPushPayload(3, size))
		c.closeHandshake(1000, "")
		c = smokeDial(t, base+"/push?count=2&size="+fmt.Sprint(size), roots)
		c.conn.SetDeadline(time.Now().Add(60 * time.Second))
		c.expectMessage(opBinary, peerPushPayload(0, size))
		c.expectMessage(opBinary, peerPushPayload(1, size))
		c.expectClose(1000, "done")
	})

	t.Run("not-found", func(t *testing.T) {
		code := smokeDialStatus(t, base+"/nope", roots)
		if code != http.StatusNotFound {
			t.Fatalf("status %d, want 404", code)
		}
	})

	t.Run("survives-bad-clients", func(t *testing.T) {
		// Garbage instead of a handshake.
		raw := smokeRawConn(t, base, roots)
		raw.Write([]byte("\x00\xffnot http at all\r\n\r\n"))
		raw.Close()
		// A protocol error: an unmasked client frame.
		c := smokeDial(t, base+"/echo", roots)
		c.conn.Write([]byte{0x81, 0x02, 'h', 'i'})
		if f := c.readFrame(); f.op != opClose {
			t.Fatalf("unmasked frame: got %s, want close", f.op)
		} else if code := testkit.CloseCode(f.payload); code != 1002 {
			t.Errorf("unmasked frame: close code %d, want 1002", code)
		}
		// Bad parameters.
		c = smokeDial(t, base+"/push?count=x", roots)
		c.expectClose(1011, "server error")
		// The server still serves.
		c = smokeDial(t, base+"/echo", roots)
		c.expectEcho(opText, []byte("still here"))
	})
}

func peerSmokeCompression(t *testing.T, base string, noContext bool) {
	c := smokeDial(t, base+"/echo", nil, "Sec-WebSocket-Extensions: permessage-deflate")
	ext := c.resp.Header.Get("Sec-WebSocket-Extensions")
	if !strings.HasPrefix(ext, "permessage-deflate") {
		t.Fatalf("extension response %q, want permessage-deflate", ext)
	}
	for _, p := range []string{"server_no_context_takeover", "client_no_context_takeover"} {
		if strings.Contains(ext, p) != noContext {
			t.Errorf("extension response %q: has %s = %v, want %v", ext, p, !noContext, noContext)
		}
	}
	// We send uncompressed (allowed); every reply must come back compressed, even tiny ones.
	// Without context takeover each message inflates on its own; with it, only the first is
	// sure to (no history yet), so check one there.
	msgs := []string{"hi", "hello hello hello hello", "hi"}
	if !noContext {
		msgs = msgs[:1]
	}
	for _, m := range msgs {
		c.writeFrame(true, opText, []byte(m))
		f := c.readFrame()
		if f.op != opText || !f.rsv1 || !f.fin {
			t.Fatalf("reply to %q: op %s rsv1 %v fin %v, want a compressed final text frame", m, f.op, f.rsv1, f.fin)
		}
		got, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(f.payload),
			strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff"))))
		if err != nil || string(got) != m {
			t.Fatalf("reply to %q inflates to %q, %v", m, got, err)
		}
	}
	c.closeHandshake(1000, "")
}

// ---- the minimal client ----

const (
	opContinuation smokeOp = 0
	opText         smokeOp = 1
	opBinary       smokeOp = 2
	opClose        smokeOp = 8
	opPing         smokeOp = 9
	opPong         smokeOp = 10
)

type smokeOp byte

func (o smokeOp) String() string {
	switch o {
	case opContinuation:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("opcode(%d)", byte(o))
}

type smokeFrame struct {
	fin, rsv1 bool
	op        smokeOp
	payload   []byte
}

type smokeConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	resp *http.Response
}

func smokeRawConn(t testing.TB, rawURL string, roots *x509.CertPool) net.Conn {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme == "wss" {
		tc := tls.Client(conn, &tls.Config{RootCAs: roots, ServerName: u.Hostname()})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			t.Fatalf("TLS handshake with %s: %v", u.Host, err)
		}
		conn = tc
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

// smokeUpgrade sends an upgrade request for rawURL with extra header lines and reads the response.
func smokeUpgrade(t testing.TB, rawURL string, roots *x509.CertPool, extra ...string) (*smokeConn, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn := smokeRawConn(t, rawURL, roots)
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", u.RequestURI(), u.Host, key)
	for _, h := range extra {
		req.WriteString(h + "\r\n")
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatalf("write handshake: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read handshake response from %s: %v", rawURL, err)
	}
	return &smokeConn{t: t, conn: conn, br: br, resp: resp}, key
}

func smokeDialStatus(t testing.TB, rawURL string, roots *x509.CertPool) int {
	t.Helper()
	c, _ := smokeUpgrade(t, rawURL, roots)
	return c.resp.StatusCode
}

func smokeDial(t testing.TB, rawURL string, roots *x509.CertPool, extra ...string) *smokeConn {
	t.Helper()
	c, key := smokeUpgrade(t, rawURL, roots, extra...)
	if c.resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%s: status %s, want 101", rawURL, c.resp.Status)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := c.resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("%s: Sec-WebSocket-Accept %q, want %q", rawURL, got, want)
	}
	return c
}

func (c *smokeConn) writeFrame(fin bool, op smokeOp, payload []byte) {
	c.t.Helper()
	var hdr []byte
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = []byte{b0, 0x80 | byte(n)}
	case n < 1<<16:
		hdr = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		hdr = []byte{b0, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	frame := append(hdr, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := c.conn.Write(frame); err != nil {
		c.t.Fatalf("write %s frame: %v", op, err)
	}
}

func (c *smokeConn) readFrame() smokeFrame {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("read frame header: %v", err)
	}
	f := smokeFrame{fin: h[0]&0x80 != 0, rsv1: h[0]&0x40 != 0, op: smokeOp(h[0] & 0x0f)}
	if h[1]&0x80 != 0 {
		c.t.Fatalf("the server masked a %s frame", f.op)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			c.t.Fatalf("read frame length: %v", err)
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			c.t.Fatalf("read frame length: %v", err)
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 64<<20 {
		c.t.Fatalf("frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		c.t.Fatalf("read %d-byte %s payload: %v", n, f.op, err)
	}
	return f
}

// readMessage reads one data message, reassembling fragments; control frames are unexpected.
func (c *smokeConn) readMessage() (smokeOp, []byte) {
	c.t.Helper()
	f := c.readFrame()
	if f.op != opText && f.op != opBinary {
		c.t.Fatalf("got a %s frame (payload %q), want a data message", f.op, f.payload)
	}
	op, data := f.op, f.payload
	for !f.fin {
		f = c.readFrame()
		if f.op != opContinuation {
			c.t.Fatalf("got a %s frame inside a fragmented message", f.op)
		}
		data = append(data, f.payload...)
	}
	return op, data
}

func (c *smokeConn) expectMessage(op smokeOp, want []byte) {
	c.t.Helper()
	gotOp, got := c.readMessage()
	if gotOp != op || !bytes.Equal(got, want) {
		c.t.Fatalf("got %s %s, want %s %s", gotOp, smokeShort(got), op, smokeShort(want))
	}
}

func (c *smokeConn) expectEcho(op smokeOp, payload []byte) {
	c.t.Helper()
	c.writeFrame(true, op, payload)
	c.expectMessage(op, payload)
}

func (c *smokeConn) writeClose(code uint16, reason string) {
	c.t.Helper()
	c.writeFrame(true, opClose, append(binary.BigEndian.AppendUint16(nil, code), reason...))
}

func (c *smokeConn) expectClose(code uint16, reason string) {
	c.t.Helper()
	f := c.readFrame()
	if f.op != opClose {
		c.t.Fatalf("got %s %s, want close", f.op, smokeShort(f.payload))
	}
	got, gotReason := testkit.CloseCode(f.payload), ""
	if len(f.payload) > 2 {
		gotReason = string(f.payload[2:])
	}
	if got != int(code) || gotReason != reason {
		c.t.Fatalf("close %d %q, want %d %q", got, gotReason, code, reason)
	}
}

// closeHandshake closes from our side and expects the peer to echo the close code.
func (c *smokeConn) closeHandshake(code uint16, reason string) {
	c.t.Helper()
	c.writeClose(code, reason)
	f := c.readFrame()
	if f.op != opClose || testkit.CloseCode(f.payload) != int(code) {
		c.t.Fatalf("closing: got %s %s, want close %d", f.op, smokeShort(f.payload), code)
	}
}

func smokeShort(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}
