package testserver

import (
	"errors"

	"github.com/wsfleet/wsfleet/codec"
)

// feed parses client frames out of p, unmasks them in place and queues the
// replies on b. A frame may span any number of reads: its header waits in
// wc.hdr, and its payload is echoed piece by piece as it arrives.
func (wc *wsConn) feed(p []byte, b *batch) verdict {
	for len(p) > 0 {
		if !wc.inFrame {
			var h codec.Header
			var n int
			var err error
			if wc.hdrN == 0 {
				h, n, err = codec.ParseHeader(p)
				if err == nil && n > len(p) {
					wc.hdrN = copy(wc.hdr[:], p)
					return keep
				}
				p = p[min(n, len(p)):]
			} else {
				// Complete the header kept from an earlier read; n may grow as bytes come.
				for {
					h, n, err = codec.ParseHeader(wc.hdr[:wc.hdrN])
					if err != nil || n <= wc.hdrN {
						break
					}
					if len(p) == 0 {
						return keep
					}
					k := copy(wc.hdr[wc.hdrN:n], p)
					wc.hdrN += k
					p = p[k:]
				}
				wc.hdrN = 0
			}
			if err != nil {
				return wc.fail(b, err)
			}
			if v := wc.beginFrame(h, b); v != keep {
				return v
			}
		} else {
			k := int(min(wc.remaining, int64(len(p))))
			seg := p[:k]
			p = p[k:]
			wc.maskPos = codec.Mask(seg, wc.frame.Mask, wc.maskPos)
			wc.remaining -= int64(k)
			if wc.frame.Opcode.IsControl() {
				wc.ctrlN += copy(wc.ctrl[wc.ctrlN:], seg)
			} else if v := wc.dataPiece(seg, b); v != keep {
				return v
			}
		}
		if wc.inFrame && wc.remaining == 0 {
			if v := wc.endFrame(b); v != keep {
				return v
			}
		}
		if b.full() && !wc.flush(b) {
			return gone
		}
	}
	return keep
}

// beginFrame checks a header and starts its frame.
func (wc *wsConn) beginFrame(h codec.Header, b *batch) verdict {
	if !h.Masked {
		return wc.fail(b, errUnmasked)
	}
	// FrameChecker holds the fragmentation rules; its masking rule is the client's
	// (servers must not mask), so it sees the header as if unmasked.
	hc := h
	hc.Masked = false
	if err := wc.checker.Check(hc, 0); err != nil {
		return wc.fail(b, err)
	}
	if !h.Opcode.IsControl() {
		if h.Opcode != codec.OpContinuation {
			wc.text = h.Opcode == codec.OpText
			wc.msgLen = 0
			wc.utf8.Reset()
		}
		wc.msgLen += h.Length
		if wc.msgLen > int64(wc.srv.opts.MaxMessageSize) {
			return wc.fail(b, codec.ErrMessageTooBig)
		}
	}
	wc.frame = h
	wc.inFrame = true
	wc.remaining = h.Length
	wc.maskPos = 0
	if h.Opcode.IsControl() {
		wc.ctrlN = 0
		return keep
	}
	// The echo header waits for the first payload piece, so that text which fails
	// UTF-8 in that piece can still be answered with a clean close frame.
	wc.hdrOwed = true
	return keep
}

// dataPiece echoes the next unmasked piece of a data frame's payload.
func (wc *wsConn) dataPiece(seg []byte, b *batch) verdict {
	if wc.phase != phaseOpen {
		return keep // after our close frame, data is read and dropped
	}
	if wc.text && (wc.utf8.Write(seg) >= 0 || (wc.remaining == 0 && wc.frame.Fin && !wc.utf8.Done())) {
		return wc.fail(b, codec.ErrInvalidUTF8)
	}
	wc.owedHeader(b)
	b.appendPayload(seg)
	wc.loop.ctr.bytesIn.Add(int64(len(seg)))
	wc.loop.ctr.bytesOut.Add(int64(len(seg)))
	return keep
}

// owedHeader queues the echo of the current data frame's header if it is not out yet.
func (wc *wsConn) owedHeader(b *batch) {
	if wc.hdrOwed {
		wc.hdrOwed = false
		wc.echoing = wc.remaining > 0
		b.arena = codec.AppendHeader(b.arena, codec.Header{Fin: wc.frame.Fin, Opcode: wc.frame.Opcode, Length: wc.frame.Length})
	}
}

// endFrame finishes the frame whose last payload byte (or empty payload) has arrived.
func (wc *wsConn) endFrame(b *batch) verdict {
	wc.inFrame = false
	wc.echoing = false
	op := wc.frame.Opcode
	if !op.IsControl() {
		if wc.phase != phaseOpen {
			return keep
		}
		wc.owedHeader(b)
		if !wc.frame.Fin {
			return keep
		}
		if wc.text && !wc.utf8.Done() {
			return wc.fail(b, codec.ErrInvalidUTF8) // the message ends inside a UTF-8 sequence
		}
		wc.loop.ctr.messagesIn.Add(1)
		wc.loop.ctr.messagesOut.Add(1)
		wc.echoed++
		if wc.route.kind == routeReset && wc.echoed >= wc.route.resetAfter {
			wc.phase = phaseDone
			return resetTCP
		}
		return keep
	}

	payload := wc.ctrl[:wc.ctrlN]
	switch op {
	case codec.OpPing:
		if wc.phase == phaseOpen {
			wc.appendFrame(b, codec.OpPong, payload)
		}
	case codec.OpClose:
		if _, _, err := codec.ParseClosePayload(payload); err != nil {
			return wc.fail(b, err)
		}
		if wc.phase == phaseOpen {
			wc.appendFrame(b, codec.OpClose, payload) // echo code and reason
		}
		wc.phase = phaseDone
		return closeTCP
	}
	return keep // pong
}

// errUnmasked: RFC 6455 section 5.1, a server must fail a connection whose client does not mask.
var errUnmasked = &codec.ProtocolError{Code: codec.CloseProtocolError, Reason: "client sent an unmasked frame"}

// fail queues a close frame for a protocol violation; TCP closes after it.
func (wc *wsConn) fail(b *batch, err error) verdict {
	code := codec.CloseProtocolError
	var pe *codec.ProtocolError
	if errors.As(err, &pe) {
		code = pe.Code
	}
	if wc.phase == phaseOpen {
		if wc.echoing {
			// Part of this frame's echo is out: a close frame here would be read
			// as its payload, so the connection is failed by closing TCP alone.
			wc.phase = phaseDone
			return closeTCP
		}
		var buf [2 + 32]byte
		payload, _ := codec.AppendClosePayload(buf[:0], code, closeReason(code))
		wc.appendFrame(b, codec.OpClose, payload)
	}
	wc.phase = phaseDone
	return closeTCP
}

// closeReason is the short reason sent with a close code (the client sees the code anyway).
func closeReason(code codec.CloseCode) string {
	switch code {
	case codec.CloseInvalidPayload:
		return "invalid UTF-8"
	case codec.CloseMessageTooBig:
		return "message too big"
	}
	return "protocol error"
}
