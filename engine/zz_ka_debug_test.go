package engine_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/loadtest/server"
)

func TestZZKeepaliveDebug(t *testing.T) {
	eng := newEngine(t)
	base := refServer(t, server.Options{})
	warm, _ := strconv.Atoi(os.Getenv("WARM_MS"))
	if warm > 0 {
		c0, err := eng.Dial(context.Background(), base+"/echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c0.Close()
		time.Sleep(time.Duration(warm) * time.Millisecond)
	}
	start := time.Now()
	trace := func(ev engine.TraceEvent) {
		t.Logf("%6.1fms %v op=%v len=%d err=%v", float64(time.Since(start).Microseconds())/1000, ev.Kind, ev.Opcode, ev.Length, ev.Err)
	}
	c, err := eng.Dial(context.Background(), base+"/echo", &engine.DialOptions{PingInterval: 100 * time.Millisecond, Trace: trace})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	t.Logf("state %v err %v", c.State(), c.Err())
}
