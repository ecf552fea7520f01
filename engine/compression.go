package engine

import (
	"fmt"

	"github.com/valyala/bytebufferpool"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/pool"
)

// Compression asks for permessage-deflate (RFC 7692) on a connection: DialOptions.Compression.
// The server may decline (the connection then carries messages uncompressed: see
// Conn.Compression) or narrow what is asked; an answer that breaks RFC 7692 fails the dial
// with a *HandshakeError naming the parameter.
//
// Memory per connection stays near the windows: a connection keeps a history of the last
// 2^ClientMaxWindowBits bytes it sent (unless ClientNoContextTakeover) and of the last
// 2^ServerMaxWindowBits bytes it received (unless the server does not keep context),
// each allocated on first use and grown with the traffic. Compressors and decompressors
// are borrowed per message from process-wide pools.
//
// CPU: a compressor that another connection used since this one's last message is primed
// with (part of) this connection's history, an encoding pass over up to 32 KiB. With many
// connections that each send now and then, ClientNoContextTakeover (no history, no
// priming) or a smaller ClientMaxWindowBits costs less; see docs/benchmarks.md.
type Compression struct {
	// ServerNoContextTakeover asks the server to compress each message on its own: no
	// receive history is kept (saves 2^ServerMaxWindowBits bytes per connection).
	ServerNoContextTakeover bool
	// ClientNoContextTakeover compresses each message on its own: no send history, no
	// priming, a somewhat worse ratio.
	ClientNoContextTakeover bool
	// ClientMaxWindowBits (8-15) is the largest LZ77 window we compress with, offered to
	// the server; 0 offers client_max_window_bits without a value and uses 15 unless the
	// server sets less. Below 15, Level is ignored (klauspost/compress has one compressor
	// with a custom window, about level 5).
	ClientMaxWindowBits int
	// ServerMaxWindowBits (8-15) asks the server for a smaller window, which shrinks our
	// receive history to 2^bits; 0 does not ask (the server chooses, 15 at most).
	ServerMaxWindowBits int
	// Threshold: messages shorter than this go uncompressed (default
	// DefaultCompressionThreshold); negative compresses every message, empty ones too.
	Threshold int
	// Level is the DEFLATE level, 1 (fastest, the default) to 9.
	Level int

	offer []byte // the Sec-WebSocket-Extensions offer, set by prepare
}

// DefaultCompressionThreshold is the size below which messages go uncompressed by default:
// smaller ones rarely shrink enough to pay for the work.
const DefaultCompressionThreshold = 128

// compressionExtNames is what the upgrade parser accepts in the server's answer.
var compressionExtNames = []string{codec.DeflateExtension}

// prepareCompression checks DialOptions.Compression and replaces it with a private copy
// with the defaults applied and the offer text built once.
func prepareCompression(o *DialOptions) error {
	if o.Compression == nil {
		return nil
	}
	z := *o.Compression
	if z.Threshold == 0 {
		z.Threshold = DefaultCompressionThreshold
	}
	if z.Level == 0 {
		z.Level = codec.DefaultDeflateLevel
	}
	if z.Level < 1 || z.Level > 9 {
		return fmt.Errorf("websocket: Compression.Level must be 1 to 9, got %d", z.Level)
	}
	offer := z.deflateOffer()
	if err := offer.Validate(); err != nil {
		return fmt.Errorf("websocket: Compression: %w", err)
	}
	z.offer = offer.AppendOffer(nil)
	o.Compression = &z
	return nil
}

func (z *Compression) deflateOffer() codec.DeflateOffer {
	return codec.DeflateOffer{
		ServerNoContextTakeover: z.ServerNoContextTakeover,
		ClientNoContextTakeover: z.ClientNoContextTakeover,
		ServerMaxWindowBits:     z.ServerMaxWindowBits,
		ClientMaxWindowBits:     z.ClientMaxWindowBits,
	}
}

// offerText is the Sec-WebSocket-Extensions value to send ("" without compression).
func (z *Compression) offerText() string {
	if z == nil {
		return ""
	}
	return string(z.offer)
}

// extNames are the extensions the server may enable in its answer.
func (z *Compression) extNames() []string {
	if z == nil {
		return nil
	}
	return compressionExtNames
}

// deflateState is a connection's send side of a negotiated permessage-deflate, under c.mu.
type deflateState struct {
	z         codec.Deflater
	params    codec.DeflateParams
	threshold int
	rsv       byte // RSV bits for the frame appendFrameLocked writes next
	grow      bufGrower
}

