// Command wsbench is wsfleet's load-test tool: `wsbench serve` runs the reference
// server; `wsbench run` (the load-test runner) is coming.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// commands maps a subcommand to its function; each lives in its own file and
// registers itself here from an init function, so this file stays a dispatcher.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	name := "run" // the default subcommand
	switch {
	case len(args) == 0:
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		usage(stdout)
		return 0
	case strings.HasPrefix(args[0], "-") || strings.Contains(args[0], "://"):
		// Flags or a URL first: `wsbench -c 1000 ws://host/` means run.
	default:
		name, args = args[0], args[1:]
	}
	if cmd, ok := commands[name]; ok {
		return cmd(args, stdout, stderr)
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
