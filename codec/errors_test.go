package codec

import (
	"errors"
	"fmt"
	"testing"
)

func TestCloseCodeString(t *testing.T) {
	for code, want := range map[CloseCode]string{
		CloseNormal:        "1000 (normal closure)",
		CloseProtocolError: "1002 (protocol error)",
		1004:               "1004 (reserved)",
		CloseNoStatus:      "1005 (no status received)",
		CloseMessageTooBig: "1009 (message too big)",
		CloseTLSHandshake:  "1015 (TLS handshake failure)",
		3001:               "3001 (registered)",
		4000:               "4000 (private use)",
		1999:               "1999 (unknown)",
		5000:               "5000 (unknown)",
	} {
		if got := code.String(); got != want {
			t.Errorf("%d: %q, want %q", uint16(code), got, want)
		}
	}
}

func TestProtocolErrorSentinels(t *testing.T) {
	sentinels := []struct {
		err  *ProtocolError
		code CloseCode
	}{
		{ErrMaskedFrame, 1002}, {ErrReservedBits, 1002}, {ErrReservedOpcode, 1002},
		{ErrFragmentedControl, 1002}, {ErrControlTooLong, 1002}, {ErrUnexpectedContinuation, 1002},
		{ErrExpectedContinuation, 1002}, {ErrLengthOverflow, 1002}, {ErrNonMinimalLength, 1002},
		{ErrInvalidCloseCode, 1002}, {ErrCloseTooShort, 1002}, {ErrCloseReasonTooLong, 1002},
		{ErrInvalidCloseReason, 1007}, {ErrInvalidUTF8, 1007}, {ErrMessageTooBig, 1009},
	}
	seen := map[string]bool{}
	for _, s := range sentinels {
		if s.err.Code != s.code {
			t.Errorf("%v: code %v, want %v", s.err, s.err.Code, s.code)
		}
		msg := s.err.Error()
		if seen[msg] {
			t.Errorf("two sentinels read %q", msg)
		}
		seen[msg] = true
		if want := fmt.Sprintf("websocket: %s (close %d)", s.err.Reason, s.code); msg != want {
			t.Errorf("Error() = %q, want %q", msg, want)
		}
		wrapped := fmt.Errorf("conn 42: %w", s.err)
		var pe *ProtocolError
		if !errors.Is(wrapped, s.err) || !errors.As(wrapped, &pe) || pe != s.err {
			t.Errorf("%v: errors.Is/As do not see through wrapping", s.err)
		}
		for _, other := range sentinels {
			if other.err != s.err && errors.Is(wrapped, other.err) {
				t.Errorf("%v matches %v", s.err, other.err)
			}
		}
	}
}
