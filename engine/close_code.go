package engine

import "github.com/wsfleet/wsfleet/codec"

// CloseCode is the status code of a close frame (RFC 6455 §7.4): what Conn.CloseWith sends
// and what a CloseError or ProtocolError reports.
type CloseCode uint16

// Close codes of RFC 6455 §7.4.1 and the IANA registry. CloseNoStatus, CloseAbnormal and
// CloseTLSHandshake are never sent on the wire: a CloseError reports CloseNoStatus for a
// close frame without a code. Applications may send 3000-4999 too.
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

// String gives the number and its meaning, e.g. "1002 (protocol error)".
func (c CloseCode) String() string { return codec.CloseCode(c).String() }
