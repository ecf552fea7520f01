package loadtest

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/testserver"
)

// With ConnectRetries, connections whose dials were refused (the server not up yet) are
// dialled again and open once it is: none failed, the retries counted and reported. Without,
// the same refusals are final.
func TestConnectRetriesOpenWhatARefusedDialMissed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens: dials are refused until the server starts below

	const conns = 4
	base := Config{Scenario: Echo, Model: Closed, Conns: conns, Duration: 1500 * time.Millisecond, Warmup: 0, Loops: 1,
		Targets: []string{"ws://" + addr + "/echo"}}
	cfg := base
	res := runOrFail(t, cfg)
	if res.Connections.Opened != 0 || res.Connections.Failed != conns || res.Connections.Retries != 0 {
		t.Fatalf("without retries: connections %+v, want %d failed", res.Connections, conns)
	}

	started := make(chan *testserver.Server, 1)
	go func() {
		time.Sleep(400 * time.Millisecond)
		var s *testserver.Server
		var err error
		for range 50 { // the port may be taken for a moment
			if s, err = testserver.Start(testserver.Options{Addr: addr, Loops: 1}); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Error(err)
		}
		started <- s
	}()
	cfg = base
	cfg.ConnectRetries = 20
	cfg.Duration = 4 * time.Second
	res = runOrFail(t, cfg)
	if s := <-started; s != nil {
		defer s.Close()
	}
	c := res.Connections
	if c.Opened != conns || c.Failed != 0 || c.Retries < conns {
		t.Fatalf("with retries: connections %+v, want all %d opened after at least one retry each", c, conns)
	}
	var out bytes.Buffer
	res.WriteText(&out)
	if !strings.Contains(out.String(), "dials retried") {
		t.Errorf("the report does not count the retries:\n%s", out.String())
	}
}

func TestConnectRetriesConfig(t *testing.T) {
	for _, c := range []Config{
		{Scenario: Echo, ConnectRetries: -1, Targets: []string{"ws://127.0.0.1:1/"}},
		{Scenario: Connect, Rate: 10, ConnectRetries: 1, Targets: []string{"ws://127.0.0.1:1/"}},
	} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
}
