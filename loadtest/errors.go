package loadtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/wsfleet/wsfleet/engine"
)

// Error kinds, as counted in results. Handshake refusals are "handshake_<status>" and server
// close frames "close_<code>". Failures of a proxy are "proxy_" and the proxy's HTTP status
// ("proxy_407"), its SOCKS5 reply ("proxy_socks_5") or refusal of credentials
// ("proxy_socks_auth"), or the kind of the underlying error ("proxy_refused", "proxy_timeout").
const (
	KindRefused       = "refused"
	KindAddrNotAvail  = "addr_not_available"
	KindTooManyFiles  = "too_many_open_files"
	KindTimeout       = "timeout"
	KindTLS           = "tls"
	KindHandshake     = "handshake"
	KindProtocol      = "protocol"
	KindReset         = "reset"
	KindAbnormal      = "abnormal_close"
	KindSlowConsumer  = "slow_consumer"
	KindBackedUp      = "send_backed_up"
	KindSendClosed    = "send_on_closed"
	KindNotSupported  = "not_supported"
	KindUnreachable   = "unreachable"
	KindDNS           = "dns"
	KindBadReply      = "bad_reply"
	KindForeignReply  = "foreign_reply"
	KindEngineClosed  = "engine_closed"
	KindOther         = "other"
	kindClosePrefix   = "close_"
	kindHandshakePref = "handshake_"
	kindProxyPrefix   = "proxy_"
)

// classify names the kind of a dial, send or connection error.
func classify(err error) string {
	var he *engine.HandshakeError
	var ce *engine.CloseError
	var pe *engine.ProtocolError
	var dns *net.DNSError
	var rhe tls.RecordHeaderError
	var ae tls.AlertError
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var prx *engine.ProxyError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &prx):
		switch {
		case prx.StatusCode != 0:
			return fmt.Sprintf("%s%d", kindProxyPrefix, prx.StatusCode)
		case prx.SOCKSAuth > 0:
			return kindProxyPrefix + "socks_auth"
		case prx.SOCKSReply > 0:
			return fmt.Sprintf("%ssocks_%d", kindProxyPrefix, prx.SOCKSReply)
		}
		return kindProxyPrefix + classify(prx.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, engine.ErrNoLocalPort), errors.Is(err, syscall.EADDRNOTAVAIL):
		return KindAddrNotAvail
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return KindTooManyFiles
	case errors.As(err, &he):
		if he.StatusCode != 0 && he.StatusCode != 101 {
			return fmt.Sprintf("%s%d", kindHandshakePref, he.StatusCode)
		}
		return KindHandshake
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie),
		errors.As(err, &rhe), errors.As(err, &ae):
		return KindTLS
	case errors.Is(err, engine.ErrTimeout):
		return KindTimeout
	case errors.As(err, &ce):
		who := ""
		if !ce.Remote {
			who = "_by_client"
		}
		return fmt.Sprintf("%s%d%s", kindClosePrefix, ce.Code, who)
	case errors.As(err, &pe):
		return KindProtocol
	case errors.Is(err, engine.ErrSlowConsumer):
		return KindSlowConsumer
	case errors.Is(err, engine.ErrBackedUp):
		return KindBackedUp
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return KindReset
	case errors.Is(err, engine.ErrAbnormalClose):
		return KindAbnormal
	case errors.Is(err, engine.ErrMessageType):
		return KindNotSupported
	case errors.Is(err, engine.ErrEngineClosed):
		return KindEngineClosed
	case errors.Is(err, engine.ErrClosed):
		return KindSendClosed
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return KindUnreachable
	case errors.As(err, &dns):
		return KindDNS
	}
	return KindOther
}

// errCounter counts errors by kind and keeps the first message of each kind as an example.
type errCounter struct {
	total    atomic.Int64
	mu       sync.Mutex
	counts   map[string]int64
	examples map[string]string
}

func newErrCounter() *errCounter {
	return &errCounter{counts: map[string]int64{}, examples: map[string]string{}}
}

func (e *errCounter) add(kind string, err error) {
	e.total.Add(1)
	e.mu.Lock()
	e.counts[kind]++
	if _, ok := e.examples[kind]; !ok && err != nil {
		e.examples[kind] = err.Error()
	}
	e.mu.Unlock()
}

func (e *errCounter) addErr(err error) { e.add(classify(err), err) }

func (e *errCounter) snapshot() ([]ErrorCount, int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []ErrorCount{}
	var n int64
	for k, v := range e.counts {
		out = append(out, ErrorCount{Kind: k, Count: v, Example: e.examples[k]})
		n += v
	}
	sortErrors(out)
	return out, n
}

// ErrorCount is one kind of error in a result.
type ErrorCount struct {
	Kind    string `json:"kind"`
	Count   int64  `json:"count"`
	Example string `json:"example,omitempty"`
}

func sortErrors(es []ErrorCount) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].Count != es[j].Count {
			return es[i].Count > es[j].Count
		}
		return es[i].Kind < es[j].Kind
	})
}
