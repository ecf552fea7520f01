package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/loadtest"
)

// This file is wsbench's one source of advice that names its flags: the file-descriptor
// limit before a run, and what to do about the kinds of error a run met.

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (every connection is a file
// descriptor) and returns the limits in force afterwards.
func raiseFileLimit() (soft, hard uint64, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err == nil {
			rl = want
		}
	}
	return rl.Cur, rl.Max, nil
}

// warnFileLimit raises the limit and warns when this shard's connections cannot fit in it.
func warnFileLimit(stderr io.Writer, cfg *loadtest.Config, inProcess bool) {
	soft, hard, err := raiseFileLimit()
	if err != nil {
		return
	}
	need := uint64(len(cfg.Shard.IDs(max(cfg.Conns, 1)))) + 64
	if inProcess {
		need += need // the in-process server holds the other ends
	}
	if need > soft {
		fmt.Fprintf(stderr, "wsbench: warning: %d connections need about %d file descriptors but RLIMIT_NOFILE is %d (hard %d): %s\n",
			cfg.Conns, need, soft, hard, fileLimitAdvice(hard))
	}
}

func fileLimitAdvice(hard uint64) string {
	return fmt.Sprintf("raise it (ulimit -n %d, LimitNOFILE= in systemd, or the container runtime's nofile), or split the connections over processes or machines with -shard i/n", max(hard, 1048576))
}

// isTerminal reports whether w is a terminal (progress then rewrites one line).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// advice turns the kinds of error a run met into what to do, naming wsbench's flags.
func advice(res *loadtest.Result) []string {
	var out []string
	for _, e := range res.Errors {
		switch e.Kind {
		case loadtest.KindTooManyFiles:
			_, hard, _ := raiseFileLimit()
			out = append(out, fmt.Sprintf("%d dials failed with EMFILE/ENFILE: the open-file limit (RLIMIT_NOFILE) was reached: %s", e.Count, fileLimitAdvice(hard)))
		case loadtest.KindAddrNotAvail:
			out = append(out, fmt.Sprintf("%d dials failed with EADDRNOTAVAIL: no free local port towards the target (about 28k per source address and destination): spread connections over source addresses with -source-ips 127.0.0.2-127.0.0.200 (loopback) or a CIDR of the host's addresses, add target ports, or shard over machines", e.Count))
		case loadtest.KindRefused:
			out = append(out, "connection refused: is the server listening at that address? (a full accept backlog also refuses: lower -ramp)")
		case loadtest.KindTimeout:
			out = append(out, "timeouts: the server or the network did not answer in time (connect timeout, or keepalive pongs); check the server's load, or lower -ramp")
		case loadtest.KindBackedUp:
			out = append(out, "sends refused because the connection's outbound buffer was full: the server is not reading as fast as the rate asks")
		case loadtest.KindExpectTimeout:
			out = append(out, "expects timed out: the counts (timeouts(label)) say which; a reply that never matches may mean a matcher that expects another shape (run wsbench check FILE, look at others(label) examples)")
		}
	}
	return out
}
