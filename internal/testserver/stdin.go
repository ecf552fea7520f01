package testserver

import (
	"fmt"
	"io"
	"os"
)

// ServeUntilStdinEOF runs a server with o, announces it on stdout as "LISTENING <url>" (the
// line testkit.StartLineServer and StartChild wait for) and stops it once standard input
// ends, so that a server run by a test dies with the test.
func ServeUntilStdinEOF(o Options, stdout io.Writer) error {
	s, err := Start(o)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "LISTENING %s\n", s.URL()); err != nil {
		s.Close()
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return s.Close()
}
