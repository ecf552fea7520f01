package transport

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// WriteNow writes what the socket fd takes now, without blocking (gnet's sockets are
// non-blocking), and returns how much that was. It is how a sender's goroutine writes a
// frame without waking the loop: gnet's Conn.Write may only be called on the loop. The
// caller serialises every write to fd (the connection's lock) and keeps the rest for the
// loop, which hands it to gnet's outbound buffer. Errors are left for the loop, whose own
// write meets them again and closes the connection with the cause.
func WriteNow(fd int, b []byte) int {
	done := 0
	for done < len(b) {
		n, err := unix.Write(fd, b[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		done += n
	}
	return done
}

// PendingError turns gnet's io.EOF into the socket's own error when it has one. gnet reports
// io.EOF for a read of 0 bytes (the server's FIN) but also, without reading, when epoll
// reports an error or hang-up with nothing readable, which is how a reset caught halfway
// through the kernel's processing shows up (the error is set, the receive side not yet
// shut). The descriptor is still open during OnClose, so SO_ERROR tells a reset from a FIN;
// it is zero after a FIN, and after a reset that a read already reported.
func PendingError(fd int, netErr error) error {
	if !errors.Is(netErr, io.EOF) {
		return netErr
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && v != 0 {
		return os.NewSyscallError("read", syscall.Errno(v))
	}
	return netErr
}
