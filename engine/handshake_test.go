package engine_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// Every way a server can botch the upgrade ends Dial with the documented error, quickly, and
// leaves nothing behind.
func TestHostileHandshakes(t *testing.T) {
	eng := newEngine(t)
	cases := []struct {
		name  string
		serve func(c net.Conn, br *bufio.Reader)
		opts  *engine.DialOptions
		check func(t *testing.T, err error)
	}{
		{
			name: "401 with a body",
			serve: func(c net.Conn, br *bufio.Reader) {
				readRequest(br)
				io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 12\r\n\r\nno token here")
			},
			check: func(t *testing.T, err error) {
				he := wantHandshakeError(t, err, 401)
				if string(he.Body) != "no token her" {
					t.Errorf("body %q, want the 12 bytes Content-Length announced", he.Body)
				}
				if he.Header.Get("Www-Authenticate") != "Bearer" {
					t.Errorf("headers %v lack WWW-Authenticate", he.Header)
				}
				if !strings.Contains(err.Error(), "401 Unauthorized") {
					t.Errorf("message %q does not name the status", err)
				}
			},
		},
		{
			name: "401 without Content-Length, body until close",
			serve: func(c net.Conn, br *bufio.Reader) {
				readRequest(br)
				io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\n\r\ngo away")
			},
			check: func(t *testing.T, err error) {
				he := wantHandshakeError(t, err, 401)
				if string(he.Body) != "go away" {
					t.Errorf("body %q", he.Body)
				}
			},
		},
		{
			name: "302 redirect",
			serve: func(c net.Conn, br *bufio.Reader) {
				readRequest(br)
				io.WriteString(c, "HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n")
			},
			check: func(t *testing.T, err error) {
				he := wantHandshakeError(t, err, 302)
				if he.Header.Get("Location") != "ws://elsewhere/" {
					t.Errorf("Location missing: %v", he.Header)
				}
			},
		},
		{
			name: "bad Sec-WebSocket-Accept",
			serve: func(c net.Conn, br *bufio.Reader) {
				readRequest(br)
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
			},
			check: wantReason("Sec-WebSocket-Accept"),
		},
		{
			name: "missing Upgrade",
			serve: func(c net.Conn, br *bufio.Reader) {
				req := readRequest(br)
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+testkit.AcceptKey(req)+"\r\n\r\n")
			},
			check: wantReason("Upgrade"),
		},
		{
			name: "unoffered subprotocol",
			serve: func(c net.Conn, br *bufio.Reader) {
				upgradeWith(c, br, "Sec-WebSocket-Protocol: mqtt\r\n")
			},
			opts:  &engine.DialOptions{Protocols: []string{"chat.v1"}},
			check: wantReason("mqtt"),
		},
		{
			name: "unknown extension",
			serve: func(c net.Conn, br *bufio.Reader) {
				upgradeWith(c, br, "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n")
			},
			check: wantReason("x-webkit-deflate-frame"),
		},
		{
			name: "garbage instead of HTTP",
			serve: func(c net.Conn, br *bufio.Reader) {
				readRequest(br)
				io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n")
				time.Sleep(2 * time.Second)
			},
			check: func(t *testing.T, err error) {
				var he *engine.HandshakeError
				if !errors.As(err, &he) {
					t.Fatalf("got %v (%T), want *HandshakeError", err, err)
				}
			},
		},
		{
			name: "closes during the upgrade",
			serve: func(c net.Conn, br *bufio.Reader) {
				readRequest(br)
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgr")
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, engine.ErrAbnormalClose) || !strings.Contains(err.Error(), "during the upgrade") {
					t.Fatalf("got %v", err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := testkit.RawServer(t, tc.serve)
			opts := tc.opts
			if opts == nil {
				opts = &engine.DialOptions{}
			}
			opts.ConnectTimeout = time.Second
			start := time.Now()
			c, err := eng.Dial(context.Background(), url+"/", opts)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if d := time.Since(start); d > 900*time.Millisecond && !errors.Is(err, engine.ErrTimeout) {
				t.Errorf("took %v to fail", d)
			}
			tc.check(t, err)
		})
	}
	waitStats(t, eng, func(s engine.Stats) bool { return s.Connecting == 0 && s.Open == 0 })
}

