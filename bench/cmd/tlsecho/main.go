// Command tlsecho is the peer benchmarks' second server: a WebSocket echo server on
// lxzan/gws behind Go's crypto/tls, for the wss benchmarks (wsfleet's reference server
// speaks plain ws only), and, with -plain -deflate, a plain server that negotiates
// permessage-deflate with context takeover for the compression benchmarks. /push pushes
// stamped messages as the reference server's /push does (push.go).
//
// It makes a self-signed ECDSA certificate for 127.0.0.1 and localhost at start, writes
// it (PEM) to -cert-out for clients to trust, prints "LISTENING wss://host:port" (or ws://)
// on standard output, and echoes every message on every path. With -stdin-eof-exit it
// exits when its standard input ends, so that a benchmark's server dies with it.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lxzan/gws"
)

type echo struct{ gws.BuiltinEventHandler }

func (echo) OnMessage(c *gws.Conn, m *gws.Message) {
	_ = c.WriteMessage(m.Opcode, m.Bytes())
	_ = m.Close()
}

func (echo) OnClose(c *gws.Conn, _ error) { leave(c) }

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	plain := flag.Bool("plain", false, "serve ws:// instead of wss://")
	deflate := flag.Bool("deflate", false, "negotiate permessage-deflate (context takeover when the client allows it)")
	certOut := flag.String("cert-out", "", "write the self-signed certificate (PEM) here")
	stdinEOF := flag.Bool("stdin-eof-exit", false, "exit when standard input reaches EOF")
	flag.Parse()

	opt := &gws.ServerOption{}
	if *deflate {
		opt.PermessageDeflate = gws.PermessageDeflate{
			Enabled:               true,
			ServerContextTakeover: true,
			ClientContextTakeover: true,
			// 32 KiB windows both ways (gws's own default is 4 KiB with context takeover,
			// and an answer with client_max_window_bits=12 is refused by coder).
			ServerMaxWindowBits: 15,
			ClientMaxWindowBits: 15,
		}
	}
	up := gws.NewUpgrader(echo{}, opt)
	var push pushers
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isPush := r.URL.Path == "/push"
		var k pushKey
		if isPush {
			var err error
			if k, err = parsePush(r.URL.Query()); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		if isPush {
			push.join(k, c)
		}
		go c.ReadLoop()
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsecho:", err)
		os.Exit(1)
	}
	scheme := "ws"
	if !*plain {
		cert, pemBytes, err := selfSigned()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tlsecho:", err)
			os.Exit(1)
		}
		if *certOut != "" {
			if err := os.WriteFile(*certOut, pemBytes, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "tlsecho:", err)
				os.Exit(1)
			}
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
		scheme = "wss"
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: nil}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			fmt.Fprintln(os.Stderr, "tlsecho:", err)
			os.Exit(1)
		}
	}()
	fmt.Printf("LISTENING %s://%s\n", scheme, ln.Addr())
	if *stdinEOF {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	select {}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for a day.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "wsfleet bench tlsecho"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemBytes, nil
}
