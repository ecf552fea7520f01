package bench

// Memory per connection with permessage-deflate negotiated, against bench/cmd/tlsecho
// -plain -deflate (gws, which grants whatever context takeover the client asks for).
// Each of WSF_DEFLATE_CONNS (default 1,000) connections sends WSF_DEFLATE_MSGS (default 40)
// compressible 1 KiB messages one after another and receives their echoes, so that with
// context takeover both 32 KiB windows have filled; then B/conn-heap and B/conn-rss as in
// BenchmarkIdle. mode=takeover keeps context both ways (RFC 7692's default);
// mode=nocontext asks for client_ and server_no_context_takeover. A library that cannot
// negotiate a mode through its public API is skipped with the reason.

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// deflateMsg is a JSON-like 1 KiB message that compresses about 4:1.
func deflateMsg(seed int) []byte {
	b := make([]byte, 0, 1100)
	for i := 0; len(b) < 1024; i++ {
		b = fmt.Appendf(b, `{"id":%d,"user":"user-%d","price":%d.%02d,"tags":["a","b"]},`, seed*131+i, (seed*7+i*13)%997, (i*37)%1000, i%100)
	}
	return b[:1024]
}

func BenchmarkCompress(b *testing.B) {
	url := deflateServer(b) + "/echo"
	n := envInt("WSF_DEFLATE_CONNS", 1000)
	msgs := envInt("WSF_DEFLATE_MSGS", 40)
	for _, p := range peers {
		for _, mode := range []deflateMode{deflateTakeover, deflateNoContext} {
			b.Run(fmt.Sprintf("lib=%s/mode=%s/conns=%d", p.name, mode, n), func(b *testing.B) {
				compressRun(b, p, url, mode, n, msgs)
			})
		}
	}
}

func compressRun(b *testing.B, p peer, url string, mode deflateMode, n, msgs int) {
	got := make([]chan struct{}, n)
	opts := make([]*dialOpts, n)
	for i := range opts {
		ch := make(chan struct{}, 1)
		got[i] = ch
		opts[i] = &dialOpts{deflate: mode, onMsg: func([]byte) { ch <- struct{}{} }}
	}
	idleRun(b, p, url, n, func(i int) *dialOpts { return opts[i] }, func(cl client, conns []wsConn) {
		if !cl.compressed(conns[0]) {
			b.Skipf("%s: the server did not enable permessage-deflate for mode=%s", p.name, mode)
		}
		var wg sync.WaitGroup
		var failed sync.Once
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < len(conns); i += 64 {
					for k := 0; k < msgs; k++ {
						if err := conns[i].send(deflateMsg(i + k)); err != nil {
							failed.Do(func() { b.Errorf("send: %v", err) })
							return
						}
						select {
						case <-got[i]:
						case <-time.After(30 * time.Second):
							failed.Do(func() { b.Errorf("conn %d: no echo after 30s", i) })
							return
						}
					}
				}
			}(w)
		}
		wg.Wait()
	})
}
