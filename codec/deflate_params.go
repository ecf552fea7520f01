package codec

import (
	"errors"
	"strconv"
)

// permessage-deflate negotiation (RFC 7692 section 7.1): the client's offer as
// Sec-WebSocket-Extensions text, and the strict reading of the server's answer.

// DeflateExtension is the extension token of permessage-deflate.
const DeflateExtension = "permessage-deflate"

// Window sizes a max_window_bits parameter may carry (RFC 7692 section 7.1.2).
const (
	MinWindowBits = 8
	MaxWindowBits = 15
)

// DeflateOffer is what a client offers. The zero value offers plain
// "permessage-deflate; client_max_window_bits": context takeover both ways, any
// server window, and the server free to bound ours.
type DeflateOffer struct {
	// ServerNoContextTakeover asks the server to compress every message on its own,
	// so that we keep no inflate history.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover announces that we compress every message on its own
	// (the server may then keep no inflate history for us).
	ClientNoContextTakeover bool
	// ServerMaxWindowBits, 8 to 15, asks the server for a smaller LZ77 window (our
	// inflate history shrinks with it); 0 does not ask.
	ServerMaxWindowBits int
	// ClientMaxWindowBits, 8 to 15, announces the largest window we compress with;
	// 0 offers the parameter without a value (we accept any limit the server sets).
	ClientMaxWindowBits int
	// OmitClientMaxWindowBits leaves client_max_window_bits out of the offer (the
	// server may then not limit our window). ClientMaxWindowBits must be 0.
	OmitClientMaxWindowBits bool
}

// DeflateParams is a negotiated permessage-deflate: what each side does.
type DeflateParams struct {
	// ServerNoContextTakeover: the server compresses every message on its own, so
	// no inflate history is kept.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: we compress every message on its own (stateless).
	ClientNoContextTakeover bool
	// ServerMaxWindowBits is the window the server compresses with at most (15
	// when it said nothing): the inflate history we keep is 1<<ServerMaxWindowBits.
	ServerMaxWindowBits int
	// ClientMaxWindowBits is the window we compress with: the smaller of our offer
	// and the server's limit, 15 when neither set one.
	ClientMaxWindowBits int
}

// Validate reports an offer that cannot be sent.
func (o DeflateOffer) Validate() error {
	if o.ServerMaxWindowBits != 0 && (o.ServerMaxWindowBits < MinWindowBits || o.ServerMaxWindowBits > MaxWindowBits) {
		return errors.New("permessage-deflate: server_max_window_bits must be 8 to 15, got " + strconv.Itoa(o.ServerMaxWindowBits))
	}
	if o.ClientMaxWindowBits != 0 && (o.ClientMaxWindowBits < MinWindowBits || o.ClientMaxWindowBits > MaxWindowBits) {
		return errors.New("permessage-deflate: client_max_window_bits must be 8 to 15, got " + strconv.Itoa(o.ClientMaxWindowBits))
	}
	if o.OmitClientMaxWindowBits && o.ClientMaxWindowBits != 0 {
		return errors.New("permessage-deflate: client_max_window_bits both omitted and set")
	}
	return nil
}

// AppendOffer appends the offer as one Sec-WebSocket-Extensions element, e.g.
// "permessage-deflate; client_no_context_takeover; client_max_window_bits=10".
// The offer is not validated (see Validate).
func (o DeflateOffer) AppendOffer(dst []byte) []byte {
	dst = append(dst, DeflateExtension...)
	if o.ServerNoContextTakeover {
		dst = append(dst, "; server_no_context_takeover"...)
	}
	if o.ClientNoContextTakeover {
		dst = append(dst, "; client_no_context_takeover"...)
	}
	if o.ServerMaxWindowBits != 0 {
		dst = append(dst, "; server_max_window_bits="...)
		dst = strconv.AppendInt(dst, int64(o.ServerMaxWindowBits), 10)
	}
	if !o.OmitClientMaxWindowBits {
		dst = append(dst, "; client_max_window_bits"...)
		if o.ClientMaxWindowBits != 0 {
			dst = append(dst, '=')
			dst = strconv.AppendInt(dst, int64(o.ClientMaxWindowBits), 10)
		}
	}
	return dst
}

// String is AppendOffer as a string.
func (o DeflateOffer) String() string { return string(o.AppendOffer(nil)) }

// DeflateParamError is a server's answer to a permessage-deflate offer that the
// client must refuse (RFC 7692 section 7.1: "the client MUST _Fail the WebSocket
// Connection_"). Param names the offending parameter ("" when the answer as a
// whole is malformed).
type DeflateParamError struct {
	Param  string
	Reason string
}

func (e *DeflateParamError) Error() string {
	if e.Param == "" {
		return "permessage-deflate: " + e.Reason
	}
	return "permessage-deflate: server answered " + strconv.Quote(e.Param) + ": " + e.Reason
}

func paramErr(name []byte, reason string) error {
	return &DeflateParamError{Param: string(name), Reason: reason}
}

