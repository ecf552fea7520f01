package engine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

// TestReconnectEventsWaitForTheOwner: an owner that reads nothing while its connection
// drops and comes back still gets every event afterwards, in order: the messages of the old
// connection, Reconnecting, Reconnected (the events queue in the inbox, never dropped).
func TestReconnectEventsWaitForTheOwner(t *testing.T) {
	url := refServer(t, testserver.Options{})
	eng := newEngine(t)
	owner := make(chan engine.Event) // no room at all: everything waits in the inbox
	c, err := eng.Dial(context.Background(), url+"/reset?after=2", &engine.DialOptions{
		Mode:      engine.Active,
		Owner:     owner,
		Reconnect: &engine.ReconnectPolicy{MinDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, m := range []string{"one", "two"} {
		if err := c.Send(engine.Text, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	waitStats(t, eng, func(s engine.Stats) bool { return s.Reconnects >= 1 })

	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 4 {
		select {
		case ev := <-owner:
			switch {
			case ev.Reconnecting:
				if ev.Err == nil {
					t.Error("Reconnecting event without its cause")
				}
				got = append(got, "reconnecting")
			case ev.Reconnected:
				got = append(got, "reconnected")
			case ev.Err != nil:
				t.Fatalf("after %v: the connection ended: %v", got, ev.Err)
			default:
				got = append(got, string(ev.Message.Data))
				ev.Message.Release()
			}
		case <-timeout:
			t.Fatalf("events so far %v: want one, two, reconnecting, reconnected", got)
		}
	}
	want := []string{"one", "two", "reconnecting", "reconnected"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

// TestReconnectUpgradeAtTheDeadline: a reconnection whose 101 is accepted just as its
// ConnectTimeout passes stands. The dialing goroutine used to close such a session when it
// woke for the deadline after the loop had accepted the upgrade: the session opened and was
// dropped at once, the attempt reported a timeout and was retried while the dropped
// session's own close started a second reconnection, so one Conn carried two sessions at
// a time and lost its connection twice (found by the 10,000-connection server-restart round
// of internal/faulttest, where one of the two read the other's "HTTP/1.1 101" as a frame:
// 'H' is 0x48, RSV1 set, "server set reserved bits"). The Trace callback holds the loop
// right after it accepted the reconnection's 101, past the deadline, so that the dialing
// goroutine wakes for the deadline before the loop can hand it the verdict.
func TestReconnectUpgradeAtTheDeadline(t *testing.T) {
	url := refServer(t, testserver.Options{})
	eng := newEngine(t)
	const timeout = 200 * time.Millisecond
	var upgrades atomic.Int32
	reconnects := make(chan error, 4)
	h := &openCloseCounter{}
	c, err := eng.Dial(context.Background(), url+"/reset?after=1", &engine.DialOptions{
		Handler:        h,
		ConnectTimeout: timeout,
		Reconnect:      &engine.ReconnectPolicy{MinDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
		Trace: func(ev engine.TraceEvent) {
			switch ev.Kind {
			case engine.TraceUpgraded:
				if upgrades.Add(1) == 2 { // the reconnection's
					time.Sleep(5 * timeout)
				}
			case engine.TraceReconnect:
				reconnects <- ev.Err
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Send(engine.Text, []byte("reset me")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reconnects:
		if err != nil {
			t.Fatalf("the reconnection whose upgrade was accepted reported %v; it must stand", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no reconnection within 20s")
	}
	// OnOpen runs on the loop after the dialing goroutine has its verdict: wait for it.
	for deadline := time.Now().Add(10 * time.Second); h.opens.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := c.State(); got != engine.StateOpen {
		t.Errorf("state after the reconnection %v, want open", got)
	}
	if opens, closes := h.opens.Load(), h.closes.Load(); opens != 2 || closes != 1 {
		t.Errorf("Handler saw %d opens and %d closes, want 2 and 1", opens, closes)
	}
}

type openCloseCounter struct{ opens, closes atomic.Int32 }

func (h *openCloseCounter) OnOpen(*engine.Conn)                                { h.opens.Add(1) }
func (h *openCloseCounter) OnMessage(*engine.Conn, engine.MessageType, []byte) {}
func (h *openCloseCounter) OnClose(*engine.Conn, error)                        { h.closes.Add(1) }
