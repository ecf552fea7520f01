package engine

import (
	"encoding/base64"
	"errors"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsfleet/wsfleet/codec"
)

// The opening handshake on the loop: the upgrade request goes out when gnet takes the
// socket (onOpen), and the server's response is parsed until it is complete (readUpgrade).

// onOpen runs on the loop when gnet has taken the socket: the session learns its loop and
// hands gnet the upgrade request to write.
func (s *session) onOpen(gc gnet.Conn) []byte {
	c := s.c
	l := c.eng.loopFor(gc.EventLoop())
	c.mu.Lock() // Close and CloseNow may look at s.gc from other goroutines during the upgrade
	s.gc, s.fd, s.l = gc, gc.Fd(), l
	c.localAddr = gc.LocalAddr()
	c.remoteAddr = gc.RemoteAddr()
	c.mu.Unlock()
	s.lastRecv = c.eng.now()
	// No wheel entry for the upgrade deadline: the dialing goroutine waits with the connect
	// deadline and closes the socket when it passes (connect), so an open connection leaves
	// nothing behind in the wheel.
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceConnect})
	}
	if s.tls != nil {
		return nil // the request went out encrypted during the dial
	}
	return s.dial.req.B
}

// readUpgrade feeds the server's response to the handshake parser until it is complete.
func (s *session) readUpgrade(buf []byte) gnet.Action {
	p := s.dial.parser
	n, done, err := p.Feed(buf)
	if err != nil {
		s.c.eng.stats.handshakeErrors.Add(1)
		s.failDial(s.handshakeError(err))
		return gnet.Close
	}
	if !done {
		return gnet.None
	}
	if p.StatusCode() != 101 {
		s.c.eng.stats.handshakeErrors.Add(1)
		s.failDial(s.handshakeError(nil))
		return gnet.Close
	}
	if err := s.negotiateCompression(); err != nil {
		s.c.eng.stats.handshakeErrors.Add(1)
		s.failDial(s.handshakeError(err))
		return gnet.Close
	}
	c := s.c
	c.mu.Lock()
	if s.dial.abandoned {
		// The dialing goroutine's deadline passed first and it is closing the socket: the
		// connection must not open behind its timeout (connect).
		c.mu.Unlock()
		return gnet.Close
	}
	s.dial.upgraded = true
	var scratch [512]byte
	c.respHeader = c.eng.internHeader(p.AppendHeaderLinesExcept(scratch[:0], "Sec-WebSocket-Accept"))
	_, _ = base64.StdEncoding.Decode(c.nonce[:], s.dial.key[:])
	c.mu.Unlock()
	s.releaseParser()
	dialDone := s.dial.done
	s.dial = nil // the upgrade is done: no deadline, no parser
	c.setState(StateOpen)
	c.eng.stats.upgrades.Add(1)
	s.rearm()
	if c.opts.Trace != nil {
		c.trace(TraceEvent{Kind: TraceUpgraded})
	}
	dialDone <- nil
	c.handler.OnOpen(c)
	if n < len(buf) {
		return s.readFrames(buf[n:]) // frames that came with the 101
	}
	return gnet.None
}

// handshakeError describes a refused or malformed upgrade from what the parser saw.
func (s *session) handshakeError(err error) *HandshakeError {
	p := s.dial.parser
	he := &HandshakeError{StatusCode: p.StatusCode(), Status: p.Status(), err: err}
	if he.StatusCode != 0 {
		he.Header = p.HTTPHeader()
		he.Body = append([]byte(nil), p.Body()...)
	}
	if err != nil && (he.StatusCode == 0 || he.StatusCode == 101) {
		// A refusal by status says all in its status line; other failures need their reason.
		he.Reason = err.Error()
		var ue *codec.UpgradeError
		if errors.As(err, &ue) {
			he.Reason = ue.Reason
		}
	}
	return he
}

func (s *session) failDial(err error) {
	c := s.c
	c.mu.Lock()
	if c.lastErr == nil {
		c.lastErr = err
	}
	c.mu.Unlock()
}

func (s *session) parserStatus() int {
	if s.dial == nil || s.dial.parser == nil {
		return 0
	}
	return s.dial.parser.StatusCode()
}

func (s *session) releaseParser() {
	if s.dial != nil && s.dial.parser != nil {
		parserPool.Put(s.dial.parser)
		s.dial.parser = nil
	}
}