// Accept reads the server's Sec-WebSocket-Extensions (the raw value, all header
// lines joined with ", ", as ResponseParser.Extensions gives it) against the
// offer. ok is false when the server did not enable permessage-deflate. Any
// parameter the offer does not allow is an error naming it: unknown or
// repeated parameters, a value where none belongs or none where one must be,
// window bits outside 8-15 or above what was offered, client_max_window_bits
// when it was not offered, permessage-deflate enabled twice. Elements of other
// extensions are skipped (ResponseParser already refuses those not offered).
func (o DeflateOffer) Accept(header []byte) (p DeflateParams, ok bool, err error) {
	const malformed = "malformed Sec-WebSocket-Extensions"
	v := header
	i := 0
	for {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
		if i == len(v) {
			return p, ok, nil
		}
		name := hsTokenAt(v, i)
		if len(name) == 0 {
			return DeflateParams{}, false, &DeflateParamError{Reason: malformed}
		}
		i += len(name)
		mine := hsEqualFold(name, DeflateExtension)
		if mine {
			if ok {
				return DeflateParams{}, false, &DeflateParamError{Reason: "server enabled permessage-deflate twice"}
			}
			ok = true
			p = DeflateParams{ServerMaxWindowBits: MaxWindowBits, ClientMaxWindowBits: MaxWindowBits}
			if o.ClientMaxWindowBits != 0 {
				p.ClientMaxWindowBits = o.ClientMaxWindowBits
			}
		}
		var seen [4]bool
		for {
			i = hsSkipOWS(v, i)
			if i == len(v) || v[i] == ',' {
				break
			}
			if v[i] != ';' {
				return DeflateParams{}, false, &DeflateParamError{Reason: malformed}
			}
			i = hsSkipOWS(v, i+1)
			param := hsTokenAt(v, i)
			if len(param) == 0 {
				return DeflateParams{}, false, &DeflateParamError{Reason: malformed}
			}
			i = hsSkipOWS(v, i+len(param))
			var value []byte
			hasValue := false
			if i < len(v) && v[i] == '=' {
				hasValue = true
				i = hsSkipOWS(v, i+1)
				if i < len(v) && v[i] == '"' {
					end := hsSkipQuoted(v, i)
					if end < 0 {
						return DeflateParams{}, false, &DeflateParamError{Reason: malformed}
					}
					value = unquote(v[i+1 : end-1])
					i = end
				} else if value = hsTokenAt(v, i); len(value) > 0 {
					i += len(value)
				} else {
					return DeflateParams{}, false, &DeflateParamError{Reason: malformed}
				}
			}
			if !mine {
				continue
			}
			if err := o.acceptParam(&p, &seen, param, value, hasValue); err != nil {
				return DeflateParams{}, false, err
			}
		}
		if mine {
			if o.ServerMaxWindowBits != 0 && !seen[2] {
				// RFC 7692 7.1.2.1: a server accepts this parameter by answering it.
				return DeflateParams{}, false, &DeflateParamError{Param: "server_max_window_bits",
					Reason: "offered as " + strconv.Itoa(o.ServerMaxWindowBits) + " but missing from the answer"}
			}
			if o.ServerNoContextTakeover && !seen[0] {
				// The server accepted an offer element that asked for it: it must say so.
				return DeflateParams{}, false, &DeflateParamError{Param: "server_no_context_takeover",
					Reason: "offered but missing from the answer"}
			}
			if o.ClientNoContextTakeover {
				p.ClientNoContextTakeover = true // ours to keep whatever the server said
			}
		}
	}
}

// acceptParam applies one parameter of the server's permessage-deflate element.
func (o DeflateOffer) acceptParam(p *DeflateParams, seen *[4]bool, name, value []byte, hasValue bool) error {
	idx := -1
	switch {
	case hsEqualFold(name, "server_no_context_takeover"):
		idx = 0
	case hsEqualFold(name, "client_no_context_takeover"):
		idx = 1
	case hsEqualFold(name, "server_max_window_bits"):
		idx = 2
	case hsEqualFold(name, "client_max_window_bits"):
		idx = 3
	default:
		return paramErr(name, "unknown parameter")
	}
	if seen[idx] {
		return paramErr(name, "parameter repeated")
	}
	seen[idx] = true
	switch idx {
	case 0, 1:
		if hasValue {
			return paramErr(name, "this parameter takes no value, got "+strconv.Quote(string(value)))
		}
		if idx == 0 {
			p.ServerNoContextTakeover = true
		} else {
			p.ClientNoContextTakeover = true
		}
		return nil
	}
	if !hasValue {
		return paramErr(name, "a value from 8 to 15 is required in an answer")
	}
	bits, ok := windowBits(value)
	if !ok {
		return paramErr(name, "value "+strconv.Quote(string(value))+" is not a window size from 8 to 15")
	}
	if idx == 2 {
		if o.ServerMaxWindowBits != 0 && bits > o.ServerMaxWindowBits {
			return paramErr(name, strconv.Itoa(bits)+" is above the "+strconv.Itoa(o.ServerMaxWindowBits)+" we offered")
		}
		p.ServerMaxWindowBits = bits
		return nil
	}
	if o.OmitClientMaxWindowBits {
		return paramErr(name, "we did not offer client_max_window_bits, so the server may not set it")
	}
	if o.ClientMaxWindowBits != 0 && bits > o.ClientMaxWindowBits {
		return paramErr(name, strconv.Itoa(bits)+" is above the "+strconv.Itoa(o.ClientMaxWindowBits)+" we offered")
	}
	p.ClientMaxWindowBits = bits
	return nil
}

// windowBits parses 8..15 written as RFC 7692 wants it: decimal, no leading zero.
func windowBits(v []byte) (int, bool) {
	switch len(v) {
	case 1:
		if v[0] == '8' || v[0] == '9' {
			return int(v[0] - '0'), true
		}
	case 2:
		if v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
			return 10 + int(v[1]-'0'), true
		}
	}
	return 0, false
}

// unquote removes the backslash escapes of a quoted-string's content. A value
// with no escape is returned as is (no allocation).
func unquote(q []byte) []byte {
	esc := false
	for _, c := range q {
		if c == '\\' {
			esc = true
			break
		}
	}
	if !esc {
		return q
	}
	out := make([]byte, 0, len(q))
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' && i+1 < len(q) {
			i++
		}
		out = append(out, q[i])
	}
	return out
}
