package bench

// Compress + decompress throughput: echo round trips with permessage-deflate negotiated
// against bench/cmd/tlsecho -plain -deflate (gws in its own process). Every round trip
// compresses one JSON-like message on the client's send path and inflates its echo on the
// receive path, so the client's CPU and allocations per message are what one compression
// plus one decompression cost a library through its public API (plus the socket I/O, which
// mode=off shows alone). Sizes 128 B, 4 KiB and 64 KiB; each connection cycles through 64
// different messages, so context takeover cannot turn the stream into back-references to
// one repeated message.

import (
	"fmt"
	"testing"
)

var compressEchoSizes = []int{128, 4096, 65536}

// compressEchoConns keeps enough round trips in flight that the client, not the loopback
// latency, is what is measured.
const compressEchoConns = 50

// jsonPayloads returns n different JSON-like messages of exactly size bytes (about 4:1
// compressible, like market-data or chat traffic).
func jsonPayloads(n, size int) [][]byte {
	out := make([][]byte, n)
	for k := range out {
		b := make([]byte, 0, size+128)
		for i := 0; len(b) < size; i++ {
			b = fmt.Appendf(b, `{"seq":%d,"sym":"SYM%03d","bid":%d.%02d,"ask":%d.%02d,"qty":%d,"side":"%s"},`,
				k*100003+i, (k*7+i*13)%997, 100+(i*37+k)%900, i%100, 101+(i*41+k)%900, i%100, (i*3)%100, [2]string{"buy", "sell"}[(i+k)%2])
		}
		out[k] = b[:size]
	}
	return out
}

// BenchmarkCompressEcho/lib=X/mode=M/size=S: M is off (no extension offered), takeover
// (context kept both ways) or nocontext (client_ and server_no_context_takeover).
func BenchmarkCompressEcho(b *testing.B) {
	url := deflateServer(b) + "/echo"
	for _, p := range peers {
		for _, mode := range []deflateMode{deflateOff, deflateTakeover, deflateNoContext} {
			b.Run(fmt.Sprintf("lib=%s/mode=%s", p.name, mode), func(b *testing.B) {
				for _, size := range compressEchoSizes {
					compressEchoBench(b, p, url, mode, size)
				}
			})
		}
	}
}

func compressEchoBench(b *testing.B, p peer, url string, mode deflateMode, size int) {
	o := &dialOpts{deflate: mode}
	if mode != deflateOff {
		// Ask once, on a probe connection, whether this library negotiates the mode.
		cl := p.open(b)
		c, err := cl.dial(b.Context(), url, &dialOpts{deflate: mode})
		if err != nil {
			cl.shutdown()
			b.Fatalf("%s: %v", p.name, err)
		}
		ok := cl.compressed(c)
		_ = c.close()
		cl.shutdown()
		if !ok {
			b.Skipf("%s: permessage-deflate mode=%s not negotiated through the public API", p.name, mode)
		}
	}
	echoBenchPayloads(b, p, url, o, compressEchoConns, jsonPayloads(64, size))
}
