#!/usr/bin/env bash
# netpoll-experiment.sh — what wsbench's CPU per message would be if gnet's event loops
# waited in Go's netpoller instead of in a blocking epoll_wait(2) (docs/benchmarks.md,
# "Socket.IO chat", "An event loop that parks in Go's netpoller"). Not part of make test;
# nothing it builds is shipped.
#
# It builds two experimental wsbench binaries beside the normal one, in a temporary
# directory, from a temporary copy of gnet (the module cache's, the version go.mod names)
# and a temporary worktree of this repository (HEAD), and changes only those copies:
#
#   netpoll          gnet's epoll poller (pkg/netpoll, the default build) sets its epoll
#                    descriptor non-blocking and waits for it to become readable through
#                    the RawConn of an *os.File holding a duplicate of it (closed when the
#                    loop ends), that is in Go's netpoller,
#                    where an idle thread holds no P; it drains events with epoll_wait(0)
#                    as a raw system call, and no longer calls runtime.Gosched when idle.
#                    gnet's read(2) and write(2) on sockets, and the engine's WriteNow, use
#                    raw system calls (non-blocking sockets: they never wait), so they do not
#                    wake the runtime's sysmon thread from its deep sleep.
#   netpoll-nosleep  the same, and the load tester's senders sleep on Go timers only
#                    (loadtest/clock.go preciseSleep = 0: sends up to ~1 ms late, which the
#                    run reports as sender lag).
#
# Then, unless BUILD_ONLY=1, it runs bench/socketio/compare.sh with the three wsbench binaries
# and k6 in rotating order (pass compare.sh's environment: NS, EVERY, ROOM_SIZE, REPEATS,
# DUR, WARM, RAMP, OUT; TOOLS defaults to "wsbench wsbench-netpoll wsbench-netpoll-nosleep k6").
#
#   NS=200 EVERY=4000 ROOM_SIZE=20 REPEATS=2 DUR=20 WARM=3 RAMP=500 bash bench/socketio/netpoll-experiment.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/wsfleet-netpoll-XXXXXX")}
mkdir -p "$work"
gnetdir=$(cd "$root" && go list -m -f '{{.Dir}}' github.com/panjf2000/gnet/v2)
echo "netpoll-experiment: gnet $(cd "$root" && go list -m -f '{{.Version}}' github.com/panjf2000/gnet/v2), work in $work" >&2

cp -r "$gnetdir" "$work/gnet"
chmod -R u+w "$work/gnet"
git -C "$root" worktree add -q --detach "$work/wsfleet" HEAD
trap 'git -C "$root" worktree remove --force "$work/wsfleet" 2>/dev/null || true' EXIT

# Each edit names the text it replaces and fails loudly when that text is not there (another
# gnet version): the experiment is then to be redone by hand, not silently skipped.
python3 - "$work/gnet" "$work/wsfleet" <<'EOF'
import sys, pathlib
gnet, ws = map(pathlib.Path, sys.argv[1:])

def edit(path, old, new, count=1):
    s = path.read_text()
    if s.count(old) != count:
        sys.exit(f"netpoll-experiment: {path}: expected {count} of {old!r}")
    path.write_text(s.replace(old, new))

poller = gnet / "pkg/netpoll/poller_epoll_default.go"
edit(poller, '''	msec := -1
	for {
		n, err := unix.EpollWait(p.fd, el.events, msec)
		if n == 0 || (n < 0 && err == unix.EINTR) {
			msec = -1
			runtime.Gosched()
			continue
		} else if err != nil {''', '''	// The netpoller gets a duplicate of the epoll descriptor (same epoll instance), which
	// the File closes when Polling returns; gnet still closes its own descriptor.
	if err := unix.SetNonblock(p.fd, true); err != nil {
		return err
	}
	dup, err := unix.FcntlInt(uintptr(p.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	epf := os.NewFile(uintptr(dup), "epoll")
	defer epf.Close()
	rc, err := epf.SyscallConn()
	if err != nil {
		return err
	}
	drain := func() (int, error) {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(p.fd),
			uintptr(unsafe.Pointer(&el.events[0])), uintptr(len(el.events)), 0, 0, 0)
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
	for {
		n, err := drain()
		if n == 0 {
			_ = rc.Read(func(uintptr) bool {
				n, err = drain()
				return n != 0
			})
		}
		if n == 0 || (n < 0 && err == unix.EINTR) {
			continue
		} else if err != nil {''')
edit(poller, "\t\tmsec = 0\n", "")
if "runtime." not in poller.read_text():
    edit(poller, '\t"runtime"\n', '')
if '"unsafe"' not in poller.read_text():
    edit(poller, 'import (\n', 'import (\n\t"unsafe"\n')

(gnet / "rawio_experiment.go").write_text('''package gnet

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawIO is read(2) or write(2) on a non-blocking socket without entersyscall.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawRead(fd int, b []byte) (int, error)  { return rawIO(unix.SYS_READ, fd, b) }
func rawWrite(fd int, b []byte) (int, error) { return rawIO(unix.SYS_WRITE, fd, b) }
''')
edit(gnet / "eventloop_unix.go", "unix.Read(c.fd, el.buffer)", "rawRead(c.fd, el.buffer)")
edit(gnet / "eventloop_unix.go", "unix.Write(c.fd, iov[0])", "rawWrite(c.fd, iov[0])")
edit(gnet / "connection_unix.go", "unix.Write(c.fd, buf)", "rawWrite(c.fd, buf)")
edit(gnet / "connection_unix.go", "unix.Write(c.fd, data)", "rawWrite(c.fd, data)")

sock = ws / "engine/internal/transport/socket.go"
edit(sock, '''		n, err := unix.Write(fd, b[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {''', '''		r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[done])), uintptr(len(b)-done))
		n := int(r)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || n <= 0 {''')
edit(sock, '"syscall"\n', '"syscall"\n\t"unsafe"\n')
EOF

(cd "$root" && go build -o "$work/wsbench" ./cmd/wsbench)
(
	cd "$work/wsfleet"
	go mod edit -replace "github.com/panjf2000/gnet/v2=$work/gnet"
	go build -o "$work/wsbench-netpoll" ./cmd/wsbench
	sed -i 's/^const preciseSleep = 2 \* time.Millisecond$/const preciseSleep = 0/' loadtest/clock.go
	grep -q '^const preciseSleep = 0$' loadtest/clock.go || { echo "netpoll-experiment: loadtest/clock.go: no preciseSleep" >&2; exit 1; }
	go build -o "$work/wsbench-netpoll-nosleep" ./cmd/wsbench
)
echo "netpoll-experiment: built $work/wsbench, $work/wsbench-netpoll, $work/wsbench-netpoll-nosleep" >&2
[ "${BUILD_ONLY:-}" = 1 ] && exit 0

export WSBENCH=$work/wsbench WSBENCH_netpoll=$work/wsbench-netpoll WSBENCH_netpoll_nosleep=$work/wsbench-netpoll-nosleep
TOOLS=${TOOLS:-"wsbench wsbench-netpoll wsbench-netpoll-nosleep k6"} bash "$here/compare.sh"
