package engine_test

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// deflateTestServer is a raw server that answers the upgrade with the given
// Sec-WebSocket-Extensions value ("" for none) and then runs script.
func deflateTestServer(t *testing.T, answer string, script func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	return testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		extra := ""
		if answer != "" {
			extra = "Sec-WebSocket-Extensions: " + answer + "\r\n"
		}
		if _, err := testkit.Upgrade(c, br, extra); err != nil {
			return
		}
		script(c, br)
	})
}

// serverDeflate compresses as a server with context takeover would, trimming the tail.
type serverDeflate struct{ d codec.Deflater }

func newServerDeflate(t testing.TB, noContext bool) *serverDeflate {
	s := new(serverDeflate)
	if err := s.d.Init(1, 15, noContext); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *serverDeflate) compress(msg []byte) []byte { return s.d.Deflate(nil, msg, nil) }

func dialCompressed(t *testing.T, eng *engine.Engine, url string, o *engine.DialOptions) (*engine.Conn, error) {
	t.Helper()
	if o == nil {
		o = &engine.DialOptions{}
	}
	if o.Compression == nil {
		o.Compression = &engine.Compression{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return eng.Dial(ctx, url+"/", o)
}

func TestCompressionHandshakeRefusals(t *testing.T) {
	eng := newEngine(t)
	cases := []struct {
		answer string
		opts   engine.Compression
		param  string
	}{
		{"permessage-deflate; foo=1", engine.Compression{}, "foo"},
		{"permessage-deflate; server_max_window_bits=16", engine.Compression{}, "server_max_window_bits"},
		{"permessage-deflate; server_max_window_bits", engine.Compression{}, "server_max_window_bits"},
		{"permessage-deflate; client_max_window_bits=12", engine.Compression{ClientMaxWindowBits: 10}, "client_max_window_bits"},
		{"permessage-deflate; server_max_window_bits=12", engine.Compression{ServerMaxWindowBits: 10}, "server_max_window_bits"},
		{"permessage-deflate", engine.Compression{ServerMaxWindowBits: 10}, "server_max_window_bits"},
		{"permessage-deflate; client_no_context_takeover; client_no_context_takeover", engine.Compression{}, "client_no_context_takeover"},
		{"permessage-deflate; server_no_context_takeover=yes", engine.Compression{}, "server_no_context_takeover"},
	}
	for _, tc := range cases {
		url := deflateTestServer(t, tc.answer, func(c net.Conn, br *bufio.Reader) {
			time.Sleep(200 * time.Millisecond)
		})
		opts := tc.opts
		c, err := dialCompressed(t, eng, url, &engine.DialOptions{Compression: &opts})
		if err == nil {
			c.Close()
			t.Errorf("answer %q accepted", tc.answer)
			continue
		}
		var he *engine.HandshakeError
		var pe *codec.DeflateParamError
		if !errors.As(err, &he) || !errors.As(err, &pe) {
			t.Errorf("answer %q: %v (%T), want a *HandshakeError wrapping a *codec.DeflateParamError", tc.answer, err, err)
			continue
		}
		if pe.Param != tc.param || !strings.Contains(err.Error(), tc.param) {
			t.Errorf("answer %q: %q does not name %s", tc.answer, err, tc.param)
		}
	}
	// An extension we did not offer.
	url := deflateTestServer(t, "permessage-deflate", func(c net.Conn, br *bufio.Reader) { time.Sleep(200 * time.Millisecond) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := eng.Dial(ctx, url+"/", nil); err == nil || !strings.Contains(err.Error(), "not offered") {
		if c != nil {
			c.Close()
		}
		t.Errorf("permessage-deflate enabled without an offer: %v", err)
	}
	// Bad options fail before any connection.
	for _, z := range []engine.Compression{{ClientMaxWindowBits: 7}, {ServerMaxWindowBits: 16}, {Level: 10}, {Level: -1}} {
		if _, err := eng.Dial(ctx, url+"/", &engine.DialOptions{Compression: &z}); err == nil {
			t.Errorf("Compression %+v accepted", z)
		}
	}
}

// What goes on the wire: RSV1 on compressed messages only, never on control frames; small
// messages under the threshold and SendUncompressed go as they are; a declined offer means
// plain frames.
func TestCompressionFramesSent(t *testing.T) {
	eng := newEngine(t)
	type got struct {
		frames []testkit.ClientFrame
		offer  string
	}
	results := make(chan got, 1)
	const n = 7
	server := func(answer string) string {
		return testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
			extra := ""
			if answer != "" {
				extra = "Sec-WebSocket-Extensions: " + answer + "\r\n"
			}
			req, err := testkit.Upgrade(c, br, extra)
			if err != nil {
				return
			}
			var g got
			g.offer = req.Header.Get("Sec-WebSocket-Extensions")
			for i := 0; i < n; i++ {
				f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
				if err != nil {
					break
				}
				g.frames = append(g.frames, f)
			}
			results <- g
		})
	}
	big := jsonText(20000, 1)
	send := func(c *engine.Conn) {
		c.Send(engine.Text, big)
		c.Send(engine.Text, []byte("short"))
		c.Ping([]byte("p"))
		c.SendUncompressed(engine.Text, big)
		c.Send(engine.Binary, big)
		c.Send(engine.Text, big) // the same again: with context, a few bytes
		c.Send(engine.Binary, nil)
	}

	url := server("permessage-deflate")
	c, err := dialCompressed(t, eng, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	send(c)
	g := <-results
	c.Close()
	if g.offer != "permessage-deflate; client_max_window_bits" {
		t.Errorf("offer %q", g.offer)
	}
	if len(g.frames) != n {
		t.Fatalf("%d frames", len(g.frames))
	}
	var f codec.Inflater
	f.Init(15, false)
	wantRSV := []bool{true, false, false, false, true, true, false}
	for i, fr := range g.frames {
		if (fr.Rsv == 0x40) != wantRSV[i] || fr.Rsv&^0x40 != 0 || !fr.Fin {
			t.Errorf("frame %d (op %d, %d bytes): rsv %#x fin %v, want RSV1 %v", i, fr.Op, len(fr.Payload), fr.Rsv, fr.Fin, wantRSV[i])
		}
		payload := fr.Payload
		if fr.Rsv == 0x40 {
			out, err := f.Inflate(nil, fr.Payload, 1<<20, nil)
			if err != nil {
				t.Fatalf("frame %d does not inflate: %v", i, err)
			}
			payload = out
		}
		if (i == 0 || i == 3 || i == 4 || i == 5) && !bytes.Equal(payload, big) {
			t.Errorf("frame %d: the message differs after inflating", i)
		}
	}
	if len(g.frames[5].Payload) > 300 {
		t.Errorf("a repeated 20000-byte message took %d bytes: no context takeover?", len(g.frames[5].Payload))
	}
	if p, ok := c.Compression(); !ok || p.ClientMaxWindowBits != 15 || p.ServerMaxWindowBits != 15 {
		t.Errorf("Compression() = %+v, %v", p, ok)
	}

	// Threshold -1 compresses the empty message too: 0x00 (RFC 7692 7.2.3.6).
	url = server("permessage-deflate")
	c, err = dialCompressed(t, eng, url, &engine.DialOptions{Compression: &engine.Compression{Threshold: -1}})
	if err != nil {
		t.Fatal(err)
	}
	send(c)
	g = <-results
	c.Close()
	if last := g.frames[n-1]; last.Rsv != 0x40 || !bytes.Equal(last.Payload, []byte{0}) {
		t.Errorf("empty message: rsv %#x payload % x", last.Rsv, last.Payload)
	}
	if s := g.frames[1]; s.Rsv != 0x40 {
		t.Errorf("short message not compressed with Threshold -1")
	}

	// Without context takeover, a message that does not shrink goes as it is.
	url = server("permessage-deflate; client_no_context_takeover")
	c, err = dialCompressed(t, eng, url, &engine.DialOptions{Compression: &engine.Compression{Threshold: -1}})
	if err != nil {
		t.Fatal(err)
	}
	send(c)
	g = <-results
	c.Close()
	if last := g.frames[n-1]; last.Rsv != 0 || len(last.Payload) != 0 {
		t.Errorf("empty message without context: rsv %#x payload % x", last.Rsv, last.Payload)
	}
	if s := g.frames[1]; s.Rsv != 0 || string(s.Payload) != "short" {
		t.Errorf("a 5-byte message without context: rsv %#x payload %q, want it as it is", s.Rsv, s.Payload)
	}
	if g.frames[0].Rsv != 0x40 {
		t.Errorf("a 20000-byte text without context not compressed")
	}
	if len(g.frames[5].Payload) < 1000 {
		t.Errorf("client_no_context_takeover, yet a repeat took only %d bytes", len(g.frames[5].Payload))
	}

	// Declined: plain frames.
	url = server("")
	c, err = dialCompressed(t, eng, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Compression(); ok {
		t.Error("Compression() reports an extension the server declined")
	}
	send(c)
	g = <-results
	c.Close()
	for i, fr := range g.frames {
		if fr.Rsv != 0 {
			t.Errorf("declined, yet frame %d has rsv %#x", i, fr.Rsv)
		}
	}
}

// What the server sends: single-frame and fragmented compressed messages (RSV1 on the first
// frame only, a ping in between), plain ones in between, references into the history,
// split across reads or not; passive and Handler delivery.
func TestCompressionReceive(t *testing.T) {
	eng := newEngine(t)
	msgs := [][]byte{
		jsonText(5000, 1), []byte("plain in between"), jsonText(5000, 1), jsonText(70000, 2),
		jsonText(10, 3), {}, testkit.HalfCompressible(3000, 4), jsonText(5000, 1),
	}
	compressed := []bool{true, false, true, true, true, true, true, true}
	script := func(split bool) func(c net.Conn, br *bufio.Reader) {
		return func(c net.Conn, br *bufio.Reader) {
			z := newServerDeflate(t, false)
			var out []byte
			for i, m := range msgs {
				op := byte(0x1)
				if i == 6 {
					op = 0x2
				}
				if !compressed[i] {
					out = append(out, testkit.ServerFrame(0x80|op, m)...)
					continue
				}
				p := z.compress(m)
				if i%2 == 1 || len(p) < 3 {
					out = append(out, testkit.ServerFrame(0x80|0x40|op, p)...)
					continue
				}
				// Three fragments, RSV1 on the first only, a ping between two.
				a, b := len(p)/3, 2*len(p)/3
				out = append(out, testkit.ServerFrame(0x40|op, p[:a])...)
				out = append(out, testkit.ServerFrame(0x89, []byte("ping"))...)
				out = append(out, testkit.ServerFrame(0x00, p[a:b])...)
				out = append(out, testkit.ServerFrame(0x80, p[b:])...)
			}
			if split {
				for len(out) > 0 {
					k := min(len(out), 1000)
					c.Write(out[:k])
					out = out[k:]
					time.Sleep(100 * time.Microsecond)
				}
			} else {
				c.Write(out)
			}
			for {
				f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
				if err != nil {
					return
				}
				if f.Op == 0x8 {
					c.Write(testkit.ServerFrame(0x88, f.Payload))
					return
				}
			}
		}
	}
	for _, split := range []bool{false, true} {
		name := "whole"
		if split {
			name = "split"
		}
		t.Run(name+"/passive", func(t *testing.T) {
			url := deflateTestServer(t, "permessage-deflate", script(split))
			c, err := dialCompressed(t, eng, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for i, want := range msgs {
				m, err := c.Recv(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !bytes.Equal(m.Data, want) {
					t.Fatalf("message %d: %d bytes, want %d", i, len(m.Data), len(want))
				}
				m.Release()
			}
		})
		t.Run(name+"/handler", func(t *testing.T) {
			url := deflateTestServer(t, "permessage-deflate", script(split))
			h := &collectHandler{got: make(chan []byte, len(msgs))}
			c, err := dialCompressed(t, eng, url, &engine.DialOptions{Handler: h})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i, want := range msgs {
				select {
				case m := <-h.got:
					if !bytes.Equal(m, want) {
						t.Fatalf("message %d: %d bytes, want %d", i, len(m), len(want))
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("message %d never came", i)
				}
			}
		})
	}
}

type collectHandler struct{ got chan []byte }

func (h *collectHandler) OnOpen(*engine.Conn) {}
func (h *collectHandler) OnMessage(_ *engine.Conn, _ engine.MessageType, data []byte) {
	h.got <- append([]byte(nil), data...)
}
func (h *collectHandler) OnClose(*engine.Conn, error) {}

// Bad compressed input: each fails the connection with the right close code and a clear
// error, without memory growing with what the data would inflate to.
func TestCompressionHostile(t *testing.T) {
	eng := newEngine(t)
	zeros := func() []byte { // 64 MiB of zeros, deflated: about 64 KiB
		var buf bytes.Buffer
		w, _ := stdflate.NewWriter(&buf, 9)
		zero := make([]byte, 1<<20)
		for i := 0; i < 64; i++ {
			w.Write(zero)
		}
		w.Flush()
		return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	}()
	good := newServerDeflate(t, true).compress([]byte("hello"))
	badUTF8 := newServerDeflate(t, true).compress([]byte("caf\xc3("))
	cases := []struct {
		name     string
		frames   [][]byte
		code     int
		text     string
		maxHeap  uint64
		maxBytes int
	}{
		{"RSV1 on a continuation", [][]byte{testkit.ServerFrame(0x40|0x1, good[:2]), testkit.ServerFrame(0x80|0x40, good[2:])}, 1002, "reserved", 0, 0},
		{"RSV1 on a ping", [][]byte{testkit.ServerFrame(0x80|0x40|0x9, []byte("x"))}, 1002, "reserved", 0, 0},
		{"RSV2 with deflate on", [][]byte{testkit.ServerFrame(0x80|0x20|0x1, []byte("x"))}, 1002, "reserved", 0, 0},
		{"corrupt DEFLATE data", [][]byte{testkit.ServerFrame(0x80|0x40|0x2, []byte{0xff, 0xff, 0xff, 0x00, 0x12})}, 1007, "inflate", 0, 0},
		{"compressed text not UTF-8", [][]byte{testkit.ServerFrame(0x80|0x40|0x1, badUTF8)}, 1007, "UTF-8", 0, 0},
		{"decompression bomb (64 MiB of zeros, limit 1 MiB)", [][]byte{testkit.ServerFrame(0x80|0x40|0x2, zeros)}, 1009, "inflates past MaxMessageSize", 8 << 20, 1 << 20},
		{"bomb in fragments", [][]byte{testkit.ServerFrame(0x40|0x2, zeros[:1000]), testkit.ServerFrame(0x80, zeros[1000:])}, 1009, "inflates past MaxMessageSize", 8 << 20, 1 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codes := make(chan int, 1)
			url := deflateTestServer(t, "permessage-deflate", func(c net.Conn, br *bufio.Reader) {
				for _, f := range tc.frames {
					c.Write(f)
				}
				code := 0
				for {
					f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
					if err != nil {
						break
					}
					if f.Op == 0x8 {
						code = testkit.CloseCode(f.Payload)
						break
					}
				}
				codes <- code
			})
			w := watchHeap()
			h := &collectHandler{got: make(chan []byte, 4)}
			closed := make(chan error, 1)
			opts := &engine.DialOptions{Handler: &closeNotify{collectHandler: h, closed: closed}}
			if tc.maxBytes > 0 {
				opts.MaxMessageSize = tc.maxBytes
			}
			c, err := dialCompressed(t, eng, url, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var cerr error
			select {
			case cerr = <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the connection did not fail")
			}
			growth := w.growth()
			if code := <-codes; code != tc.code {
				t.Errorf("close code %d on the wire, want %d (error %v)", code, tc.code, cerr)
			}
			var pe *codec.ProtocolError
			if !errors.As(cerr, &pe) || int(pe.Code) != tc.code {
				t.Errorf("error %v: want a ProtocolError with %d", cerr, tc.code)
			}
			if !strings.Contains(cerr.Error(), tc.text) {
				t.Errorf("error %q does not say %q", cerr, tc.text)
			}
			if tc.maxHeap > 0 && growth > tc.maxHeap {
				t.Errorf("heap grew by %d bytes refusing it", growth)
			}
			select {
			case m := <-h.got:
				t.Errorf("a message of %d bytes was delivered", len(m))
			default:
			}
		})
	}
}

type closeNotify struct {
	*collectHandler
	closed chan error
}

func (h *closeNotify) OnClose(_ *engine.Conn, err error) { h.closed <- err }

// Incompressible messages make the compressed output outgrow its first buffer (the pooled
// buffer is replaced while compressing): every size around the buffer classes must still go
// out as one well-formed frame that inflates to the message. The server compresses with its
// own context (the standard library's flate), the client echoes from a Handler and from Recv.
func TestCompressionIncompressible(t *testing.T) {
	eng := newEngine(t)
	sizes := []int{1, 60, 100, 127, 128, 129, 191, 192, 193, 255, 256, 257, 300, 511, 512, 513, 1000, 1023, 1024, 1025,
		2047, 2048, 2049, 4095, 4096, 4097, 5000, 16384, 32767, 32768, 32769, 70000, 300_000}
	for _, passive := range []bool{false, true} {
		name := "handler"
		if passive {
			name = "passive"
		}
		t.Run(name, func(t *testing.T) {
			errs := make(chan error, 1)
			url := deflateTestServer(t, "permessage-deflate", func(c net.Conn, br *bufio.Reader) {
				var zb bytes.Buffer
				zw, _ := stdflate.NewWriter(&zb, 6)
				var hist []byte
				for i, n := range sizes {
					msg := testkit.HalfCompressible(n, uint64(i))
					if i%2 == 0 {
						msg = testkit.Bytes(n, uint64(i))
					}
					zb.Reset()
					zw.Write(msg)
					zw.Flush()
					c.Write(testkit.ServerFrame(0x80|0x40|0x2, bytes.TrimSuffix(zb.Bytes(), []byte{0, 0, 0xff, 0xff})))
					f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
					if err != nil {
						errs <- err
						return
					}
					if !f.Masked || !f.Fin || f.Op != 0x2 {
						errs <- fmt.Errorf("%d bytes: echo frame fin %v op %d masked %v", n, f.Fin, f.Op, f.Masked)
						return
					}
					got := f.Payload
					if f.Rsv == 0x40 {
						r := stdflate.NewReaderDict(io.MultiReader(bytes.NewReader(f.Payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})), hist)
						if got, err = io.ReadAll(r); err != nil {
							errs <- fmt.Errorf("%d bytes: the echo does not inflate: %v", n, err)
							return
						}
						hist = append(hist, got...)
						if len(hist) > 1<<15 {
							hist = hist[len(hist)-1<<15:]
						}
					}
					if !bytes.Equal(got, msg) {
						errs <- fmt.Errorf("%d bytes: the echo differs", n)
						return
					}
				}
				errs <- nil
			})
			opts := &engine.DialOptions{Compression: &engine.Compression{Threshold: -1}}
			if !passive {
				opts.Handler = deflateEchoHandler{}
			}
			c, err := dialCompressed(t, eng, url, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if passive {
				go func() {
					for {
						m, err := c.Recv(context.Background())
						if err != nil {
							return
						}
						c.Send(m.Type, m.Data)
						m.Release()
					}
				}()
			}
			select {
			case err := <-errs:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no verdict")
			}
		})
	}
}

type deflateEchoHandler struct{}

func (deflateEchoHandler) OnOpen(*engine.Conn) {}
func (deflateEchoHandler) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	_ = c.Send(typ, data)
}
func (deflateEchoHandler) OnClose(*engine.Conn, error) {}

// MaxMessageSize is the inflated size: a compressed message of exactly MaxMessageSize bytes
// that does not compress (so its compressed form is a little longer) gets through, one byte
// more fails with 1009.
func TestCompressionMaxMessageSizeIsInflated(t *testing.T) {
	eng := newEngine(t)
	const limit = 200_000
	for _, n := range []int{limit, limit + 1} {
		msg := testkit.Bytes(n, 1)
		var zb bytes.Buffer
		zw, _ := stdflate.NewWriter(&zb, 0) // stored blocks: longer than the message
		zw.Write(msg)
		zw.Flush()
		z := bytes.TrimSuffix(zb.Bytes(), []byte{0, 0, 0xff, 0xff})
		if len(z) <= n {
			t.Fatalf("test data compressed to %d bytes", len(z))
		}
		url := deflateTestServer(t, "permessage-deflate", func(c net.Conn, br *bufio.Reader) {
			c.Write(testkit.ServerFrame(0x80|0x40|0x2, z))
			for {
				f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
				if err != nil {
					return
				}
				if f.Op == 0x8 {
					c.Write(testkit.ServerFrame(0x88, f.Payload))
					return
				}
			}
		})
		c, err := dialCompressed(t, eng, url, &engine.DialOptions{MaxMessageSize: limit})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := c.Recv(ctx)
		cancel()
		if n == limit {
			if err != nil || !bytes.Equal(m.Data, msg) {
				t.Errorf("%d bytes (compressed %d) with MaxMessageSize %d: %v", n, len(z), limit, err)
			}
			m.Release()
		} else if !errors.Is(err, codec.ErrMessageTooBig) {
			t.Errorf("%d bytes with MaxMessageSize %d: %v, want ErrMessageTooBig", n, limit, err)
		}
		c.Close()
	}
}

// Each reconnection negotiates afresh: compression on, then declined, then on again with a
// fresh context (the first message after a reconnection refers to nothing sent before it).
func TestCompressionReconnect(t *testing.T) {
	eng := newEngine(t)
	msg := jsonText(8000, 5)
	answers := []string{"permessage-deflate", "", "permessage-deflate"}
	results := make(chan error, len(answers))
	var session atomic.Int32
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		k := int(session.Add(1)) - 1
		if k >= len(answers) {
			return
		}
		extra := ""
		if answers[k] != "" {
			extra = "Sec-WebSocket-Extensions: " + answers[k] + "\r\n"
		}
		if _, err := testkit.Upgrade(c, br, extra); err != nil {
			results <- err
			return
		}
		f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
		if err != nil {
			results <- err
			return
		}
		got := f.Payload
		switch {
		case answers[k] == "" && f.Rsv != 0:
			results <- fmt.Errorf("session %d: RSV %#x after the server declined", k, f.Rsv)
			return
		case answers[k] != "" && f.Rsv != 0x40:
			results <- fmt.Errorf("session %d: not compressed", k)
			return
		case f.Rsv == 0x40:
			var in codec.Inflater
			in.Init(15, false) // a fresh history, as the server has
			if got, err = in.Inflate(nil, f.Payload, 1<<20, nil); err != nil {
				results <- fmt.Errorf("session %d: the first message does not inflate with a fresh history: %v", k, err)
				return
			}
		}
		if !bytes.Equal(got, msg) {
			results <- fmt.Errorf("session %d: message differs", k)
			return
		}
		results <- nil
		if k < len(answers)-1 {
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // abnormal close: the client reconnects
			return
		}
		for {
			f, err := testkit.ReadClientFrame(br, c, 5*time.Second)
			if err != nil || f.Op == 0x8 {
				c.Write(testkit.ServerFrame(0x88, f.Payload))
				return
			}
		}
	})
	h := &sendOnOpen{msg: msg}
	c, err := dialCompressed(t, eng, url, &engine.DialOptions{Handler: h, Reconnect: &engine.ReconnectPolicy{MinDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for k := range answers {
		select {
		case err := <-results:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("session %d: nothing", k)
		}
	}
	if _, ok := c.Compression(); !ok {
		t.Error("the last session negotiated compression, Compression() says no")
	}
}

type sendOnOpen struct{ msg []byte }

func (h *sendOnOpen) OnOpen(c *engine.Conn)                              { _ = c.Send(engine.Text, h.msg) }
func (h *sendOnOpen) OnMessage(*engine.Conn, engine.MessageType, []byte) {}
func (h *sendOnOpen) OnClose(*engine.Conn, error)                        {}