// A server that accepts TCP and never answers: the connect timeout fires within 10% of its value.
func TestConnectTimeoutSilentServer(t *testing.T) {
	eng := newEngine(t)
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br)
	})
	for _, timeout := range []time.Duration{time.Second, 2 * time.Second} {
		start := time.Now()
		_, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{ConnectTimeout: timeout})
		took := time.Since(start)
		if !errors.Is(err, engine.ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("got %v, want a timeout", err)
		}
		if took < timeout || took > timeout+timeout/10 {
			t.Errorf("timeout %v fired after %v (want within 10%%)", timeout, took)
		}
		if !strings.Contains(err.Error(), "connect timeout") {
			t.Errorf("message %q does not say connect timeout", err)
		}
	}
}

func TestDialRefusedAndBadURLs(t *testing.T) {
	eng := newEngine(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err := eng.Dial(context.Background(), "ws://"+addr+"/", nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("refused: got %v", err)
	}
	if _, err := eng.Dial(context.Background(), "wss://"+addr+"/", nil); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("wss refused: got %v", err)
	}
	if _, err := eng.Dial(context.Background(), "ws:///nohost", nil); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Errorf("no host: got %v", err)
	}
	if _, err := eng.Dial(context.Background(), "http://"+addr+"/", nil); err == nil {
		t.Error("http:// accepted")
	}
	h := map[string][]string{"Sec-WebSocket-Key": {"x"}}
	if _, err := eng.Dial(context.Background(), "ws://"+addr+"/", &engine.DialOptions{Header: h}); err == nil || !strings.Contains(err.Error(), "Sec-WebSocket-Key") {
		t.Errorf("protocol header override: got %v", err)
	}
}

func readRequest(br *bufio.Reader) string {
	key := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			return key
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Sec-WebSocket-Key") {
			key = strings.TrimSpace(v)
		}
	}
}

func upgradeWith(c net.Conn, br *bufio.Reader, extra string) {
	key := readRequest(br)
	io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+testkit.AcceptKey(key)+"\r\n"+extra+"\r\n")
	io.Copy(io.Discard, br)
}

func wantHandshakeError(t *testing.T, err error, status int) *engine.HandshakeError {
	t.Helper()
	var he *engine.HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("got %v (%T), want *HandshakeError", err, err)
	}
	if he.StatusCode != status {
		t.Fatalf("status %d, want %d (%v)", he.StatusCode, status, err)
	}
	return he
}

func wantReason(word string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var he *engine.HandshakeError
		if !errors.As(err, &he) {
			t.Fatalf("got %v (%T), want *HandshakeError", err, err)
		}
		if !strings.Contains(err.Error(), word) {
			t.Fatalf("message %q does not name %q", err, word)
		}
	}
}

// TestResponseHeaderKept: ResponseHeader gives back every header of the 101, including
// Sec-WebSocket-Accept (rebuilt from the request's key rather than kept per connection),
// across connections that share the kept lines.
func TestResponseHeaderKept(t *testing.T) {
	accepts := make(chan string, 3)
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := testkit.Upgrade(c, br, "X-Served-By: test\r\nSec-WebSocket-Protocol: chat\r\n")
		if err != nil {
			return
		}
		accepts <- testkit.AcceptKey(req.Header.Get("Sec-WebSocket-Key"))
		io.Copy(io.Discard, br)
	})
	eng := newEngine(t)
	for i := 0; i < 3; i++ {
		c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{Protocols: []string{"chat"}})
		if err != nil {
			t.Fatal(err)
		}
		h := c.ResponseHeader()
		if got, want := h.Get("Sec-WebSocket-Accept"), <-accepts; got != want {
			t.Errorf("conn %d: Sec-WebSocket-Accept %q, the server sent %q", i, got, want)
		}
		if h.Get("X-Served-By") != "test" || h.Get("Upgrade") != "websocket" || h.Get("Connection") != "Upgrade" || len(h) != 5 {
			t.Errorf("conn %d: headers %v", i, h)
		}
		if c.Subprotocol() != "chat" {
			t.Errorf("conn %d: subprotocol %q", i, c.Subprotocol())
		}
		c.CloseNow()
	}
}
