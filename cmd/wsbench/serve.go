package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/wsfleet/wsfleet/internal/testserver"
)

func init() { commands["serve"] = serveMain }

// listFlag collects a flag given several times or as a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// serveMain runs the reference server until SIGINT/SIGTERM, or until standard input
// ends when -stdin-eof-exit is given (so a test's server dies with the test).
func serveMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsbench serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address host:port (port 0 picks a free port)")
	loops := fs.Int("loops", 0, "event loops (default GOMAXPROCS)")
	maxMsg := fs.Int("max-message-size", 0, "largest data message accepted, in bytes (default 64 MiB)")
	stdinEOF := fs.Bool("stdin-eof-exit", false, "exit when standard input reaches EOF")
	var protos listFlag
	fs.Var(&protos, "subprotocol", "subprotocol the server may select, in preference order (repeatable or comma list)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wsbench serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	// Signals are caught before the server starts, so none is lost in between.
	stop := make(chan os.Signal, 2)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)

	s, err := testserver.Start(testserver.Options{Addr: *addr, Loops: *loops, Subprotocols: protos, MaxMessageSize: *maxMsg})
	if err != nil {
		fmt.Fprintf(stderr, "wsbench serve: %v\n", err)
		return 1
	}
	// One line, written at once; os.Stdout is unbuffered, so a reader sees it now.
	fmt.Fprintf(stdout, "LISTENING %s\n", s.URL())

	eof := make(chan struct{})
	if *stdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(eof)
		}()
	}
	var why string
	select {
	case sig := <-stop:
		why = sig.String()
	case <-eof:
		why = "standard input closed"
	}
	err = s.Close()
	st := s.Stats()
	fmt.Fprintf(stderr, "wsbench serve: stopped (%s): accepted %d, upgraded %d, rejected %d, messages in %d out %d, bytes in %d out %d\n",
		why, st.Accepted, st.Upgraded, st.Rejected, st.MessagesIn, st.MessagesOut, st.BytesIn, st.BytesOut)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench serve: close: %v\n", err)
		return 1
	}
	return 0
}
