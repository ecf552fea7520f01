package engine_test

import (
	"crypto/tls"
	"testing"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// The TLS hot paths, against Node's ws over TLS in its own process: 0 allocs/op amortised
// beyond what crypto/tls itself does (it allocates nothing per record in steady state here).

func tlsPeer(b *testing.B) (string, *tls.Config) {
	certFile, keyFile, roots := testkit.SelfSignedFiles(b)
	return startPeer(b, "node", "--tls", certFile, keyFile), &tls.Config{RootCAs: roots}
}

func BenchmarkTLSHandlerEcho(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			base, conf := tlsPeer(b)
			benchHandlerEcho(b, base+"/echo", &engine.DialOptions{TLSConfig: conf}, size)
		})
	}
}

func BenchmarkTLSPassiveRecv(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			base, conf := tlsPeer(b)
			benchPassiveRecv(b, base+"/echo", &engine.DialOptions{TLSConfig: conf}, size)
		})
	}
}
