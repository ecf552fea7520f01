package engine_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// faultConn is one connection's bookkeeping in the faults-under-load test; only its loop
// touches it (Handler callbacks run there).
type faultConn struct {
	resetAt  int // the server resets after this many echoes (0: never)
	next     int // next sequence number expected back
	opens    int
	closes   int
	lastErr  error
	finished bool
}

type faultHandler struct {
	msgs     int
	finished sync.WaitGroup
	lost     atomic.Int64
	mu       sync.Mutex
}

func (h *faultHandler) OnOpen(c *engine.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := c.Value().(*faultConn)
	st.opens++
	if st.opens > 1 && !st.finished {
		// Back after a reset: the server's count starts again on the new connection, so the
		// run goes on from where it stopped, with no reset this time.
		h.send(c, st.next)
	}
}

func (h *faultHandler) OnMessage(c *engine.Conn, _ engine.MessageType, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := c.Value().(*faultConn)
	if st.finished {
		return
	}
	if got := int(binary.LittleEndian.Uint64(data)); got != st.next {
		h.lost.Add(1)
	}
	st.next++
	if st.next == h.msgs {
		st.finished = true
		h.finished.Done()
		return
	}
	h.send(c, st.next)
}

func (h *faultHandler) OnClose(c *engine.Conn, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := c.Value().(*faultConn)
	st.closes++
	st.lastErr = err
}

func (h *faultHandler) send(c *engine.Conn, seq int) {
	var p [8]byte
	binary.LittleEndian.PutUint64(p[:], uint64(seq))
	_ = c.Send(engine.Binary, p[:])
}

// 2,000 connections echoing while the server resets 10% of them at random points mid-stream:
// each of those reports its error once, the other 90% lose no message, and under a Reconnect
// policy the reset ones come back and finish their run.
func TestFaultsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 connections: skipped under -short")
	}
	const conns, msgs = 2000, 40
	url := externalServer(t)
	eng := newEngine(t)
	h := &faultHandler{msgs: msgs}
	h.finished.Add(conns)
	policy := &engine.ReconnectPolicy{MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
	rng := rand.New(rand.NewPCG(1, 2))
	states := make([]*faultConn, conns)
	all := make([]*engine.Conn, conns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range all {
		st := &faultConn{}
		path := "/echo"
		if i%10 == 0 {
			st.resetAt = 1 + rng.IntN(msgs-2)
			path = fmt.Sprintf("/reset?after=%d", st.resetAt)
		}
		states[i] = st
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, path string) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := eng.Dial(context.Background(), url+path, &engine.DialOptions{Handler: h, Value: states[i], Reconnect: policy})
			if err != nil {
				t.Error(err)
				h.finished.Done()
				return
			}
			all[i] = c
		}(i, path)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, c := range all {
		h.send(c, 0)
	}
	done := make(chan struct{})
	go func() { h.finished.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("runs did not finish")
	}
	// The reconnected connections redial /reset?after=N too: their new session resets again
	// after N more echoes unless the run ends first, so count only the first reset as required.
	var resets int
	h.mu.Lock() // late callbacks (a reset after a finished run) may still come
	defer h.mu.Unlock()
	for i, st := range states {
		if st.resetAt == 0 {
			if st.closes != 0 || st.opens != 1 {
				t.Errorf("conn %d (no fault): %d opens, %d closes (%v)", i, st.opens, st.closes, st.lastErr)
			}
			continue
		}
		resets++
		// Every reset is one OnClose followed by one OnOpen; the redialed URL resets again, so the
		// last reset may come after the run finished, with no reopen needed.
		if st.closes < 1 || !(st.opens == st.closes+1 || (st.finished && st.opens == st.closes)) {
			t.Errorf("conn %d (reset after %d): %d opens, %d closes", i, st.resetAt, st.opens, st.closes)
		}
		if !errors.Is(st.lastErr, engine.ErrAbnormalClose) || !errors.Is(st.lastErr, syscall.ECONNRESET) {
			t.Errorf("conn %d: error %v, want a reset (resetAt %d, opens %d, closes %d, finished %v, next %d)", i, st.lastErr, st.resetAt, st.opens, st.closes, st.finished, st.next)
		}
	}
	if n := h.lost.Load(); n != 0 {
		t.Errorf("%d messages lost or out of order", n)
	}
	s := eng.Stats()
	t.Logf("%d connections, %d reset at random points, %d reconnections, %d messages in", conns, resets, s.Reconnects, s.MessagesIn)
	if s.Reconnects < int64(resets) {
		t.Errorf("%d reconnections for %d resets", s.Reconnects, resets)
	}
	h.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
	h.mu.Lock()
}
