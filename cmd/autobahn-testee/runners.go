package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// runner carries one connection through one of the engine's delivery paths.
type runner interface {
	// setup gives the runner its engine and the options every connection starts from.
	setup(e *engine.Engine, base engine.DialOptions)
	// run dials u and, when echo is set, sends every text and binary message back until the
	// connection ends; it returns the first message received (as text) and why the connection
	// ended: nil or a *engine.CloseError for a close handshake, a *dialError when the dial
	// failed, engine.ErrTimeout (wrapped) when the bound passed and the testee closed.
	run(ctx context.Context, u string, echo bool, bound time.Duration) (first string, err error)
}

func newRunner(api string) (runner, error) {
	switch api {
	case "handler":
		return &handlerRunner{}, nil
	case "passive":
		return &passiveRunner{}, nil
	case "active":
		return &activeRunner{}, nil
	}
	return nil, fmt.Errorf("-api %q: want handler, passive or active", api)
}

// baseOptions are the options every path shares: messages up to 64 MiB and as much room to
// queue echoes, so that 9.x's 16 MiB messages go through.
func baseOptions(tlsc *tls.Config) engine.DialOptions {
	return engine.DialOptions{
		ConnectTimeout:  30 * time.Second,
		MaxMessageSize:  maxMessage,
		MaxPendingBytes: maxMessage,
		TLSConfig:       tlsc,
	}
}

// dialer is what every runner holds: the engine and the options to start from.
type dialer struct {
	eng  *engine.Engine
	base engine.DialOptions
}

func (d *dialer) setup(e *engine.Engine, base engine.DialOptions) { d.eng, d.base = e, base }

// ended turns the end of a connection into run's error: a close handshake is a normal end.
func ended(err error) error {
	var ce *engine.CloseError
	if errors.As(err, &ce) {
		return ce
	}
	return err
}

// closeAfterBound closes a connection whose case outlived its bound, and says so.
func closeAfterBound(c *engine.Conn, bound time.Duration) error {
	_ = c.Close()
	return fmt.Errorf("the case did not end within %v (the testee closed): %w", bound, engine.ErrTimeout)
}

// ---- Handler: echo with c.Send from OnMessage, on the event loop. ----

type handlerRunner struct{ dialer }

type echoHandler struct {
	echo bool
	done chan error // OnClose's reason, exactly once

	mu      sync.Mutex
	first   string
	got     bool
	sendErr error
}

func (h *echoHandler) OnOpen(*engine.Conn) {}

func (h *echoHandler) OnMessage(c *engine.Conn, typ engine.MessageType, data []byte) {
	if h.echo {
		if err := c.Send(typ, data); err != nil {
			h.mu.Lock()
			if h.sendErr == nil {
				h.sendErr = err
			}
			h.mu.Unlock()
		}
		return
	}
	h.mu.Lock()
	if !h.got {
		h.first, h.got = string(data), true // data is borrowed: copied here
	}
	h.mu.Unlock()
}

func (h *echoHandler) OnClose(_ *engine.Conn, err error) { h.done <- err }

func (r *handlerRunner) run(ctx context.Context, u string, echo bool, bound time.Duration) (string, error) {
	h := &echoHandler{echo: echo, done: make(chan error, 1)}
	o := r.base
	o.Handler = h
	c, err := r.eng.Dial(ctx, u, &o)
	if err != nil {
		return "", &dialError{err}
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	var end error
	select {
	case end = <-h.done:
		end = ended(end)
	case <-t.C:
		end = closeAfterBound(c, bound)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sendErr != nil && end == nil {
		end = fmt.Errorf("echo: %w", h.sendErr)
	}
	return h.first, end
}

// ---- Passive: a Recv / Send loop on this goroutine. ----

type passiveRunner struct{ dialer }

func (r *passiveRunner) run(ctx context.Context, u string, echo bool, bound time.Duration) (string, error) {
	o := r.base
	o.Mode = engine.Passive
	c, err := r.eng.Dial(ctx, u, &o)
	if err != nil {
		return "", &dialError{err}
	}
	rctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	first, got := "", false
	for {
		m, err := c.Recv(rctx)
		if err != nil {
			if rctx.Err() != nil {
				return first, closeAfterBound(c, bound)
			}
			return first, ended(err)
		}
		if !got {
			first, got = string(m.Data), true
		}
		if echo {
			// Send copies (masking) into the pending buffer: the message can go back at once.
			// An error here means the connection is ending; Recv reports why next.
			_ = c.SendContext(rctx, m.Type, m.Data)
		}
		m.Release()
	}
}

// ---- Active: events on an owner channel. ----

type activeRunner struct{ dialer }

func (r *activeRunner) run(ctx context.Context, u string, echo bool, bound time.Duration) (string, error) {
	owner := make(chan engine.Event, 64)
	o := r.base
	o.Mode = engine.Active
	o.Owner = owner
	c, err := r.eng.Dial(ctx, u, &o)
	if err != nil {
		return "", &dialError{err}
	}
	rctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	first, got := "", false
	for {
		select {
		case ev := <-owner:
			if ev.Err != nil {
				return first, ended(ev.Err)
			}
			m := ev.Message
			if !got {
				first, got = string(m.Data), true
			}
			if echo {
				_ = c.SendContext(rctx, m.Type, m.Data)
			}
			m.Release()
		case <-rctx.Done():
			return first, closeAfterBound(c, bound)
		}
	}
}
