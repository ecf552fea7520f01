package testkit

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// Cert makes a certificate authority and a server (and client) certificate it signs for the
// given IPs and names, valid from notBefore to notAfter. It returns the certificate, a pool
// holding the authority, and the authority in PEM (for a -cacert file).
func Cert(t testing.TB, ips []net.IP, names []string, notBefore, notAfter time.Time) (tls.Certificate, *x509.CertPool, []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wsfleet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "wsfleet test server"},
		NotBefore: notBefore, NotAfter: notAfter, IPAddresses: ips, DNSNames: names,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots, caPEM
}

// TLSFront accepts TLS with cert on a free loopback port and copies each connection's
// plaintext to and from backend (host:port), as a TLS-terminating proxy does; it returns its
// address. Everything stops in t.Cleanup.
func TLSFront(t testing.TB, cert tls.Certificate, backend string) string {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	url := RawServer(t, func(c net.Conn, _ *bufio.Reader) {
		b, err := net.Dial("tcp", backend)
		if err != nil {
			return
		}
		defer b.Close()
		tc := tls.Server(c, conf)
		go func() { _, _ = io.Copy(b, tc); b.Close() }()
		_, _ = io.Copy(tc, b)
	})
	return strings.TrimPrefix(url, "ws://")
}
