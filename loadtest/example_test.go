package loadtest_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wsfleet/wsfleet/internal/testserver"
	"github.com/wsfleet/wsfleet/loadtest"
)

// Run an open-model echo test from Go: 5,000 messages/s over 100 connections for 10 s after
// a 2 s warm-up, against the reference server, then check an objective and keep the result.
func Example() {
	srv, err := testserver.Start(testserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Scenario: loadtest.Echo,
		Model:    loadtest.Open,
		Rate:     5000,
		Conns:    100,
		Duration: 10 * time.Second,
		Warmup:   2 * time.Second,
		Targets:  []string{srv.URL() + "/echo"},
	})
	if err != nil {
		panic(err)
	}
	slos, _ := loadtest.ParseSLO("p99<10ms,errors<=0")
	checks, met := loadtest.CheckSLO(res, slos)
	res.SLO = checks
	res.WriteText(os.Stdout)
	_ = res.WriteJSON("result.json") // mergeable with other shards' results: loadtest.MergeResults
	fmt.Println("objectives met:", met, "p99:", res.Latency.P99Ms, "ms")
}
