package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/internal/dialflags"
	"github.com/wsfleet/wsfleet/loadtest"
)

func init() {
	commands["run"] = runMain
	commands["find"] = func(args []string, stdout, stderr io.Writer) int {
		return runMain(append([]string{"-find"}, args...), stdout, stderr)
	}
}

// headerFlag collects -H values; unlike listFlag it never splits on commas (header values
// contain them).
type headerFlag []string

func (h *headerFlag) String() string     { return strings.Join(*h, "; ") }
func (h *headerFlag) Set(v string) error { *h = append(*h, v); return nil }

type runFlags struct {
	fs                                            *flag.FlagSet
	scenario, model                               string
	conns                                         int
	duration, warmup, drain, ping, connectTimeout time.Duration
	messages                                      int64
	rate, ramp                                    float64
	perConn                                       bool
	size, loops, connectRetries                   int
	binary, compress, find, quiet                 bool
	payload, tokens, jsonOut, htmlOut, slo        string
	sourceIPs, shard, startAt, prometheus         string
	findFactor                                    float64
	findSteps                                     int
	headers                                       headerFlag
	protos                                        listFlag
	serverLoops                                   int
	pushInterval                                  time.Duration
	flow, reconnect, data, cpuProfile             string
	dataUnique                                    bool
	dial                                          dialflags.Flags // -proxy, -cacert, -cert, -key, -insecure
	set                                           headerFlag
	modelSet, sizeSet                             bool
}

const runExamples = `
Examples (with no URL, wsbench starts the reference server in-process on loopback):
  wsbench                                        # echo, closed model, 200 connections, 10 s
  wsbench run -c 1000 -d 30s ws://host:8080/echo # echo, closed model, against a server
  wsbench run -model open -r 20000 -c 500 -warmup 5s -html report.html ws://host:8080/echo
                                                 # open model: 20k msg/s offered whatever the replies
  wsbench run -scenario push -c 2000 -d 30s 'ws://host:8080/push?interval=10ms&size=64'
                                                 # fan-out latency of server pushes (send stamp → receipt)
  wsbench run -scenario connect -r 500 -d 20s ws://host:8080/echo
                                                 # 500 handshakes/s (open); -model closed -c 50: 50 dial loops
  wsbench run -scenario soak -c 20000 -ping 10s -d 1h -ramp 1000 ws://host:8080/echo
                                                 # hold 20k connections an hour with keepalive; reports drops
  wsbench run -scenario soak -c 10000 -r 1000 -d 1h -reconnect min=250ms,max=5s,jitter=0.5 ws://host:8080/echo
                                                 # a soak that rides through server restarts (deploys)
  wsbench find -slo 'p99<5ms' -r 5000 -c 200 ws://host:8080/echo
                                                 # raise the rate ×1.5 per step until p99 exceeds 5 ms
  wsbench run -shard 0/3 -start-at 2026-01-02T15:04:05Z -json shard-0.json ...; wsbench merge shard-*.json
                                                 # one of 3 shards (see docs/distributed.md)
  wsbench run -flow chat.yaml -set room=lobby -slo 'p99(say)<100ms' ws://host:3000/
                                                 # a scripted flow (docs/flows.md); wsbench flows lists the embedded ones
Headers are templates: -H 'Authorization: Bearer {{token}}' -tokens tokens.txt (one per line,
connection id mod count), -H 'X-Client: {{id}}'. A -payload file needs {{seq}} and {{ts}}
(and may have {{id}}): they become fixed-width digits the echo is matched by.
`

