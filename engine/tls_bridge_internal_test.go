package engine

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/pool"
)

// TestBridgeKeepsOrderAfterAShortWrite: once a record written from a sender's goroutine was
// cut short (its rest waits for the loop), the next records must queue behind it even if
// the socket has room again, or they would overtake it on the wire (a bad record MAC at the
// server).
func TestBridgeKeepsOrderAfterAShortWrite(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	s := &session{fd: fds[0]}
	b := &tlsBridge{s: s, direct: true}
	s.bridge = b
	b.cipherOut = pool.Get(64)
	b.cipherOut.B = append(b.cipherOut.B, "rest of record 1;"...)
	if n, err := b.Write([]byte("record 2")); n != 8 || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	var buf [64]byte
	if n, _ := unix.Read(fds[1], buf[:]); n > 0 {
		t.Fatalf("%q went to the socket ahead of the rest of record 1", buf[:n])
	}
	if got := string(b.cipherOut.B); got != "rest of record 1;record 2" {
		t.Fatalf("queued for the loop: %q", got)
	}
	pool.Put(b.cipherOut)
}
