package faulttest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wsfleet/wsfleet/internal/testserver"
)

// ChildMain runs the role a parent asked for through RoleEnv and exits; it returns at once
// when RoleEnv is unset (the process is the test itself). Call it first in TestMain.
func ChildMain() {
	switch os.Getenv(RoleEnv) {
	case "":
		return
	case "server":
		os.Exit(serveChild(os.Getenv(AddrEnv)))
	case "clients":
		os.Exit(workerChild(os.Stdin, os.Stdout))
	default:
		fmt.Fprintf(os.Stderr, "faulttest: unknown %s %q\n", RoleEnv, os.Getenv(RoleEnv))
		os.Exit(2)
	}
}

// serveChild runs the reference server until stdin ends, reporting "HS <unix ns> <upgrades>"
// whenever the count of completed upgrades changed (checked every 5 ms) and "IN <messages>"
// every 100 ms, so the parent sees the handshake rate of a reconnection storm.
func serveChild(addr string) int {
	s, err := testserver.Start(testserver.Options{Addr: addr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "LISTENING %s\n", s.Addr())
	_ = out.Flush()
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var last, lastIn int64
	for n := 0; ; n++ {
		select {
		case <-eof:
			_ = s.Close()
			return 0
		case <-tick.C:
			st := s.Stats()
			if st.Upgraded != last {
				last = st.Upgraded
				// The time of the reading, not of the tick: a late tick must not move the
				// upgrades it finds into an earlier 100 ms.
				fmt.Fprintf(out, "HS %d %d\n", time.Now().UnixNano(), last)
			}
			if n%20 == 0 && st.MessagesIn != lastIn {
				lastIn = st.MessagesIn
				fmt.Fprintf(out, "IN %d\n", lastIn)
			}
			_ = out.Flush()
		}
	}
}
