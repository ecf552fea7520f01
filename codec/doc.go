// Package codec is the byte-level half of a WebSocket (RFC 6455) client: frame
// headers, masking, close frames, UTF-8 validation, the opening handshake and
// permessage-deflate. It knows nothing about sockets: every function is pure and
// works on byte slices, parsers are resumable (short input asks for more bytes
// instead of failing), and the per-frame paths do not allocate.
//
// Every violation a conformant client must fail the connection for is reported
// as a *ProtocolError that carries the close code to send (1002, 1007 or 1009);
// the common ones are pre-built sentinels such as ErrMaskedFrame, so
// errors.Is(err, codec.ErrMaskedFrame) works and returning them costs nothing.
//
// Reading frames from a buffer:
//
//	var checker codec.FrameChecker
//	var text codec.UTF8Validator
//	for {
//		h, n, err := codec.ParseHeader(buf)
//		if err != nil {
//			return err // send a close frame with err.(*codec.ProtocolError).Code
//		}
//		if n > len(buf) || int64(len(buf)-n) < h.Length {
//			return nil // wait for more bytes, then try again
//		}
//		if err := checker.Check(h, 0); err != nil {
//			return err
//		}
//		payload := buf[n : n+int(h.Length)]
//		if !h.Opcode.IsControl() && checker.MessageOpcode() == codec.OpText {
//			if text.Write(payload) >= 0 {
//				return codec.ErrInvalidUTF8 // fail as soon as the bad byte arrives
//			}
//			if h.Fin {
//				if !text.Done() { // the message ends inside a character
//					return codec.ErrInvalidUTF8
//				}
//				text.Reset()
//			}
//		}
//		buf = buf[n+int(h.Length):]
//	}
//
// Writing one: codec.AppendHeader(dst, codec.Header{Fin: true, Opcode: codec.OpText,
// Masked: true, Mask: key, Length: int64(len(p))}), then the payload masked with Mask.
package codec
