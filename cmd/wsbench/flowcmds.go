package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wsfleet/wsfleet/loadtest"
	"github.com/wsfleet/wsfleet/loadtest/flows"
)

func init() {
	commands["flows"] = flowsMain
	commands["check"] = checkMain
}

// flowsMain lists the embedded flows, or prints one (-show NAME) to copy and edit.
func flowsMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsbench flows", flag.ContinueOnError)
	fs.SetOutput(stderr)
	show := fs.String("show", "", "print the embedded flow NAME (to copy and edit)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *show != "" {
		src, ok := flows.Source(*show)
		if !ok {
			fmt.Fprintf(stderr, "wsbench flows: no embedded flow %q\n", *show)
			return 1
		}
		_, _ = stdout.Write(src)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, i := range flows.List() {
		fmt.Fprintf(tw, "%s\t%s\n", i.Name, i.Description)
	}
	_ = tw.Flush()
	fmt.Fprintln(stdout, "\nwsbench run -flow NAME [URL] runs one; wsbench flows -show NAME prints it; docs/flows.md describes the format.")
	return 0
}

// checkMain validates flow files (or embedded flows) without dialling: exit 1 on the first
// mistake, with its file:line:column.
func checkMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsbench check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var set headerFlag
	fs.Var(&set, "set", "set a flow parameter, NAME=VALUE (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: wsbench check [-set NAME=VALUE] FILE|NAME...")
		fs.PrintDefaults()
	}
	names, err := parseInterleaved(fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if len(names) == 0 {
		fs.Usage()
		return 2
	}
	params := map[string]string{}
	for _, kv := range set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			fmt.Fprintf(stderr, "wsbench check: -set %q: want NAME=VALUE\n", kv)
			return 2
		}
		params[k] = v
	}
	code := 0
	for _, name := range names {
		fl, dir, err := readFlow(name, params)
		if err == nil {
			var p *loadtest.Program
			if p, err = loadtest.Compile(fl, dir); err == nil {
				fmt.Fprintf(stdout, "%s: ok (%d steps, %d rules; metrics: %s)\n", name, len(fl.Steps), len(fl.On), strings.Join(p.Metrics(), ", "))
				continue
			}
		}
		fmt.Fprintf(stderr, "wsbench check: %v\n", err)
		code = 1
	}
	return code
}
