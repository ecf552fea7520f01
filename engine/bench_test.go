package engine_test

import (
	"context"
	"testing"

	"github.com/wsfleet/wsfleet/engine"
)

// The hot paths of ARCHITECTURE.md, against the reference server in its own process so that
// only the client's allocations are counted. Each must report 0 allocs/op (amortised).

type pingPongHandler struct {
	payload []byte
	left    int
	done    chan struct{}
}

func (h *pingPongHandler) OnOpen(*engine.Conn) {}
func (h *pingPongHandler) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	h.left--
	if h.left <= 0 {
		h.done <- struct{}{}
		return
	}
	_ = c.Send(engine.Binary, h.payload) // the reply goes out from the callback, batched
}
func (h *pingPongHandler) OnClose(*engine.Conn, error) {}

// BenchmarkHandlerEcho: one round trip per op through the Handler path.
func BenchmarkHandlerEcho(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			benchHandlerEcho(b, externalServer(b)+"/echo", &engine.DialOptions{}, size)
		})
	}
}

// benchHandlerEcho runs b.N round trips of size bytes, each reply sent from OnMessage.
func benchHandlerEcho(b *testing.B, url string, opts *engine.DialOptions, size int) {
	eng := newEngine(b)
	h := &pingPongHandler{payload: make([]byte, size), done: make(chan struct{}, 1)}
	opts.Handler = h
	c, err := eng.Dial(context.Background(), url, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// Warm the pools, then measure.
	h.left = 200
	c.Send(engine.Binary, h.payload)
	<-h.done
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	h.left = b.N
	c.Send(engine.Binary, h.payload)
	<-h.done
}

// BenchmarkSend: Send from a user goroutine (masked copy into the pending buffer, batched flushes).
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			eng := newEngine(b)
			url := externalServer(b)
			c, err := eng.Dial(context.Background(), url+"/echo", &engine.DialOptions{Handler: discardHandler{}})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			p := make([]byte, size)
			for i := 0; i < 1000; i++ {
				c.SendContext(context.Background(), engine.Binary, p)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.SendContext(context.Background(), engine.Binary, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discardHandler struct{}

func (discardHandler) OnOpen(*engine.Conn)                                {}
func (discardHandler) OnMessage(*engine.Conn, engine.MessageType, []byte) {}
func (discardHandler) OnClose(*engine.Conn, error)                        {}

// BenchmarkPassiveRecv: Send, then Recv + Release of the echo, on the passive facade.
func BenchmarkPassiveRecv(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			benchPassiveRecv(b, externalServer(b)+"/echo", &engine.DialOptions{}, size)
		})
	}
}

// benchPassiveRecv runs b.N passive round trips of size bytes: Send, Recv, Release.
func benchPassiveRecv(b *testing.B, url string, opts *engine.DialOptions, size int) {
	eng := newEngine(b)
	c, err := eng.Dial(context.Background(), url, opts)
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
}

func sizeName(n int) string {
	if n >= 1024 {
		return "size=" + itoa(n/1024) + "KiB"
	}
	return "size=" + itoa(n) + "B"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
