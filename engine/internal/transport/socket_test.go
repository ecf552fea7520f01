package transport

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWriteNowStopsWhenFull: on a non-blocking socket whose peer does not read, WriteNow
// returns what the kernel took and leaves the rest, without blocking or failing.
func TestWriteNowStopsWhenFull(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	_ = unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	b := make([]byte, 8<<20)
	done := make(chan int, 1)
	go func() { done <- WriteNow(fds[0], b) }()
	select {
	case n := <-done:
		if n <= 0 || n >= len(b) {
			t.Fatalf("WriteNow took %d of %d bytes: want a part", n, len(b))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteNow blocked on a full socket")
	}
	unix.Close(fds[1])
	if n := WriteNow(fds[0], []byte("x")); n != 0 {
		t.Fatalf("WriteNow on a socket whose peer is gone took %d bytes", n)
	}
}

// TestPendingErrorTellsResetFromFIN: after a FIN, SO_ERROR is zero and io.EOF stays; after a
// reset that no read has reported, SO_ERROR holds ECONNRESET, which PendingError returns.
func TestPendingErrorTellsResetFromFIN(t *testing.T) {
	for _, reset := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err := ln.Accept()
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		if reset {
			_ = server.(*net.TCPConn).SetLinger(0) // close sends RST
		}
		server.Close()
		time.Sleep(50 * time.Millisecond) // let the FIN or RST arrive
		raw, _ := client.(*net.TCPConn).SyscallConn()
		var got error
		_ = raw.Control(func(fd uintptr) { got = PendingError(int(fd), io.EOF) })
		client.Close()
		if reset && !errors.Is(got, syscall.ECONNRESET) {
			t.Errorf("after a reset: %v, want ECONNRESET", got)
		}
		if !reset && got != io.EOF {
			t.Errorf("after a FIN: %v, want io.EOF", got)
		}
	}
	if err := PendingError(-1, errors.New("other")); err.Error() != "other" {
		t.Errorf("an error other than io.EOF came back as %v", err)
	}
}
