package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/wsfleet/wsfleet/codec"
)

// ReconnectPolicy redials a connection that ended without our asking: after an abnormal
// close, a timeout, a protocol error or a server close other than 1000. The same *Conn
// carries on. A Handler sees OnClose, then OnOpen again. An owner (Active or Once mode)
// gets an Event with Reconnecting set after the old connection's messages, then one with
// Reconnected set before the new connection's. These events go through the inbox like
// messages, in order, and are never dropped, except that under DropOldest they count as
// messages (and may be dropped as the oldest); under CloseSlowConsumer a Reconnecting event
// that finds the inbox full ends the connection for good with ErrSlowConsumer instead of
// redialing. A passive connection gets no such events (Recv skips them). The Reconnected
// event comes before any message of the new connection.
type ReconnectPolicy struct {
	MinDelay    time.Duration // first delay (default 100 ms)
	MaxDelay    time.Duration // cap (default 30 s)
	Multiplier  float64       // growth per attempt (default 2)
	Jitter      float64       // fraction of each delay randomised, 0..1 (default 0.2)
	MaxAttempts int           // give up after this many failed dials (0: never)
}

// delay is the wait before attempt n (0-based): exponential, capped, with jitter so that
// thousands of connections dropped together do not come back together.
func (p *ReconnectPolicy) delay(n int) time.Duration {
	lo, hi, m, j := p.MinDelay, p.MaxDelay, p.Multiplier, p.Jitter
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	if m < 1 {
		m = 2
	}
	if j <= 0 || j > 1 {
		j = 0.2
	}
	d := float64(lo)
	for i := 0; i < n && d < float64(hi); i++ {
		d *= m
	}
	if d > float64(hi) {
		d = float64(hi)
	}
	d *= 1 - j + 2*j*rand.Float64()
	return time.Duration(d)
}

func (c *Conn) shouldRetryLocked(cause error) bool {
	if c.opts.Reconnect == nil || c.noRetry || c.eng.closed.Load() {
		return false
	}
	var ce *CloseError
	if errors.As(cause, &ce) && (!ce.Remote || ce.Code == 1000) {
		return false
	}
	return true
}

func (c *Conn) reconnect() {
	p := c.opts.Reconnect
	for attempt := 0; ; attempt++ {
		t := time.NewTimer(p.delay(attempt))
		stopped := c.waitRetry(t)
		t.Stop()
		if stopped {
			c.giveUp(nil, 0)
			return
		}
		err := c.connect(context.Background())
		if c.opts.Trace != nil {
			c.trace(TraceEvent{Kind: TraceReconnect, Err: err})
		}
		if err == nil {
			c.eng.stats.reconnects.Add(1)
			c.mu.Lock()
			stop := c.noRetry
			c.mu.Unlock()
			if stop { // Close came while we dialed
				c.startClose(codec.CloseNormal, "")
			}
			return
		}
		if p.MaxAttempts > 0 && attempt+1 >= p.MaxAttempts {
			c.giveUp(err, attempt+1)
			return
		}
	}
}

// waitRetry sleeps until t fires, or reports true when Close asked to stop retrying. It
// waits on a channel that stopReconnecting closes rather than polling: a fleet of thousands
// of connections waiting out a server restart must not wake thousands of times a tick.
func (c *Conn) waitRetry(t *time.Timer) bool {
	c.mu.Lock()
	if c.noRetry {
		c.mu.Unlock()
		return true
	}
	x := c.extraLocked()
	if x.retryStop == nil {
		x.retryStop = make(chan struct{})
	}
	stop := x.retryStop
	c.mu.Unlock()
	select {
	case <-t.C:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.noRetry
	case <-stop:
		return true
	}
}

// giveUp ends the connection for good with the cause of the last disconnect. After
// MaxAttempts failed dials (attempts > 0) the final error says so and names the last dial's
// error, so that the application can tell giving up from a drop that will be redialed; it
// still unwraps to the disconnect's cause (errors.Is(err, ErrAbnormalClose), ErrTimeout...).
func (c *Conn) giveUp(lastDialErr error, attempts int) {
	c.mu.Lock()
	cause := c.lastErr
	if cause == nil {
		cause = lastDialErr
	}
	if cause == nil {
		cause = ErrClosed
	}
	if attempts > 0 {
		cause = &wrapped{msg: fmt.Sprintf("websocket: gave up reconnecting after %d failed dials (last: %v); lost to: %v", attempts, lastDialErr, cause), err: cause}
	}
	c.endLocked(cause)
	c.mu.Unlock()
}

// stopReconnecting makes the connection's next end final.
func (c *Conn) stopReconnecting() {
	c.mu.Lock()
	c.stopReconnectingLocked()
	c.mu.Unlock()
}

func (c *Conn) stopReconnectingLocked() {
	if !c.noRetry {
		c.noRetry = true
		if c.x != nil && c.x.retryStop != nil {
			close(c.x.retryStop) // wakes waitRetry
		}
	}
}
