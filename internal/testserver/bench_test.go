package testserver

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkEcho measures the server's echo throughput over real loopback sockets.
// Each connection writes a burst of `burst` masked frames in one Write and reads the
// exact echo bytes back, so the client side allocates nothing and the reported
// allocs/msg (runtime Mallocs delta over the run divided by messages) is the server's.
// The client shares the machine, so msgs/s is a floor for the server alone.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{16, 128, 1 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchEcho(b, size, 8, 64) })
	}
}

func benchEcho(b *testing.B, size, conns, burst int) {
	s := startServer(b, Options{})
	clients := make([]*testClient, conns)
	for i := range clients {
		c := dial(b, s, "/echo")
		c.fast = true
		c.key = [4]byte{1, 2, 3, byte(i)}
		_ = c.conn.SetDeadline(time.Time{})
		clients[i] = c
	}
	payload := binaryOfSize(size)
	var out []byte
	for range burst {
		out = clients[0].appendFrame(out, true, opBinary, payload)
	}
	echoFrame := append(appendServerHeader(nil, size), payload...)
	want := bytes.Repeat(echoFrame, burst)

	// One warm-up round per connection: the server's buffers reach their size, and
	// the echo is checked byte for byte once.
	for _, c := range clients {
		got := make([]byte, len(want))
		c.writeRaw(out)
		if _, err := io.ReadFull(c.br, got); err != nil || !bytes.Equal(got, want) {
			b.Fatalf("warm-up echo wrong (err %v)", err)
		}
	}

	rounds := (b.N + burst - 1) / burst
	perConn := (rounds + conns - 1) / conns
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for _, c := range clients {
		wg.Add(1)
		go func(c *testClient) {
			defer wg.Done()
			got := make([]byte, len(want))
			for range perConn {
				if _, err := c.conn.Write(out); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c.br, got); err != nil {
					errs <- err
					return
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	msgs := float64(perConn * conns * burst)
	b.ReportMetric(msgs/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/msgs, "allocs/msg")
	b.ReportMetric(0, "ns/op") // per-message time is 1/(msgs/s); ns/op mixes in the burst rounding
}

// appendServerHeader is the unmasked header the server's echo of a final binary frame carries.
func appendServerHeader(dst []byte, n int) []byte {
	switch {
	case n <= 125:
		return append(dst, 0x82, byte(n))
	case n <= 0xffff:
		return append(dst, 0x82, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x82, 127)
		for i := 7; i >= 0; i-- {
			dst = append(dst, byte(uint64(n)>>(8*i)))
		}
		return dst
	}
}
