package codec

import (
	"errors"
	"strings"
	"testing"
)

func TestDeflateOfferText(t *testing.T) {
	cases := []struct {
		o    DeflateOffer
		want string
	}{
		{DeflateOffer{}, "permessage-deflate; client_max_window_bits"},
		{DeflateOffer{OmitClientMaxWindowBits: true}, "permessage-deflate"},
		{DeflateOffer{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=10"},
		{DeflateOffer{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits"},
		{DeflateOffer{ServerMaxWindowBits: 12, ClientMaxWindowBits: 9},
			"permessage-deflate; server_max_window_bits=12; client_max_window_bits=9"},
		{DeflateOffer{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 8, ClientMaxWindowBits: 15},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=15"},
	}
	for _, c := range cases {
		if err := c.o.Validate(); err != nil {
			t.Errorf("%+v: Validate: %v", c.o, err)
		}
		if got := c.o.String(); got != c.want {
			t.Errorf("%+v: offer %q, want %q", c.o, got, c.want)
		}
		// The offer is a valid header value for the request builder.
		if !hsFieldValue(c.want) {
			t.Errorf("%q is not a valid header value", c.want)
		}
		// Our own offer echoed back (with a value where an answer needs one) is accepted.
		answer := c.want
		if strings.HasSuffix(answer, "client_max_window_bits") {
			answer += "=15"
		}
		if _, ok, err := c.o.Accept([]byte(answer)); err != nil || !ok {
			t.Errorf("%q echoed: ok %v, %v", answer, ok, err)
		}
	}
}

func TestDeflateOfferValidate(t *testing.T) {
	bad := []DeflateOffer{
		{ServerMaxWindowBits: 7},
		{ServerMaxWindowBits: 16},
		{ClientMaxWindowBits: 1},
		{ClientMaxWindowBits: -1},
		{ClientMaxWindowBits: 9, OmitClientMaxWindowBits: true},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: Validate accepted it", o)
		}
	}
}

func TestDeflateAccept(t *testing.T) {
	def := DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	with := func(f func(*DeflateParams)) DeflateParams { p := def; f(&p); return p }
	cases := []struct {
		name   string
		offer  DeflateOffer
		answer string
		want   DeflateParams
		ok     bool
	}{
		{"declined", DeflateOffer{}, "", DeflateParams{}, false},
		{"plain", DeflateOffer{}, "permessage-deflate", def, true},
		{"case and spaces", DeflateOffer{}, "  Permessage-Deflate ;  Client_Max_Window_Bits = 10 ", with(func(p *DeflateParams) { p.ClientMaxWindowBits = 10 }), true},
		{"server limits us", DeflateOffer{}, "permessage-deflate; client_max_window_bits=9", with(func(p *DeflateParams) { p.ClientMaxWindowBits = 9 }), true},
		{"our own limit kept", DeflateOffer{ClientMaxWindowBits: 11}, "permessage-deflate", with(func(p *DeflateParams) { p.ClientMaxWindowBits = 11 }), true},
		{"server lowers our limit", DeflateOffer{ClientMaxWindowBits: 11}, "permessage-deflate; client_max_window_bits=10", with(func(p *DeflateParams) { p.ClientMaxWindowBits = 10 }), true},
		{"server window unasked", DeflateOffer{}, "permessage-deflate; server_max_window_bits=12", with(func(p *DeflateParams) { p.ServerMaxWindowBits = 12 }), true},
		{"server window asked", DeflateOffer{ServerMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=10", with(func(p *DeflateParams) { p.ServerMaxWindowBits = 10 }), true},
		{"server window lower than asked", DeflateOffer{ServerMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=8", with(func(p *DeflateParams) { p.ServerMaxWindowBits = 8 }), true},
		{"quoted value", DeflateOffer{}, `permessage-deflate; server_max_window_bits="12"`, with(func(p *DeflateParams) { p.ServerMaxWindowBits = 12 }), true},
		{"no context both", DeflateOffer{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			with(func(p *DeflateParams) { p.ServerNoContextTakeover, p.ClientNoContextTakeover = true, true }), true},
		{"server imposes client no context", DeflateOffer{}, "permessage-deflate; client_no_context_takeover",
			with(func(p *DeflateParams) { p.ClientNoContextTakeover = true }), true},
		{"server volunteers no context", DeflateOffer{}, "permessage-deflate; server_no_context_takeover",
			with(func(p *DeflateParams) { p.ServerNoContextTakeover = true }), true},
		{"we keep client no context", DeflateOffer{ClientNoContextTakeover: true}, "permessage-deflate",
			with(func(p *DeflateParams) { p.ClientNoContextTakeover = true }), true},
		{"other extension skipped", DeflateOffer{}, "x-other; a=1, permessage-deflate; server_max_window_bits=9",
			with(func(p *DeflateParams) { p.ServerMaxWindowBits = 9 }), true},
		{"python default answer", DeflateOffer{}, "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
			with(func(p *DeflateParams) { p.ServerMaxWindowBits, p.ClientMaxWindowBits = 12, 12 }), true},
	}
	for _, c := range cases {
		got, ok, err := c.offer.Accept([]byte(c.answer))
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("%s: Accept(%q) = %+v, %v, %v; want %+v, %v", c.name, c.answer, got, ok, err, c.want, c.ok)
		}
	}
}

func TestDeflateAcceptRefuses(t *testing.T) {
	cases := []struct {
		offer  DeflateOffer
		answer string
		param  string // "" for a malformed answer
		reason string // part of the message
	}{
		{DeflateOffer{}, "permessage-deflate; foo", "foo", "unknown"},
		{DeflateOffer{}, "permessage-deflate; foo=1", "foo", "unknown"},
		{DeflateOffer{}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", "server_no_context_takeover", "repeated"},
		{DeflateOffer{}, "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10", "client_max_window_bits", "repeated"},
		{DeflateOffer{}, "permessage-deflate; server_no_context_takeover=1", "server_no_context_takeover", "no value"},
		{DeflateOffer{}, "permessage-deflate; client_no_context_takeover=\"x\"", "client_no_context_takeover", "no value"},
		{DeflateOffer{}, "permessage-deflate; server_max_window_bits", "server_max_window_bits", "required"},
		{DeflateOffer{}, "permessage-deflate; client_max_window_bits", "client_max_window_bits", "required"},
		{DeflateOffer{}, "permessage-deflate; server_max_window_bits=7", "server_max_window_bits", "8 to 15"},
		{DeflateOffer{}, "permessage-deflate; server_max_window_bits=16", "server_max_window_bits", "8 to 15"},
		{DeflateOffer{}, "permessage-deflate; client_max_window_bits=09", "client_max_window_bits", "8 to 15"},
		{DeflateOffer{}, "permessage-deflate; client_max_window_bits=1a", "client_max_window_bits", "8 to 15"},
		{DeflateOffer{}, "permessage-deflate; client_max_window_bits=\"\"", "client_max_window_bits", "8 to 15"},
		{DeflateOffer{ServerMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=11", "server_max_window_bits", "above the 10 we offered"},
		{DeflateOffer{ServerMaxWindowBits: 10}, "permessage-deflate", "server_max_window_bits", "missing"},
		{DeflateOffer{ServerNoContextTakeover: true}, "permessage-deflate", "server_no_context_takeover", "missing"},
		{DeflateOffer{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=12", "client_max_window_bits", "above the 10 we offered"},
		{DeflateOffer{OmitClientMaxWindowBits: true}, "permessage-deflate; client_max_window_bits=12", "client_max_window_bits", "did not offer"},
		{DeflateOffer{}, "permessage-deflate, permessage-deflate", "", "twice"},
		{DeflateOffer{}, "permessage-deflate; ", "", "malformed"},
		{DeflateOffer{}, "permessage-deflate; =1", "", "malformed"},
		{DeflateOffer{}, "permessage-deflate x", "", "malformed"},
		{DeflateOffer{}, `permessage-deflate; server_max_window_bits="10`, "", "malformed"},
	}
	for _, c := range cases {
		_, ok, err := c.offer.Accept([]byte(c.answer))
		var pe *DeflateParamError
		if !errors.As(err, &pe) {
			t.Errorf("Accept(%q) with %+v = ok %v, err %v; want a *DeflateParamError", c.answer, c.offer, ok, err)
			continue
		}
		if ok {
			t.Errorf("Accept(%q): ok with an error", c.answer)
		}
		if pe.Param != c.param || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("Accept(%q) = %q (param %q); want param %q and %q in the message", c.answer, err, pe.Param, c.param, c.reason)
		}
		if c.param != "" && !strings.Contains(err.Error(), c.param) {
			t.Errorf("Accept(%q) = %q does not name %s", c.answer, err, c.param)
		}
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{``: ``, `12`: `12`, `1\2`: `12`, `\\`: `\`, `a\`: `a\`} {
		if got := string(unquote([]byte(in))); got != want {
			t.Errorf("unquote(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDeflateAccept(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits=10; server_no_context_takeover")
	f.Add(`permessage-deflate; server_max_window_bits="9"`)
	f.Add("x, permessage-deflate;;")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok, err := DeflateOffer{}.Accept([]byte(s))
		if err != nil {
			return
		}
		if ok && (p.ClientMaxWindowBits < 8 || p.ClientMaxWindowBits > 15 || p.ServerMaxWindowBits < 8 || p.ServerMaxWindowBits > 15) {
			t.Fatalf("Accept(%q) = %+v: window out of range", s, p)
		}
	})
}
