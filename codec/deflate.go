package codec

import (
	"errors"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// permessage-deflate data (RFC 7692 section 7.2) with memory near the window.
//
// A connection owns only its histories: the last 2^bits bytes it sent (when it keeps
// context) and the last 2^bits bytes it received (when the server keeps context), each
// grown on first use. Compressors (about 1 MiB each) and decompressors (about 40 KiB) are
// borrowed for one message from process-wide pools and primed with the history as a
// preset dictionary, so no connection holds one between messages.
//
// Priming a compressor with a dictionary costs an encoding pass over the dictionary
// (klauspost/compress hashes it by encoding it), which for a 32 KiB history dwarfs a
// small message. So a compressor goes back to the pool remembering whose stream it
// continues; the next message of the same connection takes it back, if nobody used it
// since, and skips the priming (the compressor's state then is exactly what the
// dictionary would rebuild). A cold compressor is primed with the recent part of the
// history only, max(4*len(message), 4 KiB): a compressor may refer to less history than
// the receiver keeps. Decompressors are primed by a 32 KiB copy: no such need.
//
// Window: klauspost's compressors at window 15 use the standard levels; below 15 the
// compressor is flate.NewWriterWindow(1<<bits), whose matches are never farther back
// than its window (at most 2^bits-1) and whose dictionary is cut to the last 2^bits
// bytes. It has one speed/ratio (about level 5): Level is ignored below window 15.

// Grower enlarges an output buffer: it returns a slice holding b's bytes with room for
// at least n more. Callers use it to grow pooled buffers; nil means append's growth.
type Grower interface {
	Grow(b []byte, n int) []byte
}

// ErrInflate is a compressed message that does not inflate (corrupt DEFLATE data, or a
// reference farther back than the history holds).
var ErrInflate = &ProtocolError{CloseInvalidPayload, "compressed message does not inflate (permessage-deflate)"}

// deflateTail is what a sender trims from each message (RFC 7692 7.2.1).
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// inflateTail completes the trimmed sync marker, then adds an empty final stored block,
// so that a message that ends as RFC 7692 says ends the DEFLATE stream cleanly (io.EOF),
// and one cut short does not.
var inflateTail = [9]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// ---------------------------------------------------------------------------------------
// Inflate

// Inflater is one connection's receive side: the history the server's compressor may
// refer to. The zero value is not ready: call Init.
type Inflater struct {
	hist      []byte // the last bytes inflated, at most window; grown on first use
	window    int
	noContext bool
}

// Init prepares f for a new connection: the server compresses with at most windowBits,
// and keeps context between messages unless noContext. Any history is dropped.
func (f *Inflater) Init(windowBits int, noContext bool) {
	if windowBits < MinWindowBits || windowBits > MaxWindowBits {
		windowBits = MaxWindowBits
	}
	*f = Inflater{window: 1 << windowBits, noContext: noContext}
}

// HistoryCap is the memory the history holds (bytes), for accounting.
func (f *Inflater) HistoryCap() int { return cap(f.hist) }

type decompressor struct {
	r   io.ReadCloser // flate's; also a flate.Resetter
	rs  flate.Resetter
	src inflateSource
	one [1]byte
}

var decompressors = sync.Pool{New: func() any {
	d := new(decompressor)
	d.r = flate.NewReader(&d.src)
	d.rs = d.r.(flate.Resetter)
	return d
}}

// inflateSource feeds a message and then inflateTail to the decompressor; it is an
// io.ByteReader so that flate reads it directly, without a bufio.Reader.
type inflateSource struct {
	a    []byte
	tail []byte
}

func (s *inflateSource) Read(p []byte) (int, error) {
	if len(s.a) > 0 {
		n := copy(p, s.a)
		s.a = s.a[n:]
		return n, nil
	}
	if len(s.tail) > 0 {
		n := copy(p, s.tail)
		s.tail = s.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

func (s *inflateSource) ReadByte() (byte, error) {
	if len(s.a) > 0 {
		b := s.a[0]
		s.a = s.a[1:]
		return b, nil
	}
	if len(s.tail) > 0 {
		b := s.tail[0]
		s.tail = s.tail[1:]
		return b, nil
	}
	return 0, io.EOF
}

// minInflateGrow is the least a growing output buffer gains at a time.
const minInflateGrow = 4 << 10

// Inflate appends the message whose compressed payload is src (as received: the
// 00 00 ff ff tail trimmed) to dst and returns it. It stops as soon as the message
// passes limit bytes and returns ErrMessageTooBig: it never writes more than limit+1
// bytes, however much the data would inflate to (a decompression bomb costs limit
// bytes, not its inflated size). Corrupt data is ErrInflate. On error nothing is added
// to the history, and the returned slice holds what was inflated before the error.
// g grows dst (nil: append's growth).
func (f *Inflater) Inflate(dst, src []byte, limit int, g Grower) ([]byte, error) {
	if len(src) == 0 {
		// Not DEFLATE data at all (the empty message compresses to one 0x00 byte), but
		// nothing else can be meant by it.
		return dst, nil
	}
	d := decompressors.Get().(*decompressor)
	d.src = inflateSource{a: src, tail: inflateTail[:]}
	var dict []byte
	if !f.noContext {
		dict = f.hist
	}
	_ = d.rs.Reset(&d.src, dict) // cannot fail with an io.ByteReader
	start := len(dst)
	var err error
	for {
		if len(dst) == cap(dst) {
			// Full: probe for one more byte before growing, so that a buffer of exactly
			// the message's size (the usual case for a reused one) needs no growth.
			n, rerr := d.r.Read(d.one[:]) // (a local array would escape through the interface)
			if n == 1 {
				if len(dst)-start >= limit {
					err = ErrMessageTooBig
					break
				}
				want := max(cap(dst)-start, minInflateGrow)
				want = min(want, limit+1-(len(dst)-start))
				dst = append(grow(dst, want, g), d.one[0])
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				err = ErrInflate
				break
			}
			continue
		}
		room := dst[len(dst):cap(dst)]
		if most := limit + 1 - (len(dst) - start); len(room) > most {
			room = room[:most]
		}
		n, rerr := d.r.Read(room)
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			err = ErrMessageTooBig
			break
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = ErrInflate
			break
		}
	}
	d.src = inflateSource{}
	decompressors.Put(d)
	if err != nil {
		return dst, err
	}
	if !f.noContext {
		f.hist = slideWindow(f.hist, dst[start:], f.window)
	}
	return dst, nil
}

// grow returns b with room for n more bytes.
func grow(b []byte, n int, g Grower) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	if g != nil {
		return g.Grow(b, n)
	}
	return append(b, make([]byte, n)...)[:len(b)]
}

// slideWindow appends b to the history h and keeps its last w bytes. h grows by
// doubling from 512 bytes up to w, so a connection that moved little holds little.
func slideWindow(h, b []byte, w int) []byte {
	if len(b) >= w {
		if cap(h) < w {
			h = make([]byte, w)
		}
		h = h[:w]
		copy(h, b[len(b)-w:])
		return h
	}
	if over := len(h) + len(b) - w; over > 0 {
		n := copy(h, h[over:])
		h = h[:n]
	}
	if need := len(h) + len(b); need > cap(h) {
		c := max(512, 2*cap(h))
		for c < need {
			c *= 2
		}
		nh := make([]byte, len(h), min(c, w))
		copy(nh, h)
		h = nh
	}
	return append(h, b...)
}

// ---------------------------------------------------------------------------------------
// Deflate

// DefaultDeflateLevel is the level a Deflater uses when given 0: klauspost's fastest,
// which on JSON-like text compresses about as well as level 5 at a fraction of the cost.
const DefaultDeflateLevel = 1

// Deflater is one connection's send side: the last 2^bits bytes sent when we keep
// context (client context takeover). The zero value is not ready: call Init.
type Deflater struct {
	hist      []byte
	window    int
	noContext bool
	id        uint64 // stream identity for the pool's warm compressors (0 without context)
	pool      *compressorPool
}

var deflaterIDs atomic.Uint64

// Init prepares d for a new connection: level 1-9 (0: DefaultDeflateLevel), window
// 2^windowBits (8-15), and context kept between messages unless noContext. Any
// history is dropped.
func (d *Deflater) Init(level, windowBits int, noContext bool) error {
	if level == 0 {
		level = DefaultDeflateLevel
	}
	if level < 1 || level > 9 {
		return errors.New("permessage-deflate: compression level must be 1 to 9, got " + strconv.Itoa(level))
	}
	if windowBits < MinWindowBits || windowBits > MaxWindowBits {
		return errors.New("permessage-deflate: window bits must be 8 to 15, got " + strconv.Itoa(windowBits))
	}
	*d = Deflater{window: 1 << windowBits, noContext: noContext, pool: poolFor(level, windowBits)}
	if !noContext {
		d.id = deflaterIDs.Add(1)
	}
	return nil
}

// HistoryCap is the memory the history holds (bytes), for accounting.
func (d *Deflater) HistoryCap() int { return cap(d.hist) }

// Deflate appends src compressed as one permessage-deflate message (the 00 00 ff ff
// tail trimmed) to dst and returns it. With context, src joins the history: messages
// must be compressed in the order they are sent. g grows dst (nil: append's growth).
func (d *Deflater) Deflate(dst, src []byte, g Grower) []byte {
	c, warm := d.pool.get(d.id)
	c.out = sink{b: dst, g: g}
	if !warm {
		var dict []byte
		if !d.noContext {
			dict = d.hist
			// Priming costs an encoding pass over the dictionary: a small message gets the
			// recent part of the history only (a compressor may use less history than the
			// receiver keeps; matches in JSON-like traffic are mostly recent anyway).
			if k := max(primeFactor*len(src), minPrime); len(dict) > k {
				dict = dict[len(dict)-k:]
			}
		}
		c.w.ResetDict(&c.out, dict)
	}
	start := len(dst)
	_, _ = c.w.Write(src) // the sink never fails
	_ = c.w.Flush()
	out := c.out.b
	c.out = sink{}
	if n := len(out); n-start >= 4 && [4]byte(out[n-4:]) == deflateTail {
		out = out[:n-4]
	} else {
		panic("codec: flate Flush did not end with a sync marker")
	}
	c.owner = d.id
	if !d.noContext {
		d.hist = slideWindow(d.hist, src, d.window)
	}
	d.pool.put(c)
	return out
}

// A cold compressor is primed with the last max(primeFactor*len(message), minPrime)
// bytes of the history.
const (
	primeFactor = 4
	minPrime    = 4 << 10
)

// sink is a compressor's output: it appends to a buffer the caller lends per message.
type sink struct {
	b []byte
	g Grower
}

func (s *sink) Write(p []byte) (int, error) {
	if cap(s.b)-len(s.b) < len(p) {
		s.b = grow(s.b, max(len(p), len(s.b)/2), s.g)
	}
	s.b = append(s.b, p...)
	return len(p), nil
}

type compressor struct {
	w     *flate.Writer
	out   sink
	owner uint64 // the Deflater whose stream w continues (0: none)
}

// compressorPool holds idle compressors of one level and window, most recent last. It
// is a bounded list rather than a sync.Pool so that a compressor can be found again by
// the connection whose stream it continues.
type compressorPool struct {
	mu     sync.Mutex
	idle   []*compressor
	level  int
	window int
}

// maxIdleCompressors bounds each pool (a compressor is about 0.8 MiB at level 1, 1 MiB with
// a custom window).
var maxIdleCompressors = max(4, 2*runtime.GOMAXPROCS(0))

var (
	levelPools  [10]compressorPool            // window 15, by level
	windowPools [MaxWindowBits]compressorPool // windows 8-14, by bits (level ignored)
	poolsInit   sync.Once
)

func poolFor(level, windowBits int) *compressorPool {
	poolsInit.Do(func() {
		for i := range levelPools {
			levelPools[i].level, levelPools[i].window = i, 1<<MaxWindowBits
		}
		for i := range windowPools {
			windowPools[i].window = 1 << i
		}
	})
	if windowBits == MaxWindowBits {
		return &levelPools[level]
	}
	return &windowPools[windowBits]
}

// get takes the compressor that continues owner's stream if it is idle (warm), else the
// least recently used one, else a new one.
func (p *compressorPool) get(owner uint64) (c *compressor, warm bool) {
	p.mu.Lock()
	if owner != 0 {
		for i := len(p.idle) - 1; i >= 0; i-- {
			if p.idle[i].owner == owner {
				c = p.idle[i]
				n := len(p.idle)
				copy(p.idle[i:], p.idle[i+1:])
				p.idle[n-1] = nil
				p.idle = p.idle[:n-1]
				p.mu.Unlock()
				return c, true
			}
		}
	}
	if n := len(p.idle); n > 0 {
		c = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		c.owner = 0
		return c, false
	}
	p.mu.Unlock()
	c = new(compressor)
	var err error
	if p.window == 1<<MaxWindowBits {
		c.w, err = flate.NewWriter(&c.out, p.level)
	} else {
		c.w, err = flate.NewWriterWindow(&c.out, p.window)
	}
	if err != nil {
		panic("codec: " + err.Error()) // levels and windows are checked by Init
	}
	return c, false
}

func (p *compressorPool) put(c *compressor) {
	p.mu.Lock()
	if len(p.idle) >= maxIdleCompressors {
		copy(p.idle, p.idle[1:]) // the least recently used one goes
		p.idle = p.idle[:len(p.idle)-1]
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}
