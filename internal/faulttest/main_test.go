package faulttest

import (
	"flag"
	"os"
	"testing"
)

var (
	fleetSize   = flag.Int("fleet", 0, "run every round at this many connections, split over processes of at most 2,500 (0: the CI sizes)")
	resultsFile = flag.String("results", "", "append each round's result to this JSON-lines file (cmd/robustness-doc turns it into docs/robustness.md)")
)

func TestMain(m *testing.M) {
	ChildMain() // a re-executed test binary serving as the server or a worker process
	flag.Parse()
	os.Exit(m.Run())
}
