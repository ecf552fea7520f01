package testserver

import (
	"context"
	"sync"
	"time"
)

// scheduler is the server's single timer goroutine. It owns no connection: it
// sleeps until the earliest loop's wakeAt and then queues that loop's timer pass
// (loopState.Run) with one Execute per loop, never one call per connection.
// A loop with a pass already queued is left alone until the pass has run and
// published its next wakeAt, so a busy loop never accumulates passes.
type scheduler struct {
	srv    *Server
	wake   chan struct{} // capacity 1: "a wakeAt changed, look again"
	quit   chan struct{}
	done   sync.WaitGroup
	closer sync.Once
}

func newScheduler(s *Server) *scheduler {
	return &scheduler{srv: s, wake: make(chan struct{}, 1), quit: make(chan struct{})}
}

// poke asks the scheduler to recompute its sleep; it never blocks.
func (sc *scheduler) poke() {
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

func (sc *scheduler) start() {
	sc.done.Add(1)
	go sc.run()
}

func (sc *scheduler) stop() {
	sc.closer.Do(func() { close(sc.quit) })
	sc.done.Wait()
}

func (sc *scheduler) run() {
	defer sc.done.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	ctx := context.Background()
	for {
		now := sc.srv.now()
		var next int64
		for _, l := range sc.srv.loopList() {
			if l.queued.Load() {
				continue
			}
			w := l.wakeAt.Load()
			switch {
			case w == 0:
			case w <= now:
				if l.queued.CompareAndSwap(false, true) {
					// An error means the engine is stopping: the loop stays
					// "queued" so that it is not retried in a busy loop.
					_ = l.el.Execute(ctx, l)
				}
			default:
				next = minTime(next, w)
			}
		}
		if next == 0 {
			select {
			case <-sc.wake:
			case <-sc.quit:
				return
			}
			continue
		}
		timer.Reset(time.Duration(next - now))
		select {
		case <-timer.C:
		case <-sc.wake:
			timer.Stop()
		case <-sc.quit:
			timer.Stop()
			return
		}
	}
}
