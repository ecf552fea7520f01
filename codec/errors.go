package codec

import "strconv"

// CloseCode is the status code carried by a close frame (RFC 6455 section 7.4).
type CloseCode uint16

// Close codes defined by RFC 6455 section 7.4.1 and the IANA registry.
// CloseNoStatus, CloseAbnormal and CloseTLSHandshake are never sent on the wire;
// they exist so that an API can report "no code", "connection dropped" and "TLS failed".
const (
	CloseNormal             CloseCode = 1000
	CloseGoingAway          CloseCode = 1001
	CloseProtocolError      CloseCode = 1002
	CloseUnsupportedData    CloseCode = 1003
	CloseNoStatus           CloseCode = 1005
	CloseAbnormal           CloseCode = 1006
	CloseInvalidPayload     CloseCode = 1007
	ClosePolicyViolation    CloseCode = 1008
	CloseMessageTooBig      CloseCode = 1009
	CloseMandatoryExtension CloseCode = 1010
	CloseInternalError      CloseCode = 1011
	CloseServiceRestart     CloseCode = 1012
	CloseTryAgainLater      CloseCode = 1013
	CloseBadGateway         CloseCode = 1014
	CloseTLSHandshake       CloseCode = 1015
)

// String returns the number and its meaning, e.g. "1002 (protocol error)".
func (c CloseCode) String() string {
	return strconv.Itoa(int(c)) + " (" + c.meaning() + ")"
}

func (c CloseCode) meaning() string {
	switch c {
	case CloseNormal:
		return "normal closure"
	case CloseGoingAway:
		return "going away"
	case CloseProtocolError:
		return "protocol error"
	case CloseUnsupportedData:
		return "unsupported data"
	case 1004:
		return "reserved"
	case CloseNoStatus:
		return "no status received"
	case CloseAbnormal:
		return "abnormal closure"
	case CloseInvalidPayload:
		return "invalid payload data"
	case ClosePolicyViolation:
		return "policy violation"
	case CloseMessageTooBig:
		return "message too big"
	case CloseMandatoryExtension:
		return "mandatory extension"
	case CloseInternalError:
		return "internal error"
	case CloseServiceRestart:
		return "service restart"
	case CloseTryAgainLater:
		return "try again later"
	case CloseBadGateway:
		return "bad gateway"
	case CloseTLSHandshake:
		return "TLS handshake failure"
	}
	switch {
	case c >= 3000 && c <= 3999:
		return "registered"
	case c >= 4000 && c <= 4999:
		return "private use"
	}
	return "unknown"
}

// ProtocolError is a violation of RFC 6455 by the peer (or by a caller building a frame),
// together with the close code a conformant endpoint sends because of it.
type ProtocolError struct {
	Code   CloseCode
	Reason string
}

// Error reads e.g. "websocket: server sent a masked frame (close 1002)".
func (e *ProtocolError) Error() string {
	return "websocket: " + e.Reason + " (close " + strconv.Itoa(int(e.Code)) + ")"
}

// The sentinels below are pre-built so that returning one allocates nothing on the
// frame path; compare with errors.Is (identity) or get the code with errors.As.
var (
	ErrMaskedFrame            = &ProtocolError{CloseProtocolError, "server sent a masked frame"}
	ErrReservedBits           = &ProtocolError{CloseProtocolError, "server set reserved bits (RSV1-3) that no extension negotiated"}
	ErrReservedOpcode         = &ProtocolError{CloseProtocolError, "server sent a frame with a reserved opcode"}
	ErrFragmentedControl      = &ProtocolError{CloseProtocolError, "server sent a fragmented control frame"}
	ErrControlTooLong         = &ProtocolError{CloseProtocolError, "control frame payload longer than 125 bytes"}
	ErrUnexpectedContinuation = &ProtocolError{CloseProtocolError, "server sent a continuation frame with no message in progress"}
	ErrExpectedContinuation   = &ProtocolError{CloseProtocolError, "server started a new message before finishing the fragmented one"}
	ErrLengthOverflow         = &ProtocolError{CloseProtocolError, "frame length has its most significant bit set"}
	ErrNonMinimalLength       = &ProtocolError{CloseProtocolError, "frame length not in its minimal encoding"}
	ErrInvalidCloseCode       = &ProtocolError{CloseProtocolError, "close frame carries a status code not allowed on the wire"}
	ErrCloseTooShort          = &ProtocolError{CloseProtocolError, "close frame payload of 1 byte (a status code takes 2)"}
	ErrCloseReasonTooLong     = &ProtocolError{CloseProtocolError, "close reason longer than 123 bytes"}
	ErrInvalidCloseReason     = &ProtocolError{CloseInvalidPayload, "close reason is not valid UTF-8"}
	ErrInvalidUTF8            = &ProtocolError{CloseInvalidPayload, "text message is not valid UTF-8"}
	ErrMessageTooBig          = &ProtocolError{CloseMessageTooBig, "message exceeds the size limit"}
)
