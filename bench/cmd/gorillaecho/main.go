// Command gorillaecho is the minimal gorilla/websocket client loop that docs/benchmarks.md
// ("Load testing": client CPU per echoed message vs k6) sets beside wsbench and k6: N goroutines, each holding
// one connection and echoing a fixed-size text message in a closed loop (send, wait for the
// echo, send again) for a duration. It prints how many echoes it received and, from
// getrusage, its own CPU time and max RSS, so that the cost per message can be compared with
// the other clients' under the same load.
//
//	go run ./cmd/gorillaecho -c 200 -d 20s -size 128 ws://127.0.0.1:18400/echo
//
// It is deliberately the loop a person would write first — one goroutine per connection,
// WriteMessage then ReadMessage — with no latency bookkeeping, so it is a floor for what a
// goroutine-per-connection client costs, not a load tester.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	conns := flag.Int("c", 200, "connections, one goroutine each")
	dur := flag.Duration("d", 20*time.Second, "how long to echo, once every connection is open")
	size := flag.Int("size", 128, "message size in bytes (text)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gorillaecho [-c N] [-d D] [-size B] ws://127.0.0.1:PORT/echo")
		os.Exit(2)
	}
	url := flag.Arg(0)
	msg := make([]byte, *size)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}

	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws := make([]*websocket.Conn, *conns)
	t0 := time.Now()
	var wg sync.WaitGroup
	var dialErr atomic.Int64
	sem := make(chan struct{}, 64) // at most 64 dials in flight
	for i := range ws {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, _, err := d.Dial(url, nil)
			if err != nil {
				if dialErr.Add(1) == 1 {
					fmt.Fprintln(os.Stderr, "gorillaecho: dial:", err)
				}
				return
			}
			ws[i] = c
		}()
	}
	wg.Wait()
	opened := int64(len(ws)) - dialErr.Load()
	connectTime := time.Since(t0)

	var stop atomic.Bool
	var received, errs atomic.Int64
	start := time.Now()
	for _, c := range ws {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func(c *websocket.Conn) {
			defer wg.Done()
			var n int64
			for !stop.Load() {
				if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
					errs.Add(1)
					break
				}
				if _, _, err := c.ReadMessage(); err != nil {
					errs.Add(1)
					break
				}
				n++
			}
			received.Add(n)
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = c.Close()
		}(c)
	}
	time.Sleep(*dur)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)

	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	user := time.Duration(ru.Utime.Nano())
	sys := time.Duration(ru.Stime.Nano())
	n := received.Load()
	fmt.Printf("gorillaecho: %d of %d connections opened in %s, %d errors\n", opened, *conns, connectTime.Round(time.Millisecond), errs.Load())
	fmt.Printf("gorillaecho: echoes %d in %.1f s (%.0f/s), %d-byte text messages\n", n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), *size)
	fmt.Printf("gorillaecho: cpu user %.2fs sys %.2fs, max rss %d KiB\n", user.Seconds(), sys.Seconds(), ru.Maxrss)
	if n > 0 {
		fmt.Printf("gorillaecho: %.2f cpu-seconds per million echoes\n", (user+sys).Seconds()/float64(n)*1e6)
	}
}
