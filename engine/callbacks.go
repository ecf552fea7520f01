package engine

import (
	"github.com/panjf2000/gnet/v2"
)

// eventHandler connects gnet's callbacks to sessions. gnet hands each callback the gnet.Conn
// whose context is the session given to EnrollContext: OnTraffic may run before EnrollContext
// returns, so the session must be complete before it is enrolled.
type eventHandler struct {
	gnet.BuiltinEventEngine
	eng *Engine
}

func (h *eventHandler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s, ok := gc.Context().(*session)
	if !ok {
		return nil, gnet.Close
	}
	return s.onOpen(gc), gnet.None
}

func (h *eventHandler) OnTraffic(gc gnet.Conn) gnet.Action {
	s, ok := gc.Context().(*session)
	if !ok {
		return gnet.Close
	}
	a := s.onTraffic(gc)
	if s.l != nil {
		s.l.AfterTraffic()
	}
	return a
}

func (h *eventHandler) OnClose(gc gnet.Conn, err error) gnet.Action {
	if s, ok := gc.Context().(*session); ok {
		s.onClose(err)
	}
	// Never gnet.Shutdown: it would stop this loop for every connection on it.
	return gnet.None
}
