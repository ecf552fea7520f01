package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/wsfleet/wsfleet/loadtest"
)

func init() { commands["merge"] = mergeMain }

// mergeMain combines the JSON results of shards exactly: counts added, histograms merged.
func mergeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsbench merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.String("json", "", "write the merged result to FILE ('-' for stdout)")
	htmlOut := fs.String("html", "", "write an HTML report of the merged result to FILE")
	slo := fs.String("slo", "", "check objectives on the merged result, e.g. 'p99<50ms'")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: wsbench merge [-json FILE] [-html FILE] [-slo OBJ] shard-*.json")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var paths []string
	for _, f := range files {
		m, err := filepath.Glob(f)
		if err != nil || len(m) == 0 {
			m = []string{f}
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "wsbench merge: no result files given")
		fs.Usage()
		return 2
	}
	var parts []*loadtest.Result
	for _, p := range paths {
		r, err := loadtest.ReadResult(p)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench merge: %v\n", err)
			return 1
		}
		parts = append(parts, r)
	}
	res, err := loadtest.MergeResults(parts)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench merge: %v\n", err)
		return 1
	}
	code := 0
	if *slo != "" {
		slos, err := loadtest.ParseSLO(*slo)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench merge: -slo: %v\n", err)
			return 2
		}
		var met bool
		res.SLO, met = loadtest.CheckSLO(res, slos)
		if !met {
			code = 1
		}
	}
	if *jsonOut == "-" {
		res.WriteText(stderr)
	} else {
		res.WriteText(stdout)
	}
	if err := writeOutputs(res, *jsonOut, *htmlOut, stdout); err != nil {
		fmt.Fprintf(stderr, "wsbench merge: %v\n", err)
		return 1
	}
	return code
}
