// Command wscat is a line-oriented WebSocket client: each line of standard input goes out as
// a text message, each message received is printed on its own line. On end of input it closes
// with 1000 and waits for the close handshake.
//
//	wscat [-H 'Name: value']... [-subprotocol p] [-compress] [-connect-timeout 8s] [-recv-timeout 0] [-v]
//	      [-cacert ca.pem] [-cert c.pem -key k.pem] [-insecure] [-proxy URL|none] ws://host:port/path | wss://...
//
// Without -proxy, HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY apply (engine.ProxyFromEnvironment);
// -proxy none dials directly.
//
// Exit status: 0 when the connection ends with close code 1000; 1 otherwise, with one line on
// standard error naming the cause (HTTP status, close code and reason, timeout, protocol error);
// 2 for bad usage.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/dialflags"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type headerFlags struct{ h http.Header }

func (f *headerFlags) String() string { return "" }
func (f *headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want 'Name: value', got %q", v)
	}
	f.h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// The trace hook writes from the loop and from the sending goroutine, and may still fire
	// (the close being traced) after run has returned: writes are serialised, then dropped.
	lw := &lockedWriter{w: stderr}
	defer lw.stop()
	stderr = lw
	fs := flag.NewFlagSet("wscat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	headers := headerFlags{h: http.Header{}}
	fs.Var(&headers, "H", "extra request header 'Name: value' (repeatable)")
	subprotocol := fs.String("subprotocol", "", "subprotocols to offer, comma-separated")
	compress := fs.Bool("compress", false, "offer permessage-deflate (RFC 7692); with -v, print what the server agreed to")
	connectTimeout := fs.Duration("connect-timeout", engine.DefaultConnectTimeout, "bound on TCP connect + upgrade")
	recvTimeout := fs.Duration("recv-timeout", 0, "fail when no message arrives for this long (0: wait forever)")
	verbose := fs.Bool("v", false, "trace connect, frames sent and received, pings answered, forced closes")
	var dial dialflags.Flags
	dial.Register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wscat [flags] ws://host:port/path")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	opts := &engine.DialOptions{
		ConnectTimeout: *connectTimeout,
		RecvTimeout:    *recvTimeout,
		Header:         headers.h,
	}
	var err error
	if opts.TLSConfig, err = dial.TLSConfig(); err != nil {
		fmt.Fprintf(stderr, "wscat: %v\n", err)
		return 2
	}
	if opts.Proxy, err = dial.ProxyFunc(); err != nil {
		fmt.Fprintf(stderr, "wscat: %v\n", err)
		return 2
	}
	if dial.Insecure {
		fmt.Fprintln(stderr, "wscat: WARNING: -insecure: the server's certificate is not verified")
	}
	if *subprotocol != "" {
		for _, p := range strings.Split(*subprotocol, ",") {
			opts.Protocols = append(opts.Protocols, strings.TrimSpace(p))
		}
	}
	if *compress {
		opts.Compression = &engine.Compression{}
	}
	if *verbose {
		opts.Trace = func(ev engine.TraceEvent) { fmt.Fprintln(stderr, describeTrace(ev)) }
	}
	c, err := engine.Dial(context.Background(), fs.Arg(0), opts)
	if err != nil {
		fmt.Fprintf(stderr, "wscat: %v\n", err)
		return 1
	}
	if *verbose && c.Subprotocol() != "" {
		fmt.Fprintf(stderr, "* subprotocol %s\n", c.Subprotocol())
	}
	if p, ok := c.Compression(); *verbose && ok {
		fmt.Fprintf(stderr, "* permessage-deflate: %+v\n", p)
	} else if *verbose && *compress {
		fmt.Fprintln(stderr, "* permessage-deflate declined by the server")
	}

	sendErr := make(chan error, 1)
	go func() { sendErr <- pump(c, stdin) }()

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	for {
		m, err := c.Recv(context.Background())
		if err != nil {
			out.Flush()
			return report(c, err, sendErr, stderr)
		}
		if m.Type == engine.Text {
			out.Write(m.Data)
		} else {
			fmt.Fprintf(out, "<binary %d bytes> %s", len(m.Data), hex.EncodeToString(m.Data[:min(len(m.Data), 64)]))
		}
		out.WriteByte('\n')
		m.Release()
		if err := out.Flush(); err != nil {
			c.CloseWith(1001, "output closed")
			return 1
		}
	}
}

// pump sends stdin line by line, then closes with 1000 on EOF.
func pump(c *engine.Conn, stdin io.Reader) error {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if err := c.Send(engine.Text, sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		c.CloseWith(1001, "input error")
		return err
	}
	return c.CloseWith(1000, "")
}

// report turns the end of the connection into the exit status and one line on stderr.
func report(c *engine.Conn, err error, sendErr <-chan error, stderr io.Writer) int {
	var ce *engine.CloseError
	if errors.As(err, &ce) && ce.Code == 1000 {
		return 0
	}
	if errors.Is(err, engine.ErrTimeout) {
		c.CloseWith(1000, "")
	}
	fmt.Fprintf(stderr, "wscat: %v\n", err)
	return 1
}

func describeTrace(ev engine.TraceEvent) string {
	ts := time.Now().Format("15:04:05.000")
	switch ev.Kind {
	case engine.TraceFrameSent, engine.TraceFrameRecv:
		dir := ">"
		if ev.Kind == engine.TraceFrameRecv {
			dir = "<"
		}
		fin := ""
		if !ev.Fin {
			fin = " (more)"
		}
		return fmt.Sprintf("* %s %s %s %d bytes%s", ts, dir, ev.Opcode, ev.Length, fin)
	}
	if ev.Err != nil {
		return fmt.Sprintf("* %s %s: %v", ts, ev.Kind, ev.Err)
	}
	return fmt.Sprintf("* %s %s", ts, ev.Kind)
}

// lockedWriter serialises writes from several goroutines; after stop it drops them.
type lockedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return len(p), nil
	}
	return l.w.Write(p)
}

func (l *lockedWriter) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}
