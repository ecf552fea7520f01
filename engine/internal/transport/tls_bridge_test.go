package transport

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/pool"
)

// pairSocket is one end of a socketpair as the bridge's Socket.
type pairSocket struct {
	fd   int
	gone bool
	loop []byte // what LoopWrite got
}

func (p *pairSocket) Gone() bool         { return p.gone }
func (p *pairSocket) LoopWrite(b []byte) { p.loop = append(p.loop, b...) }
func (p *pairSocket) Fd() int            { return p.fd }

func socketpair(t *testing.T) [2]int {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds
}

// TestBridgeKeepsOrderAfterAShortWrite: once a record written from a sender's goroutine was
// cut short (its rest waits for the loop), the next records must queue behind it even if
// the socket has room again, or they would overtake it on the wire (a bad record MAC at the
// server).
func TestBridgeKeepsOrderAfterAShortWrite(t *testing.T) {
	fds := socketpair(t)
	b := &TLSBridge{}
	b.Attach(&pairSocket{fd: fds[0]})
	b.SetDirect(true)
	b.pending = pool.Get(64)
	b.pending.B = append(b.pending.B, "rest of record 1;"...)
	if n, err := b.Write([]byte("record 2")); n != 8 || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	var buf [64]byte
	if n, _ := unix.Read(fds[1], buf[:]); n > 0 {
		t.Fatalf("%q went to the socket ahead of the rest of record 1", buf[:n])
	}
	if !b.Pending() {
		t.Fatal("nothing pending for the loop")
	}
	p := b.TakePending()
	if got := string(p.B); got != "rest of record 1;record 2" {
		t.Fatalf("queued for the loop: %q", got)
	}
	pool.Put(p)
}

// TestBridgeWrites: from a sender's goroutine the bridge writes the socket itself; on the
// loop it goes through gnet (LoopWrite); once the socket is gone it refuses.
func TestBridgeWrites(t *testing.T) {
	fds := socketpair(t)
	s := &pairSocket{fd: fds[0]}
	b := &TLSBridge{}
	b.Attach(s)
	b.SetDirect(true)
	if _, err := b.Write([]byte("direct")); err != nil || b.Pending() {
		t.Fatalf("direct write: %v, pending %v", err, b.Pending())
	}
	var buf [16]byte
	if n, _ := unix.Read(fds[1], buf[:]); string(buf[:n]) != "direct" {
		t.Fatalf("socket got %q", buf[:n])
	}
	b.SetDirect(false)
	_, _ = b.Write([]byte("loop"))
	if string(s.loop) != "loop" {
		t.Fatalf("LoopWrite got %q", s.loop)
	}
	s.gone = true
	if _, err := b.Write([]byte("late")); err == nil {
		t.Fatal("a write after the socket went was taken")
	}
}

// TestBridgeReadsOneRecordAtATime: Read hands crypto/tls at most one record, says "would
// block" (a temporary error, which crypto/tls does not keep) when the input is used up, and
// Drained says so.
func TestBridgeReadsOneRecordAtATime(t *testing.T) {
	b := &TLSBridge{}
	b.Attach(&pairSocket{fd: -1})
	rec := func(body string) []byte { return append([]byte{23, 3, 3, 0, byte(len(body))}, body...) }
	b.Feed(append(rec("one"), rec("two")...))
	var p [64]byte
	n, err := b.Read(p[:])
	if err != nil || string(p[:n]) != string(rec("one")) {
		t.Fatalf("first read %q, %v", p[:n], err)
	}
	if b.Drained() {
		t.Fatal("drained with a record left")
	}
	n, _ = b.Read(p[:])
	if string(p[:n]) != string(rec("two")) || !b.Drained() {
		t.Fatalf("second read %q, drained %v", p[:n], b.Drained())
	}
	if _, err := b.Read(p[:]); !errors.Is(err, ErrWouldBlock) || !ErrWouldBlock.Timeout() {
		t.Fatalf("read past the input: %v", err)
	}
}
