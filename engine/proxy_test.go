package engine_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

// proxyTargets starts the reference server and a TLS front for it; it returns ws:// and
// wss:// echo URLs, served with cert.
func proxyTargets(t *testing.T, cert tls.Certificate) (ws, wss string) {
	t.Helper()
	base := refServer(t, testserver.Options{Loops: 1})
	u, _ := url.Parse(base)
	return base + "/echo", "wss://" + testkit.TLSFront(t, cert, u.Host) + "/echo"
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// withUser puts user:pass into a proxy URL.
func withUser(raw, user, pass string) *url.URL {
	u, _ := url.Parse(raw)
	u.User = url.UserPassword(user, pass)
	return u
}

// TestProxyEcho echoes 0 B–1 MiB messages over ws:// and wss:// through tinyproxy (HTTP
// CONNECT, with and without Basic auth), tinyproxy behind TLS (an https:// proxy, so wss://
// is TLS inside TLS) and microsocks (socks5:// and socks5h://, with and without auth).
func TestProxyEcho(t *testing.T) {
	checkNoLeaks(t)
	cert, roots := goodCert(t)
	tc := &tls.Config{RootCAs: roots}
	ws, wss := proxyTargets(t, cert)
	proxies := []struct {
		name string
		make func(t *testing.T) *url.URL
	}{
		{"http", func(t *testing.T) *url.URL { return mustURL(t, tinyproxy(t)) }},
		{"http-basic-auth", func(t *testing.T) *url.URL {
			return withUser(tinyproxy(t, "BasicAuth alice s3cret"), "alice", "s3cret")
		}},
		{"https-basic-auth", func(t *testing.T) *url.URL {
			p := mustURL(t, tinyproxy(t, "BasicAuth alice s3cret"))
			return withUser("https://"+testkit.TLSFront(t, cert, p.Host), "alice", "s3cret")
		}},
		{"socks5", func(t *testing.T) *url.URL { return mustURL(t, microsocks(t, "", "")) }},
		{"socks5-auth", func(t *testing.T) *url.URL { return withUser(microsocks(t, "bob", "pa55"), "bob", "pa55") }},
		{"socks5h-auth", func(t *testing.T) *url.URL {
			u := withUser(microsocks(t, "bob", "pa55"), "bob", "pa55")
			u.Scheme = "socks5h"
			return u
		}},
	}
	for _, p := range proxies {
		t.Run(p.name, func(t *testing.T) {
			pu := p.make(t)
			eng := newEngine(t)
			for _, target := range []string{ws, wss} {
				var proxied atomic.Int32
				o := &engine.DialOptions{
					Proxy:     engine.ProxyURL(pu),
					TLSConfig: tc,
					Trace: func(ev engine.TraceEvent) {
						if ev.Kind == engine.TraceProxy && ev.Err == nil {
							proxied.Add(1)
						}
					},
				}
				c, err := eng.Dial(context.Background(), target, o)
				if err != nil {
					t.Fatalf("%s via %s: %v", target, pu.Redacted(), err)
				}
				// The socket goes to the proxy: that is the peer the kernel sees.
				if got, want := c.RemoteAddr().String(), pu.Host; got != want {
					t.Errorf("%s: remote address %s, want the proxy's %s", target, got, want)
				}
				if proxied.Load() != 1 {
					t.Errorf("%s: %d proxy trace events, want 1", target, proxied.Load())
				}
				echoOver(t, c, echoSizes)
				if err := c.Close(); err != nil {
					t.Fatalf("%s: close: %v", target, err)
				}
			}
		})
	}
}

// TestProxySOCKS5Resolution checks who resolves the target's name: the proxy for socks5h://
// (microsocks logs "connected to localhost:PORT"), the engine's resolver for socks5://.
func TestProxySOCKS5Resolution(t *testing.T) {
	ws := refServer(t, testserver.Options{Loops: 1}) + "/echo"
	port := mustURL(t, ws).Port()
	pu := mustURL(t, microsocks(t, "", ""))
	pu.Scheme = "socks5h"
	eng, err := engine.New(engine.Options{Loops: 1, Resolver: failingResolver()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	c, err := eng.Dial(context.Background(), "ws://localhost:"+port+"/echo", &engine.DialOptions{Proxy: engine.ProxyURL(pu)})
	if err != nil {
		t.Fatal(err)
	}
	echoOver(t, c, []int{5})
	c.Close()
	// socks5:// resolves here, with the engine's resolver, which fails for a name not in /etc/hosts.
	pu.Scheme = "socks5"
	_, err = eng.Dial(context.Background(), "ws://wsfleet-no-such-host.test:"+port+"/echo", &engine.DialOptions{Proxy: engine.ProxyURL(pu)})
	if !errors.Is(err, engine.ErrProxy) || !strings.Contains(err.Error(), "resolving wsfleet-no-such-host.test") {
		t.Fatalf("socks5:// with a failing resolver: %v", err)
	}
}

// failingResolver resolves nothing: its DNS server refuses at once.
func failingResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in this test")
	}}
}

