package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsfleet/wsfleet/codec"
	"github.com/wsfleet/wsfleet/engine/internal/transport"
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

// feedSession runs server bytes through a session's frame reader, split into the given
// pieces as reads would split them, and reports what came out: the messages delivered, the
// error that failed the connection, the frames queued in reply.
func feedSession(pieces [][]byte, maxMessage int) (delivered string, failure string, replies int) {
	e := &Engine{clock: transport.NewClock()}
	rec := &recorder{}
	opts := (&DialOptions{Handler: rec, MaxMessageSize: maxMessage}).withDefaults()
	c := e.newConn(nil, &opts, nil)
	c.state.Store(uint32(StateOpen))
	s := &session{c: c, l: new(loop)}
	c.sess = s
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
			}
		}
	}
	if c.out != nil {
		replies = len(c.out.B)
	}
	return rec.log.String(), failure, replies
}

// FuzzSessionInput feeds arbitrary server bytes into a connection's input path, whole and
// split at fuzzer-chosen points: it must never panic, and how the bytes were split across
// reads must not change what is delivered, how the connection fails, or what it answers.
func FuzzSessionInput(f *testing.F) {
	seeds := [][]byte{
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
	for _, s := range seeds {
		f.Add(s, uint16(1), uint16(3))
	}
	f.Fuzz(func(t *testing.T, input []byte, cut1, cut2 uint16) {
		wholeOut, wholeErr, wholeReplies := feedSession([][]byte{input}, 1<<16)
		a, b := int(cut1)%(len(input)+1), int(cut2)%(len(input)+1)
		if a > b {
			a, b = b, a
		}
		pieces := [][]byte{input[:a], input[a:b], input[b:]}
		splitOut, splitErr, splitReplies := feedSession(pieces, 1<<16)
		if wholeOut != splitOut || wholeErr != splitErr || wholeReplies != splitReplies {
			t.Fatalf("split at %d,%d changed the outcome:\nwhole: %q %q %d\nsplit: %q %q %d",
				a, b, wholeOut, wholeErr, wholeReplies, splitOut, splitErr, splitReplies)
		}
		if strings.HasPrefix(wholeErr, "unexpected") {
			t.Fatal(wholeErr)
		}
	})
}
