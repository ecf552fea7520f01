package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrProxy marks every failure of the proxy leg of a dial: errors.Is(err, ErrProxy) holds for a
// *ProxyError, whatever went wrong.
var ErrProxy = errors.New("websocket: proxy")

// ProxyError reports a dial that failed on its way through a proxy (DialOptions.Proxy): the
// proxy could not be reached, refused the tunnel, or did not answer within the connect
// timeout. It unwraps to the underlying error (so errors.Is(err, ErrTimeout) holds for a proxy
// that never answered, and errors.Is(err, syscall.ECONNREFUSED) for one that is down).
type ProxyError struct {
	// Proxy is the proxy's URL without its password ("" when DialOptions.Proxy failed).
	Proxy string
	// Stage is the step that failed: "config" (DialOptions.Proxy failed or named an unknown
	// scheme), "connect" (TCP to the proxy), "tls" (TLS with an https:// proxy), "CONNECT"
	// (the request to an HTTP proxy or its answer) or "socks" (the SOCKS5 exchange).
	Stage string
	// StatusCode and Status are an HTTP proxy's answer to CONNECT (e.g. 407,
	// "407 Proxy Authentication Required"); zero when the proxy did not answer with a status.
	StatusCode int
	Status     string
	// SOCKSReply is a SOCKS5 server's reply code to the connect request (RFC 1928 §6: 1 general
	// failure, 2 not allowed by ruleset, 3 network unreachable, 4 host unreachable, 5 connection
	// refused, …), or -1 when the exchange ended before a reply. SOCKSAuth is the server's
	// refusal to authenticate: 255 when it accepted none of the methods offered (RFC 1928's
	// X'FF', e.g. a server that wants a password was given none), the username/password status
	// (RFC 1929) when it refused the credentials, or -1 when it refused nothing.
	SOCKSReply, SOCKSAuth int
	// Answer holds the first bytes the proxy sent (at most 512), for the log.
	Answer []byte
	// Err is the underlying cause.
	Err error
}

func (e *ProxyError) Error() string {
	var b strings.Builder
	b.WriteString("websocket: proxy")
	if e.Proxy != "" {
		b.WriteString(" ")
		b.WriteString(e.Proxy)
	}
	b.WriteString(": ")
	switch {
	case e.StatusCode != 0:
		b.WriteString("CONNECT refused: ")
		b.WriteString(e.Status)
		if e.StatusCode == 407 || e.StatusCode == 401 {
			b.WriteString(" (credentials go in the proxy URL: http://user:password@host:port)")
		}
	case e.SOCKSAuth == 0xff:
		b.WriteString("the SOCKS5 server accepted none of the authentication methods offered (a username and password in the proxy URL, socks5://user:password@host:port, may be missing)")
	case e.SOCKSAuth > 0:
		b.WriteString("the SOCKS5 server refused the username/password (status " + strconv.Itoa(e.SOCKSAuth) + ")")
	case e.SOCKSReply > 0:
		b.WriteString("the SOCKS5 server refused the connect: " + socksReplyText(e.SOCKSReply))
	case e.Stage == "connect":
		b.WriteString("unreachable: ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "websocket: "))
		return b.String()
	default:
		b.WriteString(e.Stage)
		b.WriteString(" failed")
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(strings.TrimPrefix(e.Err.Error(), "websocket: "))
		}
		if len(e.Answer) > 0 {
			fmt.Fprintf(&b, " (the proxy sent %q)", e.Answer)
		}
	}
	return b.String()
}

func (e *ProxyError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrProxy) hold.
func (e *ProxyError) Is(target error) bool { return target == ErrProxy }

// socksReplyText names a SOCKS5 reply code (RFC 1928 §6).
func socksReplyText(code int) string {
	names := [...]string{1: "general SOCKS server failure", 2: "connection not allowed by ruleset",
		3: "network unreachable", 4: "host unreachable", 5: "connection refused", 6: "TTL expired",
		7: "command not supported", 8: "address type not supported"}
	if code > 0 && code < len(names) {
		return strconv.Itoa(code) + " " + names[code]
	}
	return "reply code " + strconv.Itoa(code)
}

// maxProxyAnswer bounds the proxy's answer kept in a ProxyError.
const maxProxyAnswer = 512
