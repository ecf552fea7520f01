package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/testkit"
	"github.com/wsfleet/wsfleet/internal/testserver"
	"github.com/wsfleet/wsfleet/loadtest"
)

func refServer(t *testing.T) string {
	t.Helper()
	s, err := testserver.Start(testserver.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.URL()
}

// TestProxyTimedSeparately runs through a CONNECT proxy: every connection goes through it, and
// the result times the proxy leg on its own (Result.Proxy, the text report's "proxy" row).
func TestProxyTimedSeparately(t *testing.T) {
	url := refServer(t) + "/echo"
	proxy := strings.TrimPrefix(testkit.ConnectProxy(t, testkit.Established, nil, ""), "http://")
	code, out, errs := wsbench(t, "run", "-proxy", "http://"+proxy, "-c", "3", "-n", "20", "-warmup", "0", "-q", "-json", "-", url)
	var r loadtest.Result
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if r.Connections.Opened != 3 || r.Proxy.Count != 3 || r.TCPConnect.Count != 3 || r.Messages.Received == 0 {
		t.Fatalf("connections %+v, proxy %+v, tcp connect %+v", r.Connections, r.Proxy, r.TCPConnect)
	}
	code, out, errs = wsbench(t, "run", "-proxy", "http://"+proxy, "-c", "2", "-n", "20", "-warmup", "0", "-q", url)
	if code != 0 || !strings.Contains(out, "proxy") {
		t.Fatalf("text report without a proxy row: exit %d\n%s\n%s", code, out, errs)
	}
	// -proxy none dials directly: no proxy row.
	code, out, errs = wsbench(t, "run", "-proxy", "none", "-c", "2", "-n", "20", "-warmup", "0", "-q", "-json", "-", url)
	r = loadtest.Result{}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Proxy.Count != 0 {
		t.Fatalf("-proxy none: exit %d, proxy %+v\n%s", code, r.Proxy, errs)
	}
	// A proxy that is down fails every dial, counted.
	code, out, _ = wsbench(t, "run", "-proxy", "socks5://127.0.0.1:1", "-c", "2", "-n", "20", "-warmup", "0", "-q", "-json", "-", url)
	r = loadtest.Result{}
	if code != 1 || json.Unmarshal([]byte(out), &r) != nil || r.Connections.Failed != 2 || len(r.Errors) != 1 || r.Errors[0].Kind != "proxy_refused" {
		t.Fatalf("proxy down: exit %d, connections %+v, errors %+v", code, r.Connections, r.Errors)
	}
	if code, _, errs := wsbench(t, "run", "-proxy", "ftp://x:21", url); code != 2 || !strings.Contains(errs, "not http, https, socks5 or socks5h") {
		t.Fatalf("bad -proxy: exit %d\n%s", code, errs)
	}
}

// TestPrivateCA runs against a wss:// server whose certificate a private CA signed: with
// -cacert naming that CA the run verifies it; with another CA every dial fails verification.
func TestPrivateCA(t *testing.T) {
	cert, _, caPEM := testkit.Cert(t, []net.IP{net.IPv4(127, 0, 0, 1)}, nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	base := refServer(t)
	wss := "wss://" + testkit.TLSFront(t, cert, strings.TrimPrefix(base, "ws://")) + "/echo"
	code, out, errs := wsbench(t, "run", "-cacert", ca, "-c", "2", "-n", "20", "-warmup", "0", "-q", "-json", "-", wss)
	var r loadtest.Result
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Connections.Opened != 2 || r.Messages.Received == 0 {
		t.Fatalf("-cacert: exit %d, connections %+v\n%s", code, r.Connections, errs)
	}
	_, _, otherPEM := testkit.Cert(t, []net.IP{net.IPv4(127, 0, 0, 1)}, nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	other := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(other, otherPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = wsbench(t, "run", "-cacert", other, "-c", "2", "-n", "20", "-warmup", "0", "-q", "-json", "-", wss)
	r = loadtest.Result{}
	if code != 1 || json.Unmarshal([]byte(out), &r) != nil || len(r.Errors) != 1 || r.Errors[0].Kind != loadtest.KindTLS {
		t.Fatalf("another CA: exit %d, errors %+v\n%s", code, r.Errors, out)
	}
	if code, _, errs := wsbench(t, "run", "-cert", ca, wss); code != 2 || !strings.Contains(errs, "-cert and -key go together") {
		t.Fatalf("-cert alone: exit %d\n%s", code, errs)
	}
}
