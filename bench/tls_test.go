package bench

// The same measurements over wss://: bench/cmd/tlsecho (gws behind crypto/tls, its own
// process, a self-signed ECDSA P-256 certificate that the clients trust) echoes on every path.
// TLS 1.3 with Go's defaults on both sides; no session resumption (each dial is a full handshake).

import (
	"crypto/tls"
	"fmt"
	"testing"
)

// tlsOpts starts the wss server and returns its base URL and the options that trust it.
func tlsOpts(b *testing.B) (string, *dialOpts) {
	url, pool := tlsServer(b)
	return url, &dialOpts{tls: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
}

// BenchmarkTLSIdle/lib=X/conns=N: B/conn-heap, B/conn-rss at WSF_TLS_IDLE_CONNS (default 10,000).
func BenchmarkTLSIdle(b *testing.B) {
	base, o := tlsOpts(b)
	url := base + "/echo"
	n := envInt("WSF_TLS_IDLE_CONNS", 10000)
	for _, p := range peers {
		b.Run(fmt.Sprintf("lib=%s/conns=%d", p.name, n), func(b *testing.B) {
			idleRun(b, p, url, n, func(int) *dialOpts { return o }, nil)
		})
	}
}

// BenchmarkTLSHandshake/lib=X/dialers=N: TCP + TLS + upgrade, then close.
func BenchmarkTLSHandshake(b *testing.B) {
	base, o := tlsOpts(b)
	url := base + "/echo"
	for _, p := range peers {
		for _, dialers := range []int{1, 64} {
			b.Run(fmt.Sprintf("lib=%s/dialers=%d", p.name, dialers), func(b *testing.B) {
				handshakeRun(b, p, url, o, dialers)
			})
		}
	}
}

// BenchmarkTLSEcho/lib=X/conns=N/size=S: round trips over wss.
func BenchmarkTLSEcho(b *testing.B) {
	base, o := tlsOpts(b)
	url := base + "/echo"
	for _, p := range peers {
		b.Run("lib="+p.name, func(b *testing.B) {
			for _, s := range echoShapes {
				echoBench(b, p, url, o, s.conns, s.size)
			}
		})
	}
}

// BenchmarkTLSPush/lib=X/conns=N: push fan-out over wss, measured as BenchmarkPush; the
// server is tlsecho's /push. WSF_TLS_PUSH_CONNS (default 10,000) connections,
// WSF_TLS_PUSH_INTERVAL_MS (default 1,000: the server encrypts every message, and at 100 ms
// it would need most of this 2-core machine for itself), WSF_PUSH_SIZE bytes.
func BenchmarkTLSPush(b *testing.B) {
	base, o := tlsOpts(b)
	n := envInt("WSF_TLS_PUSH_CONNS", 10000)
	interval := envInt("WSF_TLS_PUSH_INTERVAL_MS", 1000)
	size := envInt("WSF_PUSH_SIZE", 64)
	push := fmt.Sprintf("%s/push?interval=%dms&size=%d", base, interval, size)
	for _, p := range peers {
		b.Run("lib="+p.name, func(b *testing.B) { pushBench(b, p, push, o, n) })
	}
}
