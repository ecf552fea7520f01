package testserver

import (
	"fmt"
	"runtime"
	"strings"
)

// Options configures Start. The zero value is a usable loopback server.
type Options struct {
	// Addr is host:port to listen on; "127.0.0.1:0" (a free port) by default.
	Addr string
	// Loops is the number of gnet event loops; GOMAXPROCS by default.
	Loops int
	// Subprotocols are the ones the server can select, in its order of preference.
	Subprotocols []string
	// MaxMessageSize bounds a data message (the sum of its fragments); a client
	// that announces more gets close 1009. 64 MiB by default.
	MaxMessageSize int
}

const (
	defaultAddr           = "127.0.0.1:0"
	defaultMaxMessageSize = 64 << 20
)

func (o Options) withDefaults() (Options, error) {
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	if strings.Contains(o.Addr, "://") {
		return o, fmt.Errorf("server: Addr %q: want host:port, not a URL", o.Addr)
	}
	if o.Loops <= 0 {
		o.Loops = runtime.GOMAXPROCS(0)
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = defaultMaxMessageSize
	}
	for _, p := range o.Subprotocols {
		if p == "" || !isToken(p) {
			return o, fmt.Errorf("server: subprotocol %q is not an HTTP token", p)
		}
	}
	o.Subprotocols = append([]string(nil), o.Subprotocols...)
	return o, nil
}

// isToken reports whether s is an RFC 7230 token (what a subprotocol name must be).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}
