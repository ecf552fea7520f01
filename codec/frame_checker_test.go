package codec

import (
	"errors"
	"fmt"
	"testing"
)

func textFrame(fin bool) Header         { return Header{Fin: fin, Opcode: OpText, Length: 3} }
func binaryFrame(fin bool) Header       { return Header{Fin: fin, Opcode: OpBinary, Length: 3} }
func continuationFrame(fin bool) Header { return Header{Fin: fin, Opcode: OpContinuation, Length: 3} }
func controlFrame(op Opcode) Header     { return Header{Fin: true, Opcode: op, Length: 2} }

func withRsv(h Header, rsv byte) Header { h.Rsv = rsv; return h }

func TestFrameChecker(t *testing.T) {
	cases := []struct {
		name    string
		rsv     byte // allowed RSV bits
		frames  []Header
		failAt  int // index of the frame that must fail, -1 for none
		wantErr error
	}{
		{"single text", 0, []Header{textFrame(true)}, -1, nil},
		{"fragmented text", 0, []Header{textFrame(false), continuationFrame(false), continuationFrame(true)}, -1, nil},
		{"ping, pong and close between fragments", 0, []Header{binaryFrame(false), controlFrame(OpPing), continuationFrame(false), controlFrame(OpPong), continuationFrame(true), controlFrame(OpClose)}, -1, nil},
		{"empty fragments", 0, []Header{{Opcode: OpText}, {Opcode: OpContinuation}, {Fin: true, Opcode: OpContinuation}}, -1, nil},
		{"control payload 125", 0, []Header{{Fin: true, Opcode: OpPing, Length: 125}}, -1, nil},

		{"masked frame", 0, []Header{{Fin: true, Opcode: OpText, Masked: true}}, 0, ErrMaskedFrame},
		{"masked control", 0, []Header{{Fin: true, Opcode: OpPing, Masked: true}}, 0, ErrMaskedFrame},
		{"opcode 3", 0, []Header{controlFrame(3)}, 0, ErrReservedOpcode},
		{"opcode 7", 0, []Header{controlFrame(7)}, 0, ErrReservedOpcode},
		{"opcode 0xB", 0, []Header{controlFrame(0xB)}, 0, ErrReservedOpcode},
		{"opcode 0xF", 0, []Header{controlFrame(0xF)}, 0, ErrReservedOpcode},
		{"reserved opcode mid-message", 0, []Header{textFrame(false), controlFrame(5)}, 1, ErrReservedOpcode},
		{"RSV1 without extension", 0, []Header{withRsv(textFrame(true), RSV1)}, 0, ErrReservedBits},
		{"RSV2", 0, []Header{withRsv(textFrame(true), RSV2)}, 0, ErrReservedBits},
		{"RSV3 on ping", 0, []Header{withRsv(controlFrame(OpPing), RSV3)}, 0, ErrReservedBits},
		{"RSV1 with deflate", RSV1, []Header{withRsv(textFrame(false), RSV1), continuationFrame(true)}, -1, nil},
		{"RSV2 with deflate", RSV1, []Header{withRsv(textFrame(true), RSV2)}, 0, ErrReservedBits},
		{"RSV1 on continuation with deflate", RSV1, []Header{withRsv(textFrame(false), RSV1), withRsv(continuationFrame(true), RSV1)}, 1, ErrReservedBits},
		{"RSV1 on ping with deflate", RSV1, []Header{withRsv(controlFrame(OpPing), RSV1)}, 0, ErrReservedBits},
		{"RSV1 on close with deflate", RSV1, []Header{withRsv(controlFrame(OpClose), RSV1)}, 0, ErrReservedBits},
		{"fragmented ping", 0, []Header{{Opcode: OpPing}}, 0, ErrFragmentedControl},
		{"fragmented close", 0, []Header{{Opcode: OpClose}}, 0, ErrFragmentedControl},
		{"ping 126", 0, []Header{{Fin: true, Opcode: OpPing, Length: 126}}, 0, ErrControlTooLong},
		{"close 126", 0, []Header{{Fin: true, Opcode: OpClose, Length: 126}}, 0, ErrControlTooLong},
		{"pong huge", 0, []Header{{Fin: true, Opcode: OpPong, Length: 1 << 40}}, 0, ErrControlTooLong},
		{"continuation first", 0, []Header{continuationFrame(true)}, 0, ErrUnexpectedContinuation},
		{"continuation after a complete message", 0, []Header{textFrame(true), continuationFrame(true)}, 1, ErrUnexpectedContinuation},
		{"continuation after the final fragment", 0, []Header{textFrame(false), continuationFrame(true), continuationFrame(true)}, 2, ErrUnexpectedContinuation},
		{"text inside a fragmented text", 0, []Header{textFrame(false), textFrame(true)}, 1, ErrExpectedContinuation},
		{"binary inside a fragmented text", 0, []Header{textFrame(false), continuationFrame(false), binaryFrame(false)}, 2, ErrExpectedContinuation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fc FrameChecker
			for i, h := range c.frames {
				err := fc.Check(h, c.rsv)
				if i == c.failAt {
					if err != c.wantErr {
						t.Fatalf("frame %d (%+v): %v, want %v", i, h, err, c.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("frame %d (%+v): unexpected %v", i, h, err)
				}
			}
			if c.failAt >= 0 {
				t.Fatal("no error")
			}
		})
	}
}

func TestFrameCheckerState(t *testing.T) {
	var fc FrameChecker
	if fc.InMessage() || fc.MessageOpcode() != OpContinuation {
		t.Fatal("zero value not idle")
	}
	steps := []struct {
		h         Header
		inMessage bool
		opcode    Opcode
	}{
		{textFrame(false), true, OpText},
		{controlFrame(OpPing), true, OpText},
		{continuationFrame(false), true, OpText},
		{continuationFrame(true), false, OpText}, // the opcode survives the end of the message
		{binaryFrame(true), false, OpBinary},
		{binaryFrame(false), true, OpBinary},
	}
	for i, s := range steps {
		if err := fc.Check(s.h, 0); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if fc.InMessage() != s.inMessage || fc.MessageOpcode() != s.opcode {
			t.Fatalf("step %d: InMessage %v MessageOpcode %v, want %v %v", i, fc.InMessage(), fc.MessageOpcode(), s.inMessage, s.opcode)
		}
	}
	// A rejected frame leaves the state alone.
	if err := fc.Check(textFrame(true), 0); err != ErrExpectedContinuation {
		t.Fatal(err)
	}
	if !fc.InMessage() || fc.MessageOpcode() != OpBinary {
		t.Fatal("a failed Check changed the state")
	}
	fc.Reset()
	if fc.InMessage() || fc.MessageOpcode() != OpContinuation {
		t.Fatal("Reset did not clear the state")
	}
	if err := fc.Check(continuationFrame(true), 0); err != ErrUnexpectedContinuation {
		t.Fatal(err)
	}
}

// Every frame the checker rejects maps to close 1002, through errors.As on a wrapped error.
func TestFrameCheckerErrorsCarryCloseCode(t *testing.T) {
	var fc FrameChecker
	err := fmt.Errorf("reading frame: %w", fc.Check(Header{Fin: true, Opcode: OpText, Masked: true}, 0))
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != CloseProtocolError || !errors.Is(err, ErrMaskedFrame) {
		t.Fatalf("%v: As %v, code %v", err, errors.As(err, &pe), pe)
	}
	if pe.Error() != "websocket: server sent a masked frame (close 1002)" {
		t.Fatalf("message %q", pe.Error())
	}
}

func TestFrameCheckerDoesNotAllocate(t *testing.T) {
	var fc FrameChecker
	frames := []Header{textFrame(false), controlFrame(OpPing), continuationFrame(true), {Fin: true, Opcode: OpText, Masked: true}}
	if n := testing.AllocsPerRun(100, func() {
		for _, h := range frames {
			_ = fc.Check(h, 0)
		}
		fc.Reset()
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

var sinkErr error

func BenchmarkFrameCheckerCheck(b *testing.B) {
	b.Run("unfragmented", func(b *testing.B) {
		b.ReportAllocs()
		var fc FrameChecker
		h := Header{Fin: true, Opcode: OpBinary, Length: 4096}
		for b.Loop() {
			sinkErr = fc.Check(h, RSV1)
		}
	})
	b.Run("fragmented-with-ping", func(b *testing.B) {
		b.ReportAllocs()
		var fc FrameChecker
		frames := [...]Header{textFrame(false), controlFrame(OpPing), continuationFrame(true)}
		for b.Loop() {
			for _, h := range frames {
				sinkErr = fc.Check(h, 0)
			}
		}
	})
	b.Run("rejected", func(b *testing.B) {
		b.ReportAllocs()
		var fc FrameChecker
		h := Header{Fin: true, Opcode: OpText, Masked: true}
		for b.Loop() {
			sinkErr = fc.Check(h, 0)
		}
	})
}

// Reading server frames from a buffer: parse, check, validate text as it arrives.
func ExampleFrameChecker() {
	var in []byte
	in = append(AppendHeader(in, Header{Opcode: OpText, Length: 3}), "Hel"...)
	in = append(AppendHeader(in, Header{Fin: true, Opcode: OpPing, Length: 1}), "!"...)
	in = append(AppendHeader(in, Header{Fin: true, Opcode: OpContinuation, Length: 3}), "lo\xff"...)

	var checker FrameChecker
	var text UTF8Validator
	for len(in) > 0 {
		h, n, err := ParseHeader(in)
		if err != nil || n > len(in) || int64(len(in)-n) < h.Length {
			break // malformed, or wait for more bytes
		}
		if err := checker.Check(h, 0); err != nil {
			fmt.Println(err)
			return
		}
		payload := in[n : n+int(h.Length)]
		in = in[n+int(h.Length):]
		if h.Opcode.IsControl() {
			fmt.Printf("%v %q\n", h.Opcode, payload)
			continue
		}
		fmt.Printf("%v fragment %q\n", checker.MessageOpcode(), payload)
		if checker.MessageOpcode() == OpText && text.Write(payload) >= 0 {
			fmt.Println(ErrInvalidUTF8, "-> send close", ErrInvalidUTF8.Code)
			return
		}
	}
	// Output:
	// text fragment "Hel"
	// ping "!"
	// text fragment "lo\xff"
	// websocket: text message is not valid UTF-8 (close 1007) -> send close 1007 (invalid payload data)
}
