package testkit

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"time"
)

// AcceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2).
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Upgrade reads a client's upgrade request from br and answers 101 on c, with extra header
// lines (each ending in CRLF) added.
func Upgrade(c net.Conn, br *bufio.Reader, extra string) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + AcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n" + extra + "\r\n"
	_, err = io.WriteString(c, resp)
	return req, err
}

// ServerFrame encodes an unmasked frame with the given first byte (FIN, RSV, opcode).
func ServerFrame(b0 byte, payload []byte) []byte {
	out := []byte{b0}
	n := len(payload)
	switch {
	case n <= 125:
		out = append(out, byte(n))
	case n <= 0xFFFF:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

// ClientFrame is a frame as a client sent it, unmasked.
type ClientFrame struct {
	Fin     bool
	Rsv     byte // the RSV bits in place (0x40 is RSV1)
	Op      byte
	Masked  bool
	Payload []byte
}

// ReadClientFrame reads one frame from br (c's reader) within timeout and unmasks it.
func ReadClientFrame(br *bufio.Reader, c net.Conn, timeout time.Duration) (ClientFrame, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	var f ClientFrame
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return f, err
	}
	f.Fin, f.Rsv, f.Op, f.Masked = h[0]&0x80 != 0, h[0]&0x70, h[0]&0x0F, h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var key [4]byte
	if f.Masked {
		if _, err := io.ReadFull(br, key[:]); err != nil {
			return f, err
		}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(br, f.Payload); err != nil {
		return f, err
	}
	for i := range f.Payload {
		f.Payload[i] ^= key[i&3]
	}
	return f, nil
}

// ClosePayload is a close frame's payload: the code, big-endian, then the reason.
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// CloseCode reads the code of a close frame's payload (1005, "no status", when absent).
func CloseCode(payload []byte) int {
	if len(payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(payload))
}