// TestProxyFailures checks that each way a proxy can fail ends the dial inside the connect
// timeout with a *ProxyError that names it.
func TestProxyFailures(t *testing.T) {
	checkNoLeaks(t)
	cert, roots := goodCert(t)
	ws := refServer(t, testserver.Options{Loops: 1}) + "/echo"
	const timeout = 2 * time.Second
	down := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	silent := silentProxy(t)
	cases := []struct {
		name   string
		proxy  func(t *testing.T) *url.URL
		target string
		tls    *tls.Config
		check  func(t *testing.T, pe *engine.ProxyError, err error)
	}{
		{"proxy down", func(t *testing.T) *url.URL { return mustURL(t, "http://"+down) }, ws, nil,
			func(t *testing.T, pe *engine.ProxyError, err error) {
				if pe.Stage != "connect" || !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("stage %q, ECONNREFUSED %v", pe.Stage, errors.Is(err, syscall.ECONNREFUSED))
				}
			}},
		{"socks5 proxy down", func(t *testing.T) *url.URL { return mustURL(t, "socks5://"+down) }, ws, nil,
			func(t *testing.T, pe *engine.ProxyError, err error) {
				if pe.Stage != "connect" || !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("stage %q, ECONNREFUSED %v", pe.Stage, errors.Is(err, syscall.ECONNREFUSED))
				}
			}},
		{"407 no credentials", func(t *testing.T) *url.URL { return mustURL(t, tinyproxy(t, "BasicAuth alice s3cret")) }, ws, nil,
			wantStatus(407)},
		{"407 wrong password", func(t *testing.T) *url.URL {
			return withUser(tinyproxy(t, "BasicAuth alice s3cret"), "alice", "wrong")
		}, ws, nil, wantStatus(401)}, // tinyproxy 1.11 answers wrong credentials so
		{"403 client not allowed", func(t *testing.T) *url.URL { return mustURL(t, tinyproxy(t, "Allow 192.0.2.1")) }, ws, nil,
			wantStatus(403)},
		{"target down behind the proxy", func(t *testing.T) *url.URL { return mustURL(t, tinyproxy(t)) }, "ws://" + down + "/", nil,
			func(t *testing.T, pe *engine.ProxyError, err error) {
				if pe.StatusCode < 500 {
					t.Errorf("status %d, want tinyproxy's 5xx", pe.StatusCode)
				}
			}},
		{"socks5 wrong password", func(t *testing.T) *url.URL { return withUser(microsocks(t, "bob", "pa55"), "bob", "wrong") }, ws, nil,
			func(t *testing.T, pe *engine.ProxyError, err error) {
				if pe.SOCKSAuth <= 0 || pe.SOCKSAuth == 0xff {
					t.Errorf("SOCKSAuth %d, want an RFC 1929 failure status", pe.SOCKSAuth)
				}
			}},
		{"socks5 no credentials", func(t *testing.T) *url.URL { return mustURL(t, microsocks(t, "bob", "pa55")) }, ws, nil,
			func(t *testing.T, pe *engine.ProxyError, err error) {
				if pe.SOCKSAuth != 0xff {
					t.Errorf("SOCKSAuth %d, want 255", pe.SOCKSAuth)
				}
			}},
		{"socks5 target down", func(t *testing.T) *url.URL { return mustURL(t, microsocks(t, "", "")) }, "ws://" + down + "/", nil,
			func(t *testing.T, pe *engine.ProxyError, err error) {
				if pe.SOCKSReply <= 0 {
					t.Errorf("SOCKSReply %d, want a refusal", pe.SOCKSReply)
				}
			}},
		{"http proxy never answers", func(t *testing.T) *url.URL { return mustURL(t, "http://"+silent) }, ws, nil, wantTimeout},
		{"https proxy never answers", func(t *testing.T) *url.URL { return mustURL(t, "https://"+silent) }, ws, nil, wantTimeout},
		{"socks5 proxy never answers", func(t *testing.T) *url.URL { return mustURL(t, "socks5://"+silent) }, ws, nil, wantTimeout},
		{"https proxy with an untrusted certificate", func(t *testing.T) *url.URL {
			return mustURL(t, "https://"+testkit.TLSFront(t, cert, mustURL(t, tinyproxy(t)).Host))
		}, ws, &tls.Config{}, func(t *testing.T, pe *engine.ProxyError, err error) {
			if pe.Stage != "tls" || !errors.Is(err, engine.ErrTLS) {
				t.Errorf("stage %q, ErrTLS %v", pe.Stage, errors.Is(err, engine.ErrTLS))
			}
		}},
		{"http proxy with an endless header", func(t *testing.T) *url.URL {
			return mustURL(t, strings.Replace(testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\n")
				line := []byte("X-Padding: " + strings.Repeat("x", 1000) + "\r\n")
				for {
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}), "ws://", "http://", 1))
		}, ws, nil, func(t *testing.T, pe *engine.ProxyError, err error) {
			if pe.Stage != "CONNECT" || errors.Is(err, engine.ErrTimeout) || !strings.HasPrefix(string(pe.Answer), "HTTP/1.1 200 OK") {
				t.Errorf("stage %q, answer %.40q", pe.Stage, pe.Answer)
			}
		}},
		{"socks5 proxy that speaks HTTP", func(t *testing.T) *url.URL {
			return mustURL(t, strings.Replace(testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
				io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
			}), "ws://", "socks5://", 1))
		}, ws, nil, func(t *testing.T, pe *engine.ProxyError, err error) {
			if pe.Stage != "socks" || !strings.Contains(err.Error(), "not a SOCKS5 server") || string(pe.Answer) != "HT" {
				t.Errorf("stage %q: %v", pe.Stage, err)
			}
		}},
		{"unknown scheme", func(t *testing.T) *url.URL { return mustURL(t, "ftp://"+down) }, ws, nil,
			func(t *testing.T, pe *engine.ProxyError, err error) {
				if pe.Stage != "config" {
					t.Errorf("stage %q", pe.Stage)
				}
			}},
	}
	_ = roots
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pu := tc.proxy(t)
			eng := newEngine(t)
			start := time.Now()
			_, err := eng.Dial(context.Background(), tc.target, &engine.DialOptions{Proxy: engine.ProxyURL(pu), ConnectTimeout: timeout, TLSConfig: tc.tls})
			took := time.Since(start)
			var pe *engine.ProxyError
			if !errors.As(err, &pe) || !errors.Is(err, engine.ErrProxy) {
				t.Fatalf("err %v (%T), want a *ProxyError", err, err)
			}
			if took > timeout+3*time.Second {
				t.Errorf("took %v with a %v connect timeout", took, timeout)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "pa55") {
				t.Errorf("the error shows a password: %v", err)
			}
			tc.check(t, pe, err)
			t.Logf("%v (after %v)", err, took.Round(time.Millisecond))
		})
	}
}

func wantStatus(code int) func(t *testing.T, pe *engine.ProxyError, err error) {
	return func(t *testing.T, pe *engine.ProxyError, err error) {
		if pe.StatusCode != code || !strings.Contains(pe.Status, strconv.Itoa(code)) || len(pe.Answer) == 0 {
			t.Errorf("status %d %q, answer %q; want %d", pe.StatusCode, pe.Status, pe.Answer, code)
		}
	}
}

func wantTimeout(t *testing.T, pe *engine.ProxyError, err error) {
	if !errors.Is(err, engine.ErrTimeout) {
		t.Errorf("stage %q: not a timeout", pe.Stage)
	}
}

// TestProxyFromEnvironmentEndToEnd dials with DialOptions.Proxy left nil in a copy of this
// test binary whose environment sets HTTP_PROXY, ALL_PROXY and NO_PROXY (the environment is
// read once per process): a ws:// dial to a name goes through HTTP_PROXY, one to a NO_PROXY
// name goes direct, and a wss:// dial (no HTTPS_PROXY) takes ALL_PROXY.
func TestProxyFromEnvironmentEndToEnd(t *testing.T) {
	if os.Getenv("WSFLEET_ENV_PROXY_CHILD") != "" {
		return // the child's own run of the test list
	}
	base := refServer(t, testserver.Options{Loops: 1})
	backend := mustURL(t, base).Host
	got := make(chan *http.Request, 8)
	// A CONNECT proxy that sends every tunnel to the reference server, whatever the name.
	proxy := testkit.ConnectProxy(t, testkit.Established, got, backend)
	proxyHost := mustURL(t, proxy).Host
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestHelperEnvProxyDial$", "-test.v")
	cmd.Env = append(os.Environ(), "WSFLEET_ENV_PROXY_CHILD=1",
		"HTTP_PROXY=http://"+proxyHost, "ALL_PROXY=http://"+proxyHost, "NO_PROXY=direct.wsfleet.test",
		"WSFLEET_ENV_PROXY_BACKEND="+backend)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	close(got)
	var hosts []string
	for req := range got {
		hosts = append(hosts, req.Host)
	}
	if strings.Join(hosts, " ") != "env.wsfleet.test:80 env.wsfleet.test:443" {
		t.Errorf("the proxy was asked for %q; child said:\n%s", hosts, out)
	}
}

// TestHelperEnvProxyDial is TestProxyFromEnvironmentEndToEnd's child.
func TestHelperEnvProxyDial(t *testing.T) {
	backend := os.Getenv("WSFLEET_ENV_PROXY_BACKEND")
	if backend == "" {
		return
	}
	// The names resolve only for the direct dial, to the reference server.
	_, port, _ := net.SplitHostPort(backend)
	resolver := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS here")
	}}
	eng, err := engine.New(engine.Options{Loops: 1, Resolver: resolver})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	c, err := eng.Dial(context.Background(), "ws://env.wsfleet.test/echo", nil)
	if err != nil {
		t.Fatalf("ws:// through HTTP_PROXY: %v", err)
	}
	echoOver(t, c, []int{7})
	c.Close()
	// wss:// takes ALL_PROXY; the reference server does not speak TLS, so the dial fails
	// after the tunnel, in the TLS handshake (which it leaves unanswered: a timeout).
	_, err = eng.Dial(context.Background(), "wss://env.wsfleet.test/echo", &engine.DialOptions{ConnectTimeout: time.Second})
	if !errors.Is(err, engine.ErrTLS) {
		t.Errorf("wss:// through ALL_PROXY: %v, want a TLS failure past the proxy", err)
	}
	// NO_PROXY: dialed directly, so the name must resolve here, and does not.
	_, err = eng.Dial(context.Background(), "ws://direct.wsfleet.test:"+port+"/echo", nil)
	var de *net.DNSError
	if !errors.As(err, &de) || errors.Is(err, engine.ErrProxy) {
		t.Errorf("NO_PROXY name: %v, want a direct dial's DNS error", err)
	}
}

// TestProxyConnectHeader checks the CONNECT request's fields: Basic credentials from the
// proxy URL, ProxyConnectHeader's fields, and a Proxy-Authorization there replacing the URL's.
func TestProxyConnectHeader(t *testing.T) {
	ws := refServer(t, testserver.Options{Loops: 1}) + "/echo"
	got := make(chan *http.Request, 4)
	pu := withUser(testkit.ConnectProxy(t, testkit.Established, got, ""), "alice", "s3cret")
	eng := newEngine(t)
	h := http.Header{"X-Fleet": {"eu-1"}}
	c, err := eng.Dial(context.Background(), ws, &engine.DialOptions{Proxy: engine.ProxyURL(pu), ProxyConnectHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	echoOver(t, c, []int{3})
	c.Close()
	hdr := (<-got).Header
	if hdr.Get("Proxy-Authorization") != "Basic YWxpY2U6czNjcmV0" || hdr.Get("X-Fleet") != "eu-1" {
		t.Errorf("CONNECT header %v", hdr)
	}
	h = http.Header{"Proxy-Authorization": {"Bearer t0ken"}}
	c, err = eng.Dial(context.Background(), ws, &engine.DialOptions{Proxy: engine.ProxyURL(pu), ProxyConnectHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if hdr := (<-got).Header; hdr.Get("Proxy-Authorization") != "Bearer t0ken" {
		t.Errorf("CONNECT header %v", hdr)
	}
	_, err = eng.Dial(context.Background(), ws, &engine.DialOptions{Proxy: engine.ProxyURL(pu), ProxyConnectHeader: http.Header{"Bad Name": {"x"}}})
	if err == nil || !strings.Contains(err.Error(), `"Bad Name" is not allowed`) {
		t.Errorf("bad header name: %v", err)
	}
	_, err = eng.NewDialer(&engine.DialOptions{Proxy: engine.ProxyURL(pu), ProxyConnectHeader: http.Header{"X-Fleet": {"a\r\nInjected: 1"}}})
	if err == nil || !strings.Contains(err.Error(), "invalid value") {
		t.Errorf("header value with CRLF: %v", err)
	}

	// A proxy that sends more than its answer before the target said anything.
	chatty := testkit.ConnectProxy(t, "HTTP/1.1 200 OK\r\n\r\nsurprise", got, "")
	_, err = eng.Dial(context.Background(), ws, &engine.DialOptions{Proxy: engine.ProxyURL(mustURL(t, chatty))})
	var pe *engine.ProxyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "8 bytes after") {
		t.Errorf("bytes after the answer: %v", err)
	}
}

// TestProxyThousandConnections echoes through one tinyproxy over 1,000 connections at once
// and accounts for every message.
func TestProxyThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	const conns, msgs = 1000, 10
	ws := refServer(t, testserver.Options{Loops: 1}) + "/echo"
	pu := mustURL(t, tinyproxy(t))
	eng := newEngine(t)
	o := &engine.DialOptions{Proxy: engine.ProxyURL(pu), ConnectTimeout: 60 * time.Second}
	var sent, echoed atomic.Int64
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := eng.Dial(context.Background(), ws, o)
			if err != nil {
				errs <- fmt.Errorf("conn %d: dial: %w", i, err)
				return
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for j := range msgs {
				want := fmt.Sprintf("conn %d message %d", i, j)
				if err := c.Send(engine.Text, []byte(want)); err != nil {
					errs <- fmt.Errorf("conn %d: send %d: %w", i, j, err)
					return
				}
				sent.Add(1)
				m, err := c.Recv(ctx)
				if err != nil {
					errs <- fmt.Errorf("conn %d: recv %d: %w", i, j, err)
					return
				}
				if string(m.Data) != want {
					errs <- fmt.Errorf("conn %d: got %q, want %q", i, m.Data, want)
				}
				m.Release()
				echoed.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if sent.Load() != conns*msgs || echoed.Load() != conns*msgs {
		t.Fatalf("sent %d, echoed %d of %d (%d errors)", sent.Load(), echoed.Load(), conns*msgs, n)
	}
}

// BenchmarkIdleThroughProxy measures the heap an open, idle connection keeps when dialed
// directly, through an http:// proxy (tinyproxy) and through an https:// one (tinyproxy
// behind a TLS front), over ws:// and wss://. Every server and TLS front runs in its own
// process, so the heap counted is the client's. The proxy leg runs before the socket joins a
// loop: only an https:// proxy, whose TLS session the connection keeps, should add anything.
func BenchmarkIdleThroughProxy(b *testing.B) {
	const conns = 500
	cert, roots := goodCert(b)
	tc := &tls.Config{RootCAs: roots}
	base := externalServer(b)
	ws := base + "/echo"
	wss := "wss://" + externalTLSFront(b, cert, mustURL(b, base).Host) + "/echo"
	tp := mustURL(b, tinyproxy(b))
	tps := mustURL(b, "https://"+externalTLSFront(b, cert, tp.Host))
	for _, target := range []struct{ name, url string }{{"ws", ws}, {"wss", wss}} {
		for _, via := range []struct {
			name  string
			proxy *url.URL
		}{{"direct", nil}, {"http-proxy", tp}, {"https-proxy", tps}} {
			b.Run(target.name+"/"+via.name, func(b *testing.B) {
				proxy := engine.NoProxy
				if via.proxy != nil {
					proxy = engine.ProxyURL(via.proxy)
				}
				for range b.N {
					eng, err := engine.New(engine.Options{Loops: 1})
					if err != nil {
						b.Fatal(err)
					}
					d, err := eng.NewDialer(&engine.DialOptions{Proxy: proxy, TLSConfig: tc})
					if err != nil {
						b.Fatal(err)
					}
					before := liveHeap()
					open := make([]*engine.Conn, 0, conns)
					for range conns {
						c, err := d.Dial(context.Background(), target.url, nil)
						if err != nil {
							b.Fatal(err)
						}
						open = append(open, c)
					}
					after := liveHeap()
					b.ReportMetric(float64(after-before)/conns, "heap-B/conn")
					for _, c := range open {
						c.CloseNow()
					}
					eng.Close()
				}
			})
		}
	}
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// externalTLSFront runs testkit.TLSFront in a copy of this test binary (TestHelperTLSFront), so that
// its memory is not the test's; it returns its address.
func externalTLSFront(t testing.TB, cert tls.Certificate, backend string) string {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certPEM, cert.Certificate[0], "CERTIFICATE")
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyPEM, der, "PRIVATE KEY")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(testkit.StartLineServer(t, self, "-test.run=^TestHelperTLSFront$", "--", "tlsfront", backend, certPEM, keyPEM), "tls://")
}

func writePEM(t testing.TB, path string, der []byte, kind string) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHelperTLSFront is externalTLSFront's process: with the arguments tlsfront BACKEND CERT
// KEY it runs a TLS front until its standard input closes; otherwise it does nothing.
func TestHelperTLSFront(t *testing.T) {
	args := flag.Args()
	if len(args) != 4 || args[0] != "tlsfront" {
		return
	}
	cert, err := tls.LoadX509KeyPair(args[2], args[3])
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.TLSFront(t, cert, args[1])
	fmt.Printf("LISTENING tls://%s\n", addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// BenchmarkDialThroughProxy times one dial at a time (to open, then CloseNow) of ws:// and
// wss:// targets directly, through a Go CONNECT proxy (testkit.ConnectProxy, whose sockets have
// TCP_NODELAY as Go's do), tinyproxy and microsocks. The difference between the Go proxy and
// the two C ones is theirs: without TCP_NODELAY, the TLS handshake's small records wait for
// delayed ACKs as they go through.
func BenchmarkDialThroughProxy(b *testing.B) {
	cert, roots := goodCert(b)
	tc := &tls.Config{RootCAs: roots}
	base := externalServer(b)
	wss := "wss://" + externalTLSFront(b, cert, mustURL(b, base).Host) + "/echo"
	goProxy := testkit.ConnectProxy(b, testkit.Established, nil, "")
	for _, target := range []struct{ name, url string }{{"ws", base + "/echo"}, {"wss", wss}} {
		for _, via := range []struct{ name, proxy string }{
			{"direct", ""}, {"go-connect", goProxy}, {"tinyproxy", tinyproxy(b)}, {"microsocks", microsocks(b, "", "")},
		} {
			b.Run(target.name+"/"+via.name, func(b *testing.B) {
				eng := newEngine(b)
				o := &engine.DialOptions{Proxy: engine.NoProxy, TLSConfig: tc}
				if via.proxy != "" {
					o.Proxy = engine.ProxyURL(mustURL(b, via.proxy))
				}
				d, err := eng.NewDialer(o)
				if err != nil {
					b.Fatal(err)
				}
				for range b.N {
					c, err := d.Dial(context.Background(), target.url, nil)
					if err != nil {
						b.Fatal(err)
					}
					c.CloseNow()
				}
			})
		}
	}
}
