package engine_test

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/wsfleet/wsfleet/engine"
)

// The TLS hot paths, against Node's ws over TLS in its own process: 0 allocs/op amortised
// beyond what crypto/tls itself does (it allocates nothing per record in steady state here).

func tlsPeer(b *testing.B) (string, *tls.Config) {
	certFile, keyFile, roots := peerTLSCert(b)
	return startPeer(b, "node", "--tls", certFile, keyFile), &tls.Config{RootCAs: roots}
}

func BenchmarkTLSHandlerEcho(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			eng := newEngine(b)
			base, conf := tlsPeer(b)
			h := &pingPongHandler{payload: make([]byte, size), done: make(chan struct{}, 1)}
			c, err := eng.Dial(context.Background(), base+"/echo", &engine.DialOptions{Handler: h, TLSConfig: conf})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			h.left = 200
			c.Send(engine.Binary, h.payload)
			<-h.done
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			h.left = b.N
			c.Send(engine.Binary, h.payload)
			<-h.done
		})
	}
}

func BenchmarkTLSPassiveRecv(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			eng := newEngine(b)
			base, conf := tlsPeer(b)
			c, err := eng.Dial(context.Background(), base+"/echo", &engine.DialOptions{TLSConfig: conf})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			p := make([]byte, size)
			ctx := context.Background()
			roundTrip := func() {
				if err := c.Send(engine.Binary, p); err != nil {
					b.Fatal(err)
				}
				m, err := c.Recv(ctx)
				if err != nil {
					b.Fatal(err)
				}
				m.Release()
			}
			for i := 0; i < 200; i++ {
				roundTrip()
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				roundTrip()
			}
		})
	}
}
