// Command wsbench is wsfleet's load-test tool: `wsbench serve` runs the reference
// server; `wsbench run` (the load-test runner) is coming.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// commands maps a subcommand to its function; each lives in its own file and
// registers itself here from an init function, so this file stays a dispatcher.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	name := "run" // the default subcommand
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands[name]
	switch {
	case ok:
		return cmd(args, stdout, stderr)
	case name == "run":
		fmt.Fprintln(stderr, "wsbench run: the load-test runner is coming (issue #5); try `wsbench serve`")
		return 2
	}
	fmt.Fprintf(stderr, "wsbench: unknown command %q\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	names := []string{}
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "usage: wsbench <command> [flags]\ncommands: %v (wsbench <command> -h for flags)\n", names)
}
