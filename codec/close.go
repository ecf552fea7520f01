package codec

import "encoding/binary"

// CloseCodeAllowedOnWire reports whether c may appear in a close frame:
// 1000-1003 and 1007-1014 (defined by RFC 6455 and the IANA registry) and 3000-4999
// (registered and private use). 1004 is reserved; 1005, 1006 and 1015 are only for
// reporting locally; other codes below 3000 are unassigned, and 5000 and above do not exist.
func CloseCodeAllowedOnWire(c CloseCode) bool {
	switch {
	case c >= 1000 && c <= 1003,
		c >= 1007 && c <= 1014,
		c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// ParseClosePayload decodes the payload of a close frame. An empty payload means no
// status: it returns CloseNoStatus and no error. Otherwise the payload is a 2-byte
// big-endian code followed by a UTF-8 reason (a subslice of p). Errors:
// ErrCloseTooShort (1 byte), ErrControlTooLong (over 125 bytes), ErrInvalidCloseCode,
// ErrInvalidCloseReason; on a code or reason error, code and reason are still what
// the payload held, for diagnostics.
func ParseClosePayload(p []byte) (code CloseCode, reason []byte, err error) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, nil, nil
	case len(p) == 1:
		return 0, nil, ErrCloseTooShort
	case len(p) > MaxControlPayload:
		return 0, nil, ErrControlTooLong
	}
	code = CloseCode(binary.BigEndian.Uint16(p))
	reason = p[2:]
	if !CloseCodeAllowedOnWire(code) {
		return code, reason, ErrInvalidCloseCode
	}
	if !ValidUTF8(reason) {
		return code, reason, ErrInvalidCloseReason
	}
	return code, reason, nil
}

// AppendClosePayload appends the payload of a close frame with code and reason to dst.
// CloseNoStatus with an empty reason appends nothing (a close frame without a status).
// Errors, with dst returned unchanged: ErrInvalidCloseCode (a code not allowed on the
// wire), ErrCloseReasonTooLong (payload over 125 bytes), ErrInvalidCloseReason.
func AppendClosePayload(dst []byte, code CloseCode, reason string) ([]byte, error) {
	if code == CloseNoStatus && reason == "" {
		return dst, nil
	}
	if !CloseCodeAllowedOnWire(code) {
		return dst, ErrInvalidCloseCode
	}
	if 2+len(reason) > MaxControlPayload {
		return dst, ErrCloseReasonTooLong
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	dst = append(dst, reason...)
	// Validating the appended copy avoids converting the string (an allocation).
	if !ValidUTF8(dst[start+2:]) {
		return dst[:start], ErrInvalidCloseReason
	}
	return dst, nil
}