// negotiateCompression reads the server's answer to our offer, after a 101. The receive
// side goes to the session (the loop's), the send side to the Conn (c.mu's).
func (s *session) negotiateCompression() error {
	c := s.c
	z := c.opts.Compression
	s.infl = nil
	var d *deflateState
	if z != nil {
		p, ok, err := z.deflateOffer().Accept(s.dial.parser.Extensions())
		if err != nil {
			return err
		}
		if ok {
			s.infl = new(inflateState)
			s.infl.f.Init(p.ServerMaxWindowBits, p.ServerNoContextTakeover)
			d = &deflateState{params: p, threshold: z.Threshold}
			if err := d.z.Init(z.Level, p.ClientMaxWindowBits, p.ClientNoContextTakeover); err != nil {
				return err
			}
		}
	}
	c.mu.Lock()
	c.defl = d
	c.mu.Unlock()
	return nil
}

// Compression reports the permessage-deflate parameters in force on the current
// connection, as the server settled them (window bits 8-15, never 0), and false when the
// connection carries messages uncompressed.
func (c *Conn) Compression() (Compression, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.defl == nil {
		return Compression{}, false
	}
	p := c.defl.params
	return Compression{
		ServerNoContextTakeover: p.ServerNoContextTakeover,
		ClientNoContextTakeover: p.ClientNoContextTakeover,
		ServerMaxWindowBits:     p.ServerMaxWindowBits,
		ClientMaxWindowBits:     p.ClientMaxWindowBits,
		Threshold:               c.defl.threshold,
		Level:                   c.opts.Compression.Level,
	}, true
}

// SendUncompressed is Send without compression for this one message, whatever the
// threshold: for data that is compressed already, or must not share a compression context
// with secrets sent on the same connection.
// It waits for room as Send does.
func (c *Conn) SendUncompressed(typ MessageType, data []byte) error {
	if err := checkDataType(typ); err != nil {
		return err
	}
	return c.send(nil, typ.opcode()|opUncompressed, data, sendWait)
}

// opUncompressed marks a data opcode passed to send for a message that must not be
// compressed. Opcodes are 4 bits; splitOpcode takes the mark off first thing.
const opUncompressed codec.Opcode = 0x80

func splitOpcode(op codec.Opcode) (codec.Opcode, bool) {
	return op &^ opUncompressed, op&opUncompressed != 0
}

// deflateLocked compresses a data message when permessage-deflate is on and the message is
// not exempt: it returns the payload to frame (compressed, in a pooled buffer the caller
// releases with putDeflated once the frame is written or queued) and marks the next frame
// RSV1. It runs under c.mu, after the wait for room, so that messages are compressed in
// the order they go on the wire (context takeover depends on it).
func (c *Conn) deflateLocked(op codec.Opcode, data []byte, plain bool) ([]byte, *bytebufferpool.ByteBuffer) {
	d := c.defl
	if d == nil || plain || op.IsControl() || len(data) < d.threshold {
		return data, nil
	}
	d.grow.b = pool.Get(len(data)/2 + 64)
	out := d.z.Deflate(d.grow.b.B[:0], data, &d.grow)
	b := d.grow.b // Grow may have replaced the buffer (and put the first one back)
	d.grow.b = nil
	b.B = out
	if d.params.ClientNoContextTakeover && len(b.B) >= len(data) {
		// It did not shrink: send it as it is. Only without context takeover: with it, the
		// server's history must see every byte our compressor saw.
		pool.Put(b)
		return data, nil
	}
	d.rsv = codec.RSV1
	return b.B, b
}

func putDeflated(b *bytebufferpool.ByteBuffer) {
	if b != nil {
		pool.Put(b)
	}
}

// takeRSVLocked gives appendFrameLocked the RSV bits of the frame it writes: RSV1 on the
// (single) frame of a compressed message, nothing on any other.
func (c *Conn) takeRSVLocked() byte {
	if c.defl == nil {
		return 0
	}
	r := c.defl.rsv
	c.defl.rsv = 0
	return r
}

// bufGrower grows a pooled buffer for codec's Deflate and Inflate.
type bufGrower struct{ b *bytebufferpool.ByteBuffer }

func (g *bufGrower) Grow(p []byte, n int) []byte {
	g.b.B = p
	g.b = pool.Grow(g.b, n)
	return g.b.B
}
