package engine_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testkit"
)

// startBridge is a WebSocket server that carries each connection's messages to a new TCP
// connection to backend and the backend's bytes back as binary messages, as websockify does.
// A close from the client closes the TCP connection; the end of the TCP connection closes
// the WebSocket with 1000. It returns the ws:// URL and a func that stops everything.
func startBridge(backend string) (string, func()) {
	url, stop, err := testkit.ServeRaw(func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		b, err := net.Dial("tcp", backend)
		if err != nil {
			return
		}
		defer b.Close()
		// stop closes c, which ends bridgeConn, which closes b.
		bridgeConn(c, br, b)
	})
	if err != nil {
		panic(err)
	}
	return url, stop
}

// bridgeConn runs one bridged connection: ws (read through br) to and from b.
func bridgeConn(ws net.Conn, br *bufio.Reader, b net.Conn) {
	var wmu sync.Mutex
	write := func(frame []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := ws.Write(frame)
		return err
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := b.Read(buf)
			if n > 0 && write(testkit.ServerFrame(0x82, buf[:n])) != nil {
				return
			}
			if err != nil {
				_ = write(testkit.ServerFrame(0x88, []byte{0x03, 0xe8})) // 1000: the backend is done
				return
			}
		}
	}()
	for {
		f, err := testkit.ReadClientFrame(br, ws, time.Hour)
		if err != nil {
			return
		}
		switch f.Op {
		case 0, 1, 2:
			if _, err := b.Write(f.Payload); err != nil {
				return
			}
		case 8:
			_ = write(testkit.ServerFrame(0x88, f.Payload))
			closeWrite(b)
			return
		case 9:
			_ = write(testkit.ServerFrame(0x8a, f.Payload))
		}
	}
}

// pipeOptions are the nettest pipe's: FutureTimeout and ConcurrentMethods write as fast as
// they can (up to MaxPendingBytes, 4 MiB, of 1 KiB messages) and then read it all back
// echoed, and the engine reads the socket whether or not Read is called (gnet cannot pause
// a socket), so the inbox must hold that flood: 4,096+ bridge frames, more than the default
// InboxSize of 256 (with which the reader can lose the race and the connection ends 1008).
// A short CloseTimeout: PresentTimeout closes while the bridge is stuck writing to an unread c2.
var pipeOptions = &engine.DialOptions{InboxSize: 16384, CloseTimeout: time.Second}

// TestNetConnConformance runs golang.org/x/net/nettest's net.Conn tests: c1 is NetConn over a
// WebSocket to a bridge, c2 the bridge's TCP connection to a loopback listener. Every test
// applies; see pipeOptions for the one setting they need.
func TestNetConnConformance(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	wsURL, stop := startBridge(ln.Addr().String())
	defer stop()
	eng := newEngine(t)
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		c, err := eng.Dial(context.Background(), wsURL, pipeOptions)
		if err != nil {
			return nil, nil, nil, err
		}
		c1 = engine.NetConn(c, engine.Binary)
		c2 = <-accepted
		return c1, c2, func() { c1.Close(); c2.Close() }, nil
	})
}

// TestNetConnMessages checks the message side: a Read never spans two messages, a large one is
// read in pieces, an empty one is skipped, and the server's 1000 reads as io.EOF.
func TestNetConnMessages(t *testing.T) {
	checkNoLeaks(t)
	eng := newEngine(t)
	url := testkit.RawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := testkit.Upgrade(c, br, ""); err != nil {
			return
		}
		for _, f := range [][]byte{
			testkit.ServerFrame(0x81, []byte("hello")), testkit.ServerFrame(0x82, nil), testkit.ServerFrame(0x82, []byte("wide world")),
			testkit.ServerFrame(0x88, []byte{0x03, 0xe8}),
		} {
			c.Write(f)
		}
		testkit.ReadClientFrame(br, c, 5*time.Second) // our close answer
	})
	c, err := eng.Dial(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc := engine.NetConn(c, engine.Binary)
	var reads []string
	buf := make([]byte, 4)
	for {
		n, err := nc.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		reads = append(reads, string(buf[:n]))
	}
	if got := strings.Join(reads, "|"); got != "hell|o|wide| wor|ld" {
		t.Errorf("reads %q", got)
	}
	if err := nc.Close(); err != nil {
		t.Errorf("close after the server's close: %v", err)
	}
	if _, err := nc.Write([]byte("x")); err == nil {
		t.Error("write after close succeeded")
	}
}
