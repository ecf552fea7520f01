package loadtest_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testserver"
	"github.com/wsfleet/wsfleet/loadtest"
)

// A small load-test program of one's own: a flow built in Go, with a Go step that writes
// each order into the session's buffer and a Go matcher that recognises its confirmation,
// next to an ordinary templated send and expect timed request → reply. The target here is
// the reference server's echo route, which confirms an order by sending it back.
func Example_goFlow() {
	srv, err := testserver.Start(testserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	placeOrder := &loadtest.GoStep{Func: func(s *loadtest.Session) error {
		b := append(s.Buffer(), `{"op":"order","id":`...)
		b = strconv.AppendUint(b, s.Seq(), 10)
		return s.Send(false, append(b, '}'))
	}}
	isConfirmation := func(s *loadtest.Session, typ engine.MessageType, data []byte) bool {
		return typ == engine.Text && bytes.HasPrefix(data, []byte(`{"op":"order"`))
	}
	flow := &loadtest.Flow{
		Name: "orders",
		Steps: []loadtest.Step{
			{Send: &loadtest.Send{Text: `{"op":"hello","conn":{{id}}}`, As: "hello"}},
			{Expect: &loadtest.Expect{Match: loadtest.Match{Prefix: `{"op":"hello"`}, Measure: "hello"}},
			{Loop: &loadtest.Loop{Count: 20, Do: []loadtest.Step{
				{Go: placeOrder},
				{Expect: &loadtest.Expect{Match: loadtest.Match{Func: isConfirmation}, Label: "confirmed", Timeout: 5 * time.Second}},
			}}},
		},
		SLO: "count(confirmed) >= 100, timeouts(confirmed) <= 0, p99(hello) < 5s",
	}
	prog, err := loadtest.Compile(flow, "")
	if err != nil {
		panic(err)
	}
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Flow: prog, Targets: []string{srv.URL() + "/echo"}, Conns: 5, Duration: 30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	_, met := loadtest.CheckSLO(res, prog.SLOs())
	fmt.Printf("%d orders confirmed on %d connections, %d hellos timed; objectives met: %v\n",
		res.Count("confirmed").Total, res.Connections.Opened, res.Metric("hello").Latency.Count, met)
	// Output:
	// 100 orders confirmed on 5 connections, 5 hellos timed; objectives met: true
}
