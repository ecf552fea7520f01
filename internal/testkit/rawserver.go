package testkit

import (
	"bufio"
	"net"
	"sync"
	"testing"
)

// RawServer listens on loopback and runs serve for each accepted connection, on its own
// goroutine: a hand-written server for the hostile inputs no real server sends. It returns
// the ws:// base URL; the listener and every connection close in t.Cleanup.
func RawServer(t testing.TB, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	url, stop, err := ServeRaw(serve)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// ServeRaw is RawServer for callers without a testing.TB (examples): stop closes the
// listener and every connection, and waits for the serve goroutines.
func ServeRaw(serve func(c net.Conn, br *bufio.Reader)) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return "ws://" + ln.Addr().String(), func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}, nil
}
