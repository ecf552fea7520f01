package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/testkit"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

func startServer(t *testing.T) string {
	s, err := testserver.Start(testserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.URL()
}

func TestWscat(t *testing.T) {
	url := startServer(t)
	cases := []struct {
		name       string
		args       []string
		stdin      io.Reader
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{"echo then close 1000", []string{url + "/echo"}, strings.NewReader("hello\nwörld\n"), 0, "hello\nwörld\n", ""},
		{"server closes 4001", []string{url + "/close?code=4001&reason=bye"}, blockingReader{}, 1, "", `closed by server with 4001 "bye"`},
		{"404", []string{url + "/nope"}, blockingReader{}, 1, "", "404 Not Found"},
		{"recv timeout", []string{"-recv-timeout", "200ms", url + "/echo"}, blockingReader{}, 1, "", "no message within 200ms"},
		{"refused", []string{"ws://127.0.0.1:1/"}, blockingReader{}, 1, "", "connection refused"},
		{"no URL", nil, blockingReader{}, 2, "", "usage"},
		{"bad header", []string{"-H", "nocolon", url}, blockingReader{}, 2, "", "Name: value"},
		{"verbose trace", []string{"-v", url + "/echo"}, strings.NewReader("x\n"), 0, "x\n", "upgraded"},
		{"through a proxy", []string{"-v", "-proxy", testkit.ConnectProxy(t, testkit.Established, nil, ""), url + "/echo"}, strings.NewReader("via\n"), 0, "via\n", "proxy"},
		{"proxy refuses", []string{"-proxy", testkit.ConnectProxy(t, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", nil, ""), url + "/echo"}, blockingReader{}, 1, "", "407 Proxy Authentication Required"},
		{"proxy down", []string{"-proxy", "socks5://127.0.0.1:1", url + "/echo"}, blockingReader{}, 1, "", "proxy socks5://127.0.0.1:1: unreachable"},
		{"no proxy", []string{"-proxy", "none", url + "/echo"}, strings.NewReader("direct\n"), 0, "direct\n", ""},
		{"bad proxy", []string{"-proxy", "ftp://p:21", url}, blockingReader{}, 2, "", "not http, https, socks5 or socks5h"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			done := make(chan int, 1)
			go func() { done <- run(tc.args, tc.stdin, &out, &errb) }()
			var code int
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("wscat did not finish")
			}
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, errb.String())
			}
			if out.String() != tc.wantOut {
				t.Errorf("stdout %q, want %q", out.String(), tc.wantOut)
			}
			if !strings.Contains(errb.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.wantStderr)
			}
			if tc.wantCode == 1 && strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
				t.Errorf("stderr has more than one line: %q", errb.String())
			}
		})
	}
}

// blockingReader is a stdin that never ends (the server ends the session).
type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }
