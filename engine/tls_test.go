package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// testCert makes a certificate authority and a server certificate for the given IPs and
// names, valid from notBefore to notAfter (testkit.Cert, without the PEM).
func testCert(t testing.TB, ips []net.IP, names []string, notBefore, notAfter time.Time) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, roots, _ := testkit.Cert(t, ips, names, notBefore, notAfter)
	return cert, roots
}

func goodCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	return testCert(t, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// tlsEchoServer is a Go crypto/tls server that upgrades and echoes every data message,
// answers pings and echoes the close frame.
func tlsEchoServer(t testing.TB, cert tls.Certificate, cfg func(*tls.Config)) string {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	if cfg != nil {
		cfg(conf)
	}
	url := testkit.RawServer(t, func(c net.Conn, _ *bufio.Reader) {
		tc := tls.Server(c, conf)
		if err := tc.Handshake(); err != nil {
			return
		}
		br := bufio.NewReader(tc)
		if _, err := testkit.Upgrade(tc, br, ""); err != nil {
			return
		}
		echoFrames(tc, br)
	})
	return strings.Replace(url, "ws://", "wss://", 1)
}

// echoFrames echoes a client's frames until it closes.
func echoFrames(c net.Conn, br *bufio.Reader) {
	var msg []byte
	var op byte
	for {
		f, err := testkit.ReadClientFrame(br, c, 30*time.Second)
		if err != nil {
			return
		}
		switch f.Op {
		case 0x8:
			c.Write(testkit.ServerFrame(0x88, f.Payload))
			return
		case 0x9:
			c.Write(testkit.ServerFrame(0x8A, f.Payload))
			continue
		case 0xA:
			continue
		case 0x1, 0x2:
			op, msg = f.Op, append(msg[:0], f.Payload...)
		case 0x0:
			msg = append(msg, f.Payload...)
		}
		if f.Fin {
			if _, err := c.Write(testkit.ServerFrame(0x80|op, msg)); err != nil {
				return
			}
		}
	}
}

func echoOver(t *testing.T, c *engine.Conn, sizes []int) {
	t.Helper()
	for _, typ := range []engine.MessageType{engine.Text, engine.Binary} {
		for _, n := range sizes {
			p := testkit.Payload(n, typ == engine.Text)
			if err := c.Send(typ, p); err != nil {
				t.Fatal(err)
			}
			m, err := c.Recv(context.Background())
			if err != nil {
				t.Fatalf("%v %d: %v", typ, n, err)
			}
			if m.Type != typ || !bytes.Equal(m.Data, p) {
				t.Fatalf("%v %d: echo differs (%d bytes back)", typ, n, len(m.Data))
			}
			m.Release()
		}
	}
}

func TestTLSEchoGoServer(t *testing.T) {
	checkNoLeaks(t)
	eng := newEngine(t)
	cert, roots := goodCert(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		url := tlsEchoServer(t, cert, func(c *tls.Config) { c.MinVersion, c.MaxVersion = version, version })
		c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{TLSConfig: &tls.Config{RootCAs: roots}})
		if err != nil {
			t.Fatal(err)
		}
		echoOver(t, c, echoSizes)
		if err := c.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
}

// Mutual TLS: the server demands a client certificate.
func TestTLSClientCertificate(t *testing.T) {
	eng := newEngine(t)
	cert, roots := goodCert(t)
	clientCert, clientRoots := testCert(t, nil, []string{"client"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	url := tlsEchoServer(t, cert, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = clientRoots
	})
	c, err := eng.Dial(context.Background(), url+"/", &engine.DialOptions{TLSConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}}})
	if err != nil {
		t.Fatal(err)
	}
	echoOver(t, c, []int{5})
	c.Close()
	// Without one, the server refuses: TLS 1.3 reports it on the first read, so either Dial or
	// the first Recv fails with a TLS error.
	c, err = eng.Dial(context.Background(), url+"/", &engine.DialOptions{TLSConfig: &tls.Config{RootCAs: roots}})
	if err == nil {
		_, err = c.Recv(context.Background())
	}
	if !errors.Is(err, engine.ErrTLS) {
		t.Fatalf("without a client certificate: %v", err)
	}
}

func TestTLSPeers(t *testing.T) {
	eng := newEngine(t)
	certFile, keyFile, roots := testkit.SelfSignedFiles(t)
	for _, kind := range peerKinds {
		t.Run(kind, func(t *testing.T) {
			base := startPeer(t, kind, "--tls", certFile, keyFile)
			opts := &engine.DialOptions{TLSConfig: &tls.Config{RootCAs: roots}, DeliverControl: true}
			c, err := eng.Dial(context.Background(), base+"/echo", opts)
			if err != nil {
				t.Fatal(err)
			}
			sizes := echoSizes
			if testing.Short() {
				sizes = sizes[:6]
			}
			echoOver(t, c, sizes)
			c.Close()
			// Server-initiated close.
			c, err = eng.Dial(context.Background(), base+"/close?code=4001&reason=bye", opts)
			if err != nil {
				t.Fatal(err)
			}
			var ce *engine.CloseError
			if _, err := c.Recv(context.Background()); !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" {
				t.Fatalf("server close over TLS: %v", err)
			}
			// Ping from the server: answered, delivered (DeliverControl), then pong:hello.
			c, err = eng.Dial(context.Background(), base+"/ping?data=hello", opts)
			if err != nil {
				t.Fatal(err)
			}
			m, err := c.Recv(context.Background())
			if err != nil || m.Type != engine.Ping || string(m.Data) != "hello" {
				t.Fatalf("ping: %v %q %v", m.Type, m.Data, err)
			}
			m, err = c.Recv(context.Background())
			if err != nil || string(m.Data) != "pong:hello" {
				t.Fatalf("after pong: %q %v", m.Data, err)
			}
			c.Close()
		})
	}
}

// Every TLS failure gives a clear error naming it, within the connect timeout.
func TestTLSFailures(t *testing.T) {
	eng := newEngine(t)
	cert, roots := goodCert(t)
	good := tlsEchoServer(t, cert, nil)
	expired, expiredRoots := testCert(t, []net.IP{net.IPv4(127, 0, 0, 1)}, nil, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	expiredURL := tlsEchoServer(t, expired, nil)
	plain := strings.Replace(testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		io.Copy(io.Discard, br)
	}), "ws://", "wss://", 1)
	stall := strings.Replace(testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br) // reads the ClientHello, never answers
	}), "ws://", "wss://", 1)
	cases := []struct {
		name string
		url  string
		conf *tls.Config
		want string
	}{
		{"unknown authority", good, nil, "certificate signed by unknown authority"},
		{"wrong host name", good, &tls.Config{RootCAs: roots, ServerName: "ws.example.com"}, "ws.example.com"},
		{"expired certificate", expiredURL, &tls.Config{RootCAs: expiredRoots}, "expired"},
		{"plain TCP server on wss://", plain, &tls.Config{RootCAs: roots}, "does not look like a TLS handshake"},
		{"server stalls mid-handshake", stall, &tls.Config{RootCAs: roots}, "TLS handshake"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The stall needs the connect timeout to end it; the others fail on their own, and
			// a generous timeout keeps a slow handshake (-race on a busy machine) from turning
			// into a timeout instead of the error under test.
			timeout := 3 * time.Second
			if tc.name == "server stalls mid-handshake" {
				timeout = 500 * time.Millisecond
			}
			start := time.Now()
			_, err := eng.Dial(context.Background(), tc.url+"/", &engine.DialOptions{TLSConfig: tc.conf, ConnectTimeout: timeout})
			took := time.Since(start)
			if err == nil {
				t.Fatal("Dial succeeded")
			}
			if !errors.Is(err, engine.ErrTLS) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a TLS error naming %q", err, tc.want)
			}
			if took > timeout+300*time.Millisecond { // bounded by the connect timeout, plus scheduling slack
				t.Errorf("took %v (connect timeout %v)", took, timeout)
			}
			if tc.name == "server stalls mid-handshake" && !errors.Is(err, engine.ErrTimeout) {
				t.Errorf("stall: %v is not a timeout", err)
			}
		})
	}
}
