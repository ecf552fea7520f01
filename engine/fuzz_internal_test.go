package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsfleet/wsfleet/codec"
)

// recorder is a Handler that writes down what a session delivered.
type recorder struct{ log bytes.Buffer }

func (r *recorder) OnOpen(*Conn) {}
func (r *recorder) OnMessage(_ *Conn, typ MessageType, data []byte) {
	fmt.Fprintf(&r.log, "%v:%q\n", typ, data)
}
func (r *recorder) OnClose(*Conn, error)        {}
func (r *recorder) OnPing(_ *Conn, data []byte) { fmt.Fprintf(&r.log, "ping:%q\n", data) }
func (r *recorder) OnPong(_ *Conn, data []byte) { fmt.Fprintf(&r.log, "pong:%q\n", data) }

// openSession builds, with the constructors the dial path uses (newEngine, Engine.newConn,
// newSession), an open session that no socket and no event loop carry: the protocol session
// alone, which the fuzz targets feed with server bytes. Frames it queues stay in c.out.
func openSession(h Handler, maxMessage int) *session {
	e := newEngine(Options{})
	opts, err := e.resolve(&DialOptions{Handler: h, MaxMessageSize: maxMessage})
	if err != nil {
		panic(err) // the options above always resolve
	}
	c := e.newConn(nil, opts, nil)
	s := newSession(c, nil)
	s.l = new(loop)
	c.sess = s
	c.setState(StateOpen)
	return s
}

// feedSession runs server bytes through a session's frame reader, split into the given
// pieces as reads would split them, and reports what came out: the messages delivered, the
// error that failed the connection, the bytes of the frames queued in reply. With weClose the
// application has started the close handshake first, from inside a callback (so the close
// frame waits in c.out for the loop, like a reply); its bytes are not counted as replies.
func feedSession(pieces [][]byte, maxMessage int, weClose bool) (delivered string, failure string, replies int) {
	rec := &recorder{}
	s := openSession(rec, maxMessage)
	c := s.c
	ours := 0
	if weClose {
		c.inLoop = true
		c.startClose(codec.CloseNormal, "bye")
		ours = len(c.out.B)
	}
	for _, p := range pieces {
		if s.readFrames(p) != gnet.None {
			break
		}
	}
	if c.lastErr != nil {
		failure = c.lastErr.Error()
		var pe *codec.ProtocolError
		if !errors.As(c.lastErr, &pe) {
			var ce *CloseError
			if !errors.As(c.lastErr, &ce) {
				failure = "unexpected error type: " + failure
			} else if weClose && ce.Remote {
				failure = "the server's close counted as remote after ours: " + failure
			}
		}
	}
	if c.out != nil {
		replies = len(c.out.B) - ours
	}
	return rec.log.String(), failure, replies
}

// sessionSeeds are server byte streams that reach the reader's corners: fragments with a ping
// between them, close frames (valid, bad UTF-8 reason), 16- and 64-bit lengths, a text message
// cut inside a UTF-8 sequence, empty control frames, a reserved bit.
var sessionSeeds = [][]byte{
	{0x81, 0x02, 'h', 'i'},
	{0x01, 0x01, 'a', 0x89, 0x01, 'p', 0x80, 0x01, 'b'},
	{0x88, 0x02, 0x03, 0xe8},
	{0x88, 0x03, 0x03, 0xe8, 0xff},
	{0x82, 0x7e, 0x00, 0x80},
	{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1},
	{0x81, 0x04, 0xce, 0xba, 0xe1, 0xbd},
	{0x89, 0x00, 0x8a, 0x00, 0x81, 0x00},
	{0xc1, 0x01, 'x'},
}

// checkSplit feeds input whole and split at two fuzzer-chosen points: how the bytes were
// split across reads must not change what is delivered, how the connection fails, or what
// it answers.
func checkSplit(t *testing.T, input []byte, cut1, cut2 uint16, weClose bool) (failure string, replies int) {
	wholeOut, wholeErr, wholeReplies := feedSession([][]byte{input}, 1<<16, weClose)
	a, b := int(cut1)%(len(input)+1), int(cut2)%(len(input)+1)
	if a > b {
		a, b = b, a
	}
	pieces := [][]byte{input[:a], input[a:b], input[b:]}
	splitOut, splitErr, splitReplies := feedSession(pieces, 1<<16, weClose)
	if wholeOut != splitOut || wholeErr != splitErr || wholeReplies != splitReplies {
		t.Fatalf("split at %d,%d changed the outcome:\nwhole: %q %q %d\nsplit: %q %q %d",
			a, b, wholeOut, wholeErr, wholeReplies, splitOut, splitErr, splitReplies)
	}
	if strings.HasPrefix(wholeErr, "unexpected") || strings.HasPrefix(wholeErr, "the server's close") {
		t.Fatal(wholeErr)
	}
	return wholeErr, wholeReplies
}

// FuzzSessionInput feeds arbitrary server bytes into a connection's input path, whole and
// split at fuzzer-chosen points: it must never panic, and how the bytes were split across
// reads must not change what is delivered, how the connection fails, or what it answers.
func FuzzSessionInput(f *testing.F) {
	for _, s := range sessionSeeds {
		f.Add(s, uint16(1), uint16(3))
	}
	f.Fuzz(func(t *testing.T, input []byte, cut1, cut2 uint16) {
		checkSplit(t, input, cut1, cut2, false)
	})
}

// FuzzCloseHandshake is FuzzSessionInput once the application has sent its close frame:
// whatever the server sends then, nothing may follow our close frame on the wire (no pong, no
// echo of the server's close, no second close for a violation, RFC 6455 §5.5.1), and the
// server's close frame completes our handshake rather than starting its own.
func FuzzCloseHandshake(f *testing.F) {
	for _, s := range sessionSeeds {
		f.Add(s, uint16(1), uint16(3))
	}
	f.Fuzz(func(t *testing.T, input []byte, cut1, cut2 uint16) {
		if _, replies := checkSplit(t, input, cut1, cut2, true); replies != 0 {
			t.Fatalf("%d bytes queued after our close frame", replies)
		}
	})
}
