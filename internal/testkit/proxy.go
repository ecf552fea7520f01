package testkit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// Established is the answer of a proxy that opened the tunnel.
const Established = "HTTP/1.1 200 Connection established\r\n\r\n"

// ConnectProxy is an HTTP CONNECT proxy written in Go (its sockets have TCP_NODELAY). For
// each request it hands the request to got when got is not nil, writes answer, and when the
// answer is a 200 carries the bytes to and from the host asked for, or to backend
// (host:port) when that is not empty, whatever was asked. It returns its URL,
// http://127.0.0.1:PORT; everything stops in t.Cleanup.
func ConnectProxy(t testing.TB, answer string, got chan<- *http.Request, backend string) string {
	t.Helper()
	url := RawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if got != nil {
			got <- req
		}
		if _, err := io.WriteString(c, answer); err != nil || !strings.Contains(answer, " 200 ") {
			return
		}
		to := backend
		if to == "" {
			to = req.Host
		}
		b, err := net.Dial("tcp", to)
		if err != nil {
			return
		}
		defer b.Close()
		go func() {
			_, _ = io.Copy(b, br)
			if cw, ok := b.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
		}()
		_, _ = io.Copy(c, b)
	})
	return strings.Replace(url, "ws://", "http://", 1)
}
