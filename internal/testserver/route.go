package testserver

import (
	"net/url"
	"strconv"
	"time"

	"github.com/wsfleet/wsfleet/codec"
)

// routeKind is what a connection does after its handshake, chosen by the path.
type routeKind uint8

const (
	routeEcho routeKind = iota
	routePush
	routeStall
	routeClose
	routeReset
)

// route is a path with its query parameters checked.
type route struct {
	kind routeKind

	pushInterval time.Duration
	pushSize     int
	pushCount    int64

	stallEvery, stallFor time.Duration

	closePayload []byte // code and reason, already encoded

	resetAfter int64
}

// pushHeaderSize is the timestamp and sequence number at the start of a push payload.
const pushHeaderSize = 16

func knownPath(p string) bool {
	switch p {
	case "/", "/echo", "/push", "/stall", "/close", "/reset":
		return true
	}
	return false
}

// parseRoute reads the query parameters of a known path. maxMessage bounds push sizes.
func parseRoute(path string, q url.Values, maxMessage int) (route, *httpError) {
	var r route
	var err *httpError
	switch path {
	case "/", "/echo":
		r.kind = routeEcho
	case "/push":
		r.kind = routePush
		r.pushInterval, err = durationParam(q, "interval", 10*time.Millisecond)
		if err == nil && r.pushInterval < time.Millisecond {
			err = badRequest("interval must be at least 1ms\n")
		}
		if err == nil {
			var size int64
			size, err = intParam(q, "size", 64)
			r.pushSize = int(size)
		}
		if err == nil && (r.pushSize < pushHeaderSize || r.pushSize > maxMessage) {
			err = badRequest("size must be between 16 (timestamp and sequence number) and the maximum message size\n")
		}
		if err == nil {
			r.pushCount, err = intParam(q, "count", 0)
		}
	case "/stall":
		r.kind = routeStall
		r.stallEvery, err = durationParam(q, "every", 10*time.Second)
		if err == nil {
			r.stallFor, err = durationParam(q, "for", time.Second)
		}
		if err == nil && (r.stallFor <= 0 || r.stallFor >= r.stallEvery) {
			err = badRequest("want 0 < for < every\n")
		}
	case "/close":
		r.kind = routeClose
		var code int64
		code, err = intParam(q, "code", int64(codec.CloseNormal))
		if err == nil {
			var e error
			r.closePayload, e = codec.AppendClosePayload(nil, codec.CloseCode(code), q.Get("reason"))
			if e != nil || code > 0xffff {
				err = badRequest("code must be a close code allowed on the wire and reason at most 123 bytes of UTF-8\n")
			}
		}
	case "/reset":
		r.kind = routeReset
		r.resetAfter, err = intParam(q, "after", 0)
	}
	return r, err
}

func durationParam(q url.Values, name string, def time.Duration) (time.Duration, *httpError) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, badRequest(name + " must be a duration such as 10ms\n")
	}
	return d, nil
}

func intParam(q url.Values, name string, def int64) (int64, *httpError) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest(name + " must be a non-negative integer\n")
	}
	return n, nil
}
