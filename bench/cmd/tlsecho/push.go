package main

import (
	"encoding/binary"
	"errors"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/lxzan/gws"
)

// The wss push benchmark's server side, on the reference server's terms (wsbench serve's
// /push): /push?interval=1s&size=64 sends every connection a size-byte binary message every
// interval, all connections of one interval together on multiples of it since the pusher
// started; bytes 0-7 are the send time (UnixNano, little endian), bytes 8-15 the tick number.

// pushers holds one pusher per (interval, size), started on its first connection.
type pushers struct {
	mu  sync.Mutex
	all map[pushKey]*pusher
}

type pushKey struct {
	interval time.Duration
	size     int
}

// pusher sends its connections their messages, each tick spread over one goroutine per P:
// every message is encrypted separately, and one goroutine would fall behind.
type pusher struct {
	pushKey
	mu    sync.Mutex
	conns map[*gws.Conn]struct{}
}

// sessionKey is where a connection's pusher is kept in its gws session, for OnClose.
const sessionKey = "pusher"

// parsePush reads interval and size from a /push request's query.
func parsePush(q url.Values) (pushKey, error) {
	k := pushKey{interval: 100 * time.Millisecond, size: 64}
	if v := q.Get("interval"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return k, errors.New("bad /push interval: want a positive duration")
		}
		k.interval = d
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 16 || n > 1<<20 {
			return k, errors.New("bad /push size: want 16 B to 1 MiB")
		}
		k.size = n
	}
	return k, nil
}

// join adds c to the pusher for k, starting it if it is the first.
func (ps *pushers) join(k pushKey, c *gws.Conn) {
	ps.mu.Lock()
	p := ps.all[k]
	if p == nil {
		if ps.all == nil {
			ps.all = map[pushKey]*pusher{}
		}
		p = &pusher{pushKey: k, conns: map[*gws.Conn]struct{}{}}
		ps.all[k] = p
		go p.run()
	}
	ps.mu.Unlock()
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	c.Session().Store(sessionKey, p)
}

// leave removes c from its pusher, if it has one.
func leave(c *gws.Conn) {
	if v, ok := c.Session().Load(sessionKey); ok {
		p := v.(*pusher)
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}
}

func (p *pusher) run() {
	workers := runtime.GOMAXPROCS(0)
	bufs := make([][]byte, workers)
	for i := range bufs {
		bufs[i] = make([]byte, p.size)
	}
	var list []*gws.Conn
	interval := int64(p.interval)
	for tick := uint64(0); ; tick++ {
		now := time.Now().UnixNano()
		time.Sleep(time.Duration((now/interval+1)*interval - now))
		p.mu.Lock()
		list = list[:0]
		for c := range p.conns {
			list = append(list, c)
		}
		p.mu.Unlock()
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(buf []byte, part []*gws.Conn) {
				defer wg.Done()
				binary.LittleEndian.PutUint64(buf[8:], tick)
				for _, c := range part {
					binary.LittleEndian.PutUint64(buf, uint64(time.Now().UnixNano()))
					_ = c.WriteMessage(gws.OpcodeBinary, buf)
				}
			}(bufs[w], list[w*len(list)/workers:(w+1)*len(list)/workers])
		}
		wg.Wait()
	}
}
