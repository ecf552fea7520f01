package testserver

import (
	"fmt"
	"os"
)

// quietLogger keeps gnet's errors and drops the rest: its info and warning lines
// (one per start, stale-fd notices) would drown test output.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wsfleet/internal/testserver: gnet: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wsfleet/internal/testserver: gnet: fatal: "+format+"\n", args...)
}
