package testserver

import (
	"github.com/panjf2000/gnet/v2"
)

// handler adapts gnet's callbacks to the server (kept off Server's method set).
type handler struct {
	gnet.BuiltinEventEngine
	srv    *Server
	booted chan bootResult
}

type bootResult struct {
	eng  gnet.Engine
	addr string
	err  error
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	addr, err := boundAddr(eng)
	h.booted <- bootResult{eng: eng, addr: addr, err: err}
	return gnet.None // never Shutdown: see ARCHITECTURE.md
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	l := h.srv.loopFor(c)
	l.ctr.accepted.Add(1)
	l.ctr.open.Add(1)
	c.SetContext(newConn(c, l))
	return nil, gnet.None
}

func (h *handler) OnClose(c gnet.Conn, _ error) gnet.Action {
	wc, ok := c.Context().(*wsConn)
	if !ok || wc.closed {
		return gnet.None
	}
	wc.closed = true
	wc.loop.disarm(wc)
	wc.loop.ctr.open.Add(-1)
	wc.held, wc.req, wc.push = nil, nil, nil
	return gnet.None
}

// OnTraffic takes every byte gnet has for c: nothing is ever left in gnet's
// inbound buffer, so Next returns its read buffer itself, without a copy.
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	wc := c.Context().(*wsConn)
	p, _ := c.Next(-1)
	if len(p) == 0 || wc.phase == phaseDone {
		return gnet.None
	}
	switch wc.traffic(p) {
	case closeTCP:
		return gnet.Close
	case resetTCP:
		_ = c.SetLinger(0)
		return gnet.Close
	}
	return gnet.None
}
