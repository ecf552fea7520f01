package bench

// One small adapter per client library, each through that library's ordinary public API:
// dial, send, and a receive loop that hands every data message to a callback. Where the
// library's idiom is a goroutine per connection that blocks in a read (gorilla, gobwas,
// coder, wsfleet's passive facade) the adapter starts one; where the library reads for you
// (gws's ReadLoop goroutine, nbio's and wsfleet's event loops) it uses that.

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	gorilla "github.com/gorilla/websocket"
	llibtls "github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/lxzan/gws"

	"github.com/wsfleet/wsfleet/engine"
)

// deflateMode is the permessage-deflate the adapter asks for.
type deflateMode int

const (
	deflateOff       deflateMode = iota
	deflateTakeover              // context takeover both ways (the RFC's default)
	deflateNoContext             // client_no_context_takeover and server_no_context_takeover
)

func (m deflateMode) String() string {
	switch m {
	case deflateTakeover:
		return "takeover"
	case deflateNoContext:
		return "nocontext"
	}
	return "off"
}

// dialOpts is what every adapter understands.
type dialOpts struct {
	tls     *tls.Config
	deflate deflateMode
	// onMsg receives each data message, on the library's receive path; data is valid only
	// during the call. nil discards.
	onMsg func(data []byte)
}

// wsConn is a dialed connection.
type wsConn interface {
	send(p []byte) error
	close() error
}

// client is one library, with its shared machinery (event loops) started.
type client interface {
	dial(ctx context.Context, url string, o *dialOpts) (wsConn, error)
	// compressed says whether permessage-deflate was negotiated on c.
	compressed(c wsConn) bool
	shutdown()
}

// errUnsupported marks a feature a library does not offer through its public API.
var errUnsupported = errors.New("not supported by this library's public API")

// peer is a library's name and constructor.
type peer struct {
	name string
	open func(tb testing.TB) client
}

// peers, in the order they run: each benchmark alternates through them.
var peers = []peer{
	{"wsfleet-handler", func(tb testing.TB) client { return newWsfleet(tb, true) }},
	{"wsfleet-passive", func(tb testing.TB) client { return newWsfleet(tb, false) }},
	{"gorilla", func(testing.TB) client { return gorillaClient{} }},
	{"gws", func(testing.TB) client { return gwsClient{} }},
	{"gobwas", func(testing.TB) client { return gobwasClient{} }},
	{"coder", func(testing.TB) client { return coderClient{} }},
	{"nbio", newNbio},
}

const dialTimeout = 30 * time.Second

// ---- wsfleet ----

type wsfleetClient struct {
	eng     *engine.Engine
	handler bool

	// The fleet idiom: one engine.Dialer per set of options, whose connections share one
	// resolved copy. Dials made with the same *dialOpts reuse one Dialer (and one Handler); a
	// new *dialOpts per dial (echo: per-connection state) costs a Dialer each.
	mu       sync.Mutex
	lastOpts *dialOpts
	lastD    *engine.Dialer
}

func newWsfleet(tb testing.TB, handler bool) client {
	// WSF_WSFLEET_LOOPS overrides the number of event loops (default GOMAXPROCS), to study
	// how many wake-ups per message the loops pay.
	eng, err := engine.New(engine.Options{Loops: envInt("WSF_WSFLEET_LOOPS", 0)})
	if err != nil {
		tb.Fatal(err)
	}
	return &wsfleetClient{eng: eng, handler: handler}
}

// wsfleetHandler hands messages to onMsg from the event loop.
type wsfleetHandler struct{ onMsg func([]byte) }

func (h *wsfleetHandler) OnOpen(*engine.Conn) {}
func (h *wsfleetHandler) OnMessage(_ *engine.Conn, _ engine.MessageType, data []byte) {
	if h.onMsg != nil {
		h.onMsg(data)
	}
}
func (h *wsfleetHandler) OnClose(*engine.Conn, error) {}

type wsfleetConn struct{ c *engine.Conn }

// wsfleetCloseNow (WSF_WSFLEET_CLOSENOW=1) makes wsfleet's close CloseNow, which drops the
// socket without the close handshake as gorilla's, gobwas's and nbio's Close do, instead of
// Close, which sends a close frame and waits for the server's.
var wsfleetCloseNow = os.Getenv("WSF_WSFLEET_CLOSENOW") == "1"

func (w wsfleetConn) send(p []byte) error { return w.c.Send(engine.Binary, p) }
func (w wsfleetConn) close() error {
	if wsfleetCloseNow {
		w.c.CloseNow()
		return nil
	}
	return w.c.Close()
}