func newRunFlags(stderr io.Writer) *runFlags {
	f := &runFlags{fs: flag.NewFlagSet("wsbench run", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(stderr)
	fs.StringVar(&f.scenario, "scenario", "echo", "echo | push | connect | soak")
	fs.StringVar(&f.model, "model", "closed", "closed (send on reply) | open (fixed rate -r, latency from intended send time); -r alone implies open")
	fs.IntVar(&f.conns, "c", loadtest.DefaultConns, "connections (connect, closed model: concurrent dial loops)")
	fs.DurationVar(&f.duration, "d", loadtest.DefaultDuration, "measured duration, after the warm-up")
	fs.Int64Var(&f.messages, "n", 0, "total messages to send (echo, soak), instead of a duration; includes warm-up messages")
	fs.Float64Var(&f.rate, "r", 0, "rate: messages/s over all connections (open model); dials/s (connect); pushes/s per connection (push, in-process server)")
	fs.BoolVar(&f.perConn, "per-conn", false, "-r is per connection instead of for all connections")
	fs.IntVar(&f.size, "size", loadtest.DefaultSize, "message size in bytes (at least 24 binary / 62 text: the stamp); push: pushed size (in-process)")
	fs.BoolVar(&f.binary, "binary", false, "send binary messages (default text)")
	fs.StringVar(&f.payload, "payload", "", "payload template FILE with {{seq}}, {{ts}} and optionally {{id}} markers")
	fs.Var(&f.headers, "H", "request header 'Name: value' (repeatable); {{id}} and {{token}} are replaced per connection")
	fs.StringVar(&f.tokens, "tokens", "", "FILE of tokens, one per line, for {{token}} in -H (connection id mod count)")
	fs.Var(&f.protos, "subprotocol", "subprotocol to offer (repeatable or comma list)")
	fs.DurationVar(&f.ping, "ping", 0, "keepalive ping interval (soak default 5s); a silent peer is declared dead after as long again")
	fs.StringVar(&f.reconnect, "reconnect", "", "echo, soak: redial dropped connections with the engine's ReconnectPolicy: 'on' (defaults) or min=100ms,max=30s,x=2,jitter=0.2,attempts=0; the report adds returns, time disconnected and messages lost in the gaps")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "warm-up excluded from the results (messages whose intended send time falls in it); 0 by default with -n")
	fs.Float64Var(&f.ramp, "ramp", 0, "connections opened per second over all shards (0: as fast as dials go)")
	fs.DurationVar(&f.drain, "drain", loadtest.DefaultDrain, "wait this long for outstanding replies after the last send")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 8*time.Second, "per dial: TCP connect and upgrade")
	fs.IntVar(&f.connectRetries, "connect-retries", 0, "dial a connection whose dial failed again, up to N more times in the run (after 100 ms doubling to 5 s, jittered); the report counts the retries")
	fs.StringVar(&f.jsonOut, "json", "", "write the full result (histograms included, mergeable) to FILE ('-' for stdout)")
	fs.StringVar(&f.htmlOut, "html", "", "write a self-contained HTML report with charts to FILE")
	fs.StringVar(&f.slo, "slo", "", "objectives, e.g. 'p99<50ms,p99.9<200ms,errors<0.1%'; the exit status is 1 when one fails")
	fs.BoolVar(&f.find, "find", false, "find mode: open model, raise -r by -find-factor per step until -slo breaks; report the last rate that met it")
	fs.Float64Var(&f.findFactor, "find-factor", 1.5, "find mode: rate multiplier per step")
	fs.IntVar(&f.findSteps, "find-steps", 12, "find mode: at most this many steps")
	fs.StringVar(&f.sourceIPs, "source-ips", "", "bind connections to these local addresses, round robin: 127.0.0.2-127.0.0.200, a CIDR, or a comma list")
	fs.StringVar(&f.shard, "shard", "", "run the i-th of n equal parts (connections, rates, ids), e.g. 0/4; merge the JSON results")
	fs.StringVar(&f.startAt, "start-at", "", "start at this RFC 3339 time (so that every shard starts together)")
	fs.StringVar(&f.prometheus, "prometheus", "", "serve live metrics at ADDR/metrics (Prometheus: each latency metric a native histogram labelled metric=NAME, counts by label, timeouts by step), e.g. :9100")
	fs.IntVar(&f.loops, "loops", 0, "engine event loops (default GOMAXPROCS)")
	fs.IntVar(&f.serverLoops, "server-loops", 0, "event loops of the in-process server when no URL is given (default GOMAXPROCS)")
	fs.BoolVar(&f.compress, "compress", false, "offer permessage-deflate (engine defaults: level 1, messages under 128 bytes sent uncompressed); the report says on how many connections the server accepted it")
	f.dial.Register(fs)
	fs.BoolVar(&f.quiet, "q", false, "no live progress on stderr")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of wsbench itself, over the whole run, to FILE (go tool pprof FILE)")
	fs.StringVar(&f.flow, "flow", "", "run a flow: a flow FILE or the NAME of an embedded one (wsbench flows); -c, -d, -warmup, -ramp and a URL override the flow's own")
	fs.Var(&f.set, "set", "set a flow parameter, NAME=VALUE (repeatable)")
	fs.StringVar(&f.data, "data", "", "-flow: a CSV FILE with a header row, one row per connection (id mod rows); a column named like a flow parameter gives it per connection (e.g. login,passcode for stomp-chat); columns are also {{data.NAME}}; replaces the flow's own data: file")
	fs.BoolVar(&f.dataUnique, "data-unique", false, "-data: connection id gets row id exactly; fewer rows than connections is an error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: wsbench run [flags] [URL...]   (wsbench alone runs the default; wsbench find [flags] [URL...]; wsbench merge FILES)\n\n"+
			"Connections are spread round robin over the URLs. Flags:\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), runExamples)
	}
	return f
}

// parseInterleaved parses flags that may come after positional arguments (wsbench URL -c 10).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseRun reads the command line: the flags and the URLs (nil flags: exit with code).
func parseRun(args []string, stderr io.Writer) (*runFlags, []string, int) {
	f := newRunFlags(stderr)
	urls, err := parseInterleaved(f.fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			return nil, nil, 0
		}
		return nil, nil, 2
	}
	f.modelSet, f.sizeSet = isSet(f.fs, "model"), isSet(f.fs, "size")
	return f, urls, 0
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
