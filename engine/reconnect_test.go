package engine_test

import (
	"context"
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
