package transport

import (
	"errors"
	"net"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// ClientOptions size a gnet client.
type ClientOptions struct {
	Loops                         int // event loops (at least 1)
	ReadBufferCap, WriteBufferCap int // gnet's per-loop read and per-connection outbound caps; 0: gnet's
}

// NewClient starts a gnet client whose callbacks go to h. gnet's own logging is dropped: the
// engine reports through errors, stats and traces.
func NewClient(h gnet.EventHandler, o ClientOptions) (*gnet.Client, error) {
	opts := []gnet.Option{
		gnet.WithMulticore(o.Loops > 1),
		gnet.WithNumEventLoop(o.Loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(quietLogger{}),
		gnet.WithLogLevel(logging.ErrorLevel),
	}
	if o.ReadBufferCap > 0 {
		opts = append(opts, gnet.WithReadBufferCap(o.ReadBufferCap))
	}
	if o.WriteBufferCap > 0 {
		opts = append(opts, gnet.WithWriteBufferCap(o.WriteBufferCap))
	}
	client, err := gnet.NewClient(h, opts...)
	if err != nil {
		return nil, err
	}
	if err := client.Start(); err != nil {
		return nil, err
	}
	return client, nil
}

// ErrRefused reports a socket that gnet's poller did not take.
var ErrRefused = errors.New("the poller did not take the socket")

// Enroll hands the connected socket nc to a loop with ctx as its gnet context. gnet dups the
// socket and closes nc, and OnOpen has run when EnrollContext returns, which opened (a
// check the caller's OnOpen made true) confirms: gnet returns without an error when its
// poller refuses the socket (epoll_ctl failing), closing it, and no callback ever comes.
func Enroll(client *gnet.Client, nc net.Conn, ctx any, opened func() bool) error {
	if _, err := client.EnrollContext(nc, ctx); err != nil {
		return err
	}
	if !opened() {
		return ErrRefused
	}
	return nil
}

// quietLogger drops gnet's logging.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
