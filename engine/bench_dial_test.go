package engine_test

import (
	"context"
	"testing"

	"github.com/wsfleet/wsfleet/engine"
)

// BenchmarkHandshake: one dial per op (TCP connect and upgrade) as a fleet dials, through
// one Dialer, against the reference server in its own process; each connection is dropped
// at once (CloseNow). Run it with a fixed -benchtime (e.g. 2000x): every op leaves a
// socket in TIME_WAIT.
func BenchmarkHandshake(b *testing.B) {
	eng := newEngine(b)
	url := externalServer(b) + "/echo"
	d, err := eng.NewDialer(&engine.DialOptions{Handler: discardHandler{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := d.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.CloseNow()
	}
}
