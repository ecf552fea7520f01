package engine_test

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// countingEcho checks that each connection gets back exactly the sequence it sent.
type countingEcho struct {
	want     int
	received atomic.Int64
	bad      atomic.Int64
	done     sync.WaitGroup
}

type seqState struct {
	next int
}

func (h *countingEcho) OnOpen(*engine.Conn) {}
func (h *countingEcho) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	st := c.Value().(*seqState)
	if len(data) != 16 || int(binary.LittleEndian.Uint64(data)) != st.next {
		h.bad.Add(1)
	}
	st.next++
	h.received.Add(1)
	if st.next == h.want {
		h.done.Done()
		return
	}
	var p [16]byte
	binary.LittleEndian.PutUint64(p[:], uint64(st.next))
	_ = c.Send(engine.Binary, p[:])
}
func (h *countingEcho) OnClose(*engine.Conn, error) {}

// 10,000 concurrent connections to the reference server (in its own process: a process may
// hold at most 20,000 open files here), each echoing a sequence of messages; every message is
// accounted for, in order.
func TestTenThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("10k connections: skipped under -short")
	}
	const conns, each = 10_000, 10
	url := externalServer(t)
	eng := newEngine(t)
	h := &countingEcho{want: each}
	h.done.Add(conns)
	all := make([]*engine.Conn, conns)
	start := time.Now()
	var wg sync.WaitGroup
	var dialErrs atomic.Int64
	sem := make(chan struct{}, 64)
	for i := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := eng.Dial(context.Background(), url+"/echo", &engine.DialOptions{Handler: h, Value: &seqState{}})
			if err != nil {
				if dialErrs.Add(1) < 5 {
					t.Error(err)
				}
				h.done.Done()
				return
			}
			all[i] = c
		}(i)
	}
	wg.Wait()
	t.Logf("%d connections up in %v", conns, time.Since(start))
	if n := dialErrs.Load(); n > 0 {
		t.Fatalf("%d dials failed", n)
	}
	if s := eng.Stats(); s.Open != conns {
		t.Fatalf("open %d, want %d", s.Open, conns)
	}
	start = time.Now()
	var first [16]byte
	for _, c := range all {
		if err := c.Send(engine.Binary, first[:]); err != nil {
			t.Fatal(err)
		}
	}
	waited := make(chan struct{})
	go func() { h.done.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("only %d of %d messages came back", h.received.Load(), conns*each)
	}
	t.Logf("%d messages echoed in %v", conns*each, time.Since(start))
	if got := h.received.Load(); got != conns*each || h.bad.Load() != 0 {
		t.Fatalf("received %d (want %d), %d out of sequence", got, conns*each, h.bad.Load())
	}
	s := eng.Stats()
	if s.MessagesIn != conns*each || s.MessagesOut != conns*each {
		t.Fatalf("stats %+v", s)
	}
	for _, c := range all {
		c.Close()
	}
	waitStats(t, eng, func(s engine.Stats) bool { return s.Open == 0 && s.Closing == 0 })
}