// dialer returns the engine's Dialer for o, the same one for the same o.
func (f *wsfleetClient) dialer(o *dialOpts) (*engine.Dialer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o == f.lastOpts {
		return f.lastD, nil
	}
	do := &engine.DialOptions{TLSConfig: o.tls, ConnectTimeout: dialTimeout}
	switch o.deflate {
	case deflateTakeover:
		do.Compression = &engine.Compression{}
	case deflateNoContext:
		do.Compression = &engine.Compression{ClientNoContextTakeover: true, ServerNoContextTakeover: true}
	}
	if f.handler {
		do.Handler = &wsfleetHandler{onMsg: o.onMsg}
	}
	d, err := f.eng.NewDialer(do)
	if err != nil {
		return nil, err
	}
	f.lastOpts, f.lastD = o, d
	return d, nil
}

func (f *wsfleetClient) dial(ctx context.Context, url string, o *dialOpts) (wsConn, error) {
	d, err := f.dialer(o)
	if err != nil {
		return nil, err
	}
	c, err := d.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if !f.handler {
		// The facade's receive loop: a goroutine blocked in Recv.
		onMsg := o.onMsg
		go func() {
			ctx := context.Background()
			for {
				m, err := c.Recv(ctx)
				if err != nil {
					return
				}
				if onMsg != nil {
					onMsg(m.Data)
				}
				m.Release()
			}
		}()
	}
	return wsfleetConn{c}, nil
}

func (f *wsfleetClient) compressed(c wsConn) bool {
	_, ok := c.(wsfleetConn).c.Compression()
	return ok
}

func (f *wsfleetClient) shutdown() { _ = f.eng.Close() }

// ---- gorilla/websocket ----

type gorillaClient struct{}

// gorillaConn serialises writes: gorilla allows one writer at a time, and a benchmark's first
// send (from its goroutine) may still be returning when the echo's reply goes out from the
// reader goroutine.
type gorillaConn struct {
	mu   sync.Mutex
	c    *gorilla.Conn
	resp *http.Response
}

func (g *gorillaConn) send(p []byte) error {
	g.mu.Lock()
	err := g.c.WriteMessage(gorilla.BinaryMessage, p)
	g.mu.Unlock()
	return err
}
func (g *gorillaConn) close() error { return g.c.Close() }

func (gorillaClient) dial(ctx context.Context, url string, o *dialOpts) (wsConn, error) {
	if o.deflate == deflateTakeover {
		return nil, errUnsupported // gorilla negotiates no_context_takeover only
	}
	d := &gorilla.Dialer{
		HandshakeTimeout:  dialTimeout,
		TLSClientConfig:   o.tls,
		EnableCompression: o.deflate == deflateNoContext,
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	onMsg := o.onMsg
	go func() {
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if onMsg != nil {
				onMsg(data)
			}
		}
	}()
	return &gorillaConn{c: c, resp: resp}, nil
}

