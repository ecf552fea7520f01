package codec

// FrameChecker applies the client-side rules of RFC 6455 that need context:
// what a server may send, and how fragments of a message follow each other.
// The zero value is ready for a new connection.
type FrameChecker struct {
	inMessage bool   // a fragmented data message is open
	opcode    Opcode // opcode of the current (or last) data message
}

// Check validates the header of the next frame from the server. allowedRSV holds the
// RSV bits that a negotiated extension gives meaning to (RSV1 for permessage-deflate,
// otherwise 0). It returns one of the sentinel *ProtocolError values, or nil and then
// records the frame in the fragmentation state. A failed check changes nothing.
func (c *FrameChecker) Check(h Header, allowedRSV byte) error {
	// A client must fail a connection on a masked frame from the server (section 5.1).
	if h.Masked {
		return ErrMaskedFrame
	}
	if h.Opcode.IsReserved() {
		return ErrReservedOpcode
	}
	if h.Rsv&^allowedRSV != 0 {
		return ErrReservedBits
	}
	if h.Opcode.IsControl() {
		// Control frames may arrive between fragments and do not touch the state.
		switch {
		case h.Rsv&RSV1 != 0: // permessage-deflate never compresses control frames
			return ErrReservedBits
		case !h.Fin:
			return ErrFragmentedControl
		case h.Length > MaxControlPayload:
			return ErrControlTooLong
		}
		return nil
	}
	if h.Opcode == OpContinuation {
		if !c.inMessage {
			return ErrUnexpectedContinuation
		}
		if h.Rsv&RSV1 != 0 { // RSV1 ("compressed") belongs to the first frame only
			return ErrReservedBits
		}
		c.inMessage = !h.Fin
		return nil
	}
	if c.inMessage {
		return ErrExpectedContinuation
	}
	c.opcode = h.Opcode
	c.inMessage = !h.Fin
	return nil
}

// InMessage reports whether a fragmented message is open (its next data frame
// must be a continuation).
func (c *FrameChecker) InMessage() bool { return c.inMessage }

// MessageOpcode is the opcode (OpText or OpBinary) of the data message in progress,
// or of the last one once it has ended, so the frame that ends a message can still be
// told apart; OpContinuation before the first data frame.
func (c *FrameChecker) MessageOpcode() Opcode { return c.opcode }

// Reset forgets all state, as for a new connection.
func (c *FrameChecker) Reset() { *c = FrameChecker{} }
