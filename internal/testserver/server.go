package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Server is a running reference server. Its methods are safe for concurrent use.
type Server struct {
	opts          Options
	addr          string // bound host:port
	start         time.Time
	outboundLimit int

	eng     gnet.Engine
	runDone chan error // gnet.Run's result
	sched   *scheduler

	loopsMu sync.Mutex
	byLoop  map[gnet.EventLoop]*loopState
	loops   atomic.Pointer[[]*loopState] // copy on write, for Stats and the scheduler

	zerosMu sync.Mutex
	zeros   []byte // shared, never written: filler for push payloads

	closeOnce sync.Once
	closeErr  error
}

// Start listens on o.Addr and serves until Close.
func Start(o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:          o,
		start:         time.Now(),
		outboundLimit: max(2*o.MaxMessageSize, 16<<20),
		runDone:       make(chan error, 1),
		byLoop:        make(map[gnet.EventLoop]*loopState),
	}
	s.loops.Store(new([]*loopState))
	s.sched = newScheduler(s)

	h := &handler{srv: s, booted: make(chan bootResult, 1)}
	go func() {
		s.runDone <- gnet.Run(h, "tcp://"+o.Addr,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(o.Loops),
			gnet.WithReusePort(false), // with port 0, each loop would bind a different port
			gnet.WithReuseAddr(true),  // a restarted server rebinds its port despite TIME_WAIT sockets
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(quietLogger{}),
		)
	}()
	select {
	case b := <-h.booted:
		if b.err != nil {
			_ = b.eng.Stop(canceled())
			<-s.runDone
			return nil, b.err
		}
		s.eng, s.addr = b.eng, b.addr
	case err := <-s.runDone:
		if err == nil {
			err = errors.New("gnet stopped before it started")
		}
		return nil, fmt.Errorf("server: listen on %s: %w", o.Addr, err)
	}
	s.sched.start()
	return s, nil
}

// Addr is the bound host:port.
func (s *Server) Addr() string { return s.addr }

// URL is "ws://host:port" for the bound address (an unspecified host becomes loopback).
func (s *Server) URL() string {
	host, port, _ := net.SplitHostPort(s.addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return "ws://" + net.JoinHostPort(host, port)
}

// Stats sums the loops' counters; each counter is exact, the set is not one instant.
func (s *Server) Stats() Stats {
	var st Stats
	for _, l := range s.loopList() {
		l.ctr.addTo(&st)
	}
	return st
}

// Close stops the loops, closes every connection and returns when gnet is done.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.sched.stop()
		// Stop with a context that is already done only signals the engine
		// (its own wait polls every 500 ms); gnet.Run returning is the real end.
		if err := s.eng.Stop(canceled()); err != nil && !errors.Is(err, context.Canceled) {
			s.closeErr = err
		}
		if err := <-s.runDone; err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// now is the time since Start in ns on the monotonic clock; never 0 after Start.
func (s *Server) now() int64 { return int64(time.Since(s.start)) + 1 }

func (s *Server) loopList() []*loopState { return *s.loops.Load() }

// loopFor returns the state of c's event loop, creating it on the loop's first connection.
func (s *Server) loopFor(c gnet.Conn) *loopState {
	el := c.EventLoop()
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	if l := s.byLoop[el]; l != nil {
		return l
	}
	l := &loopState{srv: s, el: el, out: newBatch()}
	s.byLoop[el] = l
	list := append(append([]*loopState(nil), s.loopList()...), l)
	s.loops.Store(&list)
	return l
}

// zeroFill returns n zero bytes that nobody writes, shared by every push connection.
func (s *Server) zeroFill(n int) []byte {
	s.zerosMu.Lock()
	defer s.zerosMu.Unlock()
	if len(s.zeros) < n {
		s.zeros = make([]byte, n)
	}
	return s.zeros[:n]
}

// boundAddr asks the kernel which address the listener got (port 0 picks one).
func boundAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return "", err
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *syscall.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", fmt.Errorf("server: listener has an unexpected address %T", sa)
}