func (gorillaClient) compressed(c wsConn) bool {
	return strings.Contains(c.(*gorillaConn).resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
}

func (gorillaClient) shutdown() {}

// ---- lxzan/gws ----

type gwsClient struct{}

type gwsHandler struct {
	gws.BuiltinEventHandler
	onMsg func([]byte)
}

func (h *gwsHandler) OnMessage(_ *gws.Conn, m *gws.Message) {
	if h.onMsg != nil {
		h.onMsg(m.Bytes())
	}
	_ = m.Close()
}

type gwsConn struct {
	c    *gws.Conn
	resp *http.Response
}

func (g gwsConn) send(p []byte) error { return g.c.WriteMessage(gws.OpcodeBinary, p) }
func (g gwsConn) close() error        { return g.c.WriteClose(1000, nil) }

func (gwsClient) dial(ctx context.Context, url string, o *dialOpts) (wsConn, error) {
	opt := &gws.ClientOption{Addr: url, TlsConfig: o.tls, HandshakeTimeout: dialTimeout}
	if o.deflate != deflateOff {
		opt.PermessageDeflate = gws.PermessageDeflate{
			Enabled:               true,
			ServerContextTakeover: o.deflate == deflateTakeover,
			ClientContextTakeover: o.deflate == deflateTakeover,
			// gws skips messages under 512 B without context takeover by default;
			// wsfleet's default threshold is 128 B. Compress from 128 B on both sides
			// so the compression benchmarks do the same work.
			Threshold: 128,
		}
	}
	c, resp, err := gws.NewClient(&gwsHandler{onMsg: o.onMsg}, opt)
	if err != nil {
		return nil, err
	}
	go c.ReadLoop()
	return gwsConn{c, resp}, nil
}

func (gwsClient) compressed(c wsConn) bool {
	return strings.Contains(c.(gwsConn).resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
}

func (gwsClient) shutdown() {}

// ---- gobwas/ws + wsutil ----

type gobwasClient struct{}

type gobwasConn struct{ c net.Conn }

func (g gobwasConn) send(p []byte) error { return wsutil.WriteClientMessage(g.c, ws.OpBinary, p) }
func (g gobwasConn) close() error        { return g.c.Close() }

func (gobwasClient) dial(ctx context.Context, url string, o *dialOpts) (wsConn, error) {
	if o.deflate != deflateOff {
		return nil, errUnsupported // wsflate leaves per-message compression to the application
	}
	d := ws.Dialer{Timeout: dialTimeout, TLSConfig: o.tls}
	c, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	// Bytes the server sent right after its response sit in br: read through it then.
	var rw io.ReadWriter = c
	if br != nil {
		rw = struct {
			io.Reader
			io.Writer
		}{br, c}
	}
	onMsg := o.onMsg
	go func() {
		for {
			data, _, err := wsutil.ReadServerData(rw)
			if err != nil {
				if br != nil {
					ws.PutReader(br)
				}
				return
			}
			if onMsg != nil {
				onMsg(data)
			}
		}
	}()
	return gobwasConn{c}, nil
}

func (gobwasClient) compressed(wsConn) bool { return false }
func (gobwasClient) shutdown()              {}

// ---- coder/websocket ----

type coderClient struct{}

type coderConn struct {
	c    *coder.Conn
	resp *http.Response
}

func (c coderConn) send(p []byte) error {
	return c.c.Write(context.Background(), coder.MessageBinary, p)
}
func (c coderConn) close() error { return c.c.Close(coder.StatusNormalClosure, "") }

func (coderClient) dial(ctx context.Context, url string, o *dialOpts) (wsConn, error) {
	opt := &coder.DialOptions{CompressionMode: coder.CompressionDisabled}
	switch o.deflate {
	case deflateTakeover:
		opt.CompressionMode = coder.CompressionContextTakeover
	case deflateNoContext:
		opt.CompressionMode = coder.CompressionNoContextTakeover
	}
	if o.tls != nil {
		opt.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: o.tls}}
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, resp, err := coder.Dial(ctx, url, opt)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	onMsg := o.onMsg
	go func() {
		ctx := context.Background()
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if onMsg != nil {
				onMsg(data)
			}
		}
	}()
	return coderConn{c, resp}, nil
}

func (coderClient) compressed(c wsConn) bool {
	return strings.Contains(c.(coderConn).resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
}

func (coderClient) shutdown() {}

// ---- lesismal/nbio (nbhttp websocket client) ----

type nbioClient struct {
	eng *nbhttp.Engine
	up  *nbws.Upgrader // one for all connections; per-connection state in the session
}

// nbioSession is a connection's state, found through Conn.Session from the callback.
type nbioSession struct{ onMsg func([]byte) }

func newNbio(tb testing.TB) client {
	logging.SetLevel(logging.LevelNone)
	eng := nbhttp.NewEngine(nbhttp.Config{})
	if err := eng.Start(); err != nil {
		tb.Fatal(err)
	}
	up := nbws.NewUpgrader()
	up.OnMessage(func(c *nbws.Conn, _ nbws.MessageType, data []byte) {
		// Set right after Dial returns: a push that arrives before then is dropped.
		if s, ok := c.Session().(*nbioSession); ok && s.onMsg != nil {
			s.onMsg(data)
		}
	})
	return &nbioClient{eng: eng, up: up}
}

type nbioConn struct {
	c    *nbws.Conn
	resp *http.Response
}

func (n nbioConn) send(p []byte) error { return n.c.WriteMessage(nbws.BinaryMessage, p) }
func (n nbioConn) close() error        { return n.c.Close() }

func (n *nbioClient) dial(ctx context.Context, url string, o *dialOpts) (wsConn, error) {
	if o.deflate == deflateTakeover {
		return nil, errUnsupported // nbio's client insists on no_context_takeover both ways
	}
	d := &nbws.Dialer{
		Engine:            n.eng,
		Upgrader:          n.up,
		DialTimeout:       dialTimeout,
		EnableCompression: o.deflate == deflateNoContext,
	}
	if o.tls != nil {
		d.TLSClientConfig = &llibtls.Config{RootCAs: o.tls.RootCAs, ServerName: o.tls.ServerName}
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetSession(&nbioSession{onMsg: o.onMsg})
	return nbioConn{c, resp}, nil
}

func (n *nbioClient) compressed(c wsConn) bool {
	return c.(nbioConn).c.CompressionEnabled()
}

func (n *nbioClient) shutdown() { n.eng.Stop() }
