package engine

import (
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
)

// A dial that ran out of local ports says so with ErrNoLocalPort's advice, and still answers
// errors.Is for the errno underneath.
func TestDialErrNoLocalPort(t *testing.T) {
	u := &url.URL{Scheme: "ws", Host: "127.0.0.1:9"}
	cause := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}
	err := describeDialErr(u, cause)
	if !errors.Is(err, ErrNoLocalPort) || !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("errors.Is fails for %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:9") || !strings.Contains(err.Error(), ErrNoLocalPort.Error()) {
		t.Fatalf("message %q lacks the destination or the advice", err)
	}
}
