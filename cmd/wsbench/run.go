package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/loadtest"
	"github.com/wsfleet/wsfleet/loadtest/server"
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
	fs                                               *flag.FlagSet
	scenario, model                                  string
	conns                                            int
	duration, warmup, drain, ping, connectTimeout    time.Duration
	messages                                         int64
	rate, ramp                                       float64
	perConn                                          bool
	size, loops                                      int
	binary, compress, insecure, find, quiet          bool
	payload, tokens, jsonOut, htmlOut, slo           string
	sourceIPs, shard, startAt, prometheus            string
	findFactor                                       float64
	findSteps                                        int
	headers                                          headerFlag
	protos                                           listFlag
	serverLoops                                      int
	pushInterval                                     time.Duration
	defaultDurationSet, warmupSet, modelSet, sizeSet bool
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
  wsbench find -slo 'p99<5ms' -r 5000 -c 200 ws://host:8080/echo
                                                 # raise the rate ×1.5 per step until p99 exceeds 5 ms
  wsbench run -shard 0/3 -start-at 2026-01-02T15:04:05Z -json shard-0.json ...; wsbench merge shard-*.json
                                                 # one of 3 shards (see docs/distributed.md)
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
	fs.DurationVar(&f.warmup, "warmup", time.Second, "warm-up excluded from the results (messages whose intended send time falls in it); 0 by default with -n")
	fs.Float64Var(&f.ramp, "ramp", 0, "connections opened per second over all shards (0: as fast as dials go)")
	fs.DurationVar(&f.drain, "drain", loadtest.DefaultDrain, "wait this long for outstanding replies after the last send")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 8*time.Second, "per dial: TCP connect and upgrade")
	fs.StringVar(&f.jsonOut, "json", "", "write the full result (histograms included, mergeable) to FILE ('-' for stdout)")
	fs.StringVar(&f.htmlOut, "html", "", "write a self-contained HTML report with charts to FILE")
	fs.StringVar(&f.slo, "slo", "", "objectives, e.g. 'p99<50ms,p99.9<200ms,errors<0.1%'; the exit status is 1 when one fails")
	fs.BoolVar(&f.find, "find", false, "find mode: open model, raise -r by -find-factor per step until -slo breaks; report the last rate that met it")
	fs.Float64Var(&f.findFactor, "find-factor", 1.5, "find mode: rate multiplier per step")
	fs.IntVar(&f.findSteps, "find-steps", 12, "find mode: at most this many steps")
	fs.StringVar(&f.sourceIPs, "source-ips", "", "bind connections to these local addresses, round robin: 127.0.0.2-127.0.0.200, a CIDR, or a comma list")
	fs.StringVar(&f.shard, "shard", "", "run the i-th of n equal parts (connections, rates, ids), e.g. 0/4; merge the JSON results")
	fs.StringVar(&f.startAt, "start-at", "", "start at this RFC 3339 time (so that every shard starts together)")
	fs.StringVar(&f.prometheus, "prometheus", "", "serve live metrics at ADDR/metrics (Prometheus text format), e.g. :9100")
	fs.IntVar(&f.loops, "loops", 0, "engine event loops (default GOMAXPROCS)")
	fs.IntVar(&f.serverLoops, "server-loops", 0, "event loops of the in-process server when no URL is given (default GOMAXPROCS)")
	fs.BoolVar(&f.compress, "compress", false, "offer permessage-deflate (engine defaults: level 1, messages under 128 bytes sent uncompressed); the report says on how many connections the server accepted it")
	fs.BoolVar(&f.insecure, "insecure", false, "wss://: do not verify the server's certificate (testing only)")
	fs.BoolVar(&f.quiet, "q", false, "no live progress on stderr")
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

func runMain(args []string, stdout, stderr io.Writer) int {
	f := newRunFlags(stderr)
	urls, err := parseInterleaved(f.fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "model":
			f.modelSet = true
		case "size":
			f.sizeSet = true
		}
	})
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "wsbench run: "+format+"\n", a...)
		return 2
	}
	cfg := loadtest.Config{
		Scenario: loadtest.Scenario(f.scenario), Conns: f.conns, Duration: f.duration, Messages: f.messages,
		Rate: f.rate, PerConnRate: f.perConn, Size: f.size, Binary: f.binary, Headers: f.headers,
		Subprotocols: f.protos, Ping: f.ping, Warmup: f.warmup, Ramp: f.ramp, Drain: f.drain,
		ConnectTimeout: f.connectTimeout, Loops: f.loops,
	}
	if f.insecure {
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true} // the user asked: -insecure
	}
	if f.compress {
		cfg.Compression = &engine.Compression{} // the engine's defaults: level 1, 128-byte threshold
	}
	if f.modelSet {
		cfg.Model = loadtest.Model(f.model)
	} else if f.rate > 0 && cfg.Scenario != loadtest.Push {
		cfg.Model = loadtest.Open
	}
	if f.messages > 0 && !isSet(f.fs, "d") {
		cfg.Duration = 0
	}
	if f.messages > 0 && !isSet(f.fs, "warmup") {
		cfg.Warmup = 0 // a counted run measures every message unless a warm-up is asked for
	}
	if f.payload != "" {
		b, err := os.ReadFile(f.payload)
		if err != nil {
			return fail("-payload: %v", err)
		}
		cfg.Payload = b
	}
	if f.tokens != "" {
		toks, err := readLines(f.tokens)
		if err != nil {
			return fail("-tokens: %v", err)
		}
		if len(toks) == 0 {
			return fail("-tokens %s: no tokens in the file", f.tokens)
		}
		cfg.Tokens = toks
	}
	if f.sourceIPs != "" {
		ips, err := loadtest.ParseSourceIPs(f.sourceIPs)
		if err != nil {
			return fail("-source-ips: %v", err)
		}
		cfg.SourceIPs = ips
	}
	if f.shard != "" {
		sh, err := loadtest.ParseShard(f.shard)
		if err != nil {
			return fail("-shard: %v", err)
		}
		cfg.Shard = sh
	}
	if f.startAt != "" {
		t, err := time.Parse(time.RFC3339, f.startAt)
		if err != nil {
			return fail("-start-at %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", f.startAt)
		}
		cfg.StartAt = t
	}
	var slos []loadtest.SLO
	if f.slo != "" {
		if slos, err = loadtest.ParseSLO(f.slo); err != nil {
			return fail("-slo: %v", err)
		}
	}
	if f.find && len(slos) == 0 {
		return fail("find mode needs an objective: -slo 'p99<50ms'")
	}

	if soft, hard, err := loadtest.RaiseFileLimit(); err == nil {
		need := uint64(len(cfg.Shard.IDs(max(cfg.Conns, 1)))) + 64
		if len(urls) == 0 {
			need += need // the in-process server holds the other ends
		}
		if need > soft {
			fmt.Fprintf(stderr, "wsbench: warning: %d connections need about %d file descriptors but RLIMIT_NOFILE is %d (hard %d): raise it (ulimit -n) or shard the run (-shard i/n over processes)\n",
				cfg.Conns, need, soft, hard)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if len(urls) == 0 {
		srv, err := server.Start(server.Options{Loops: f.serverLoops})
		if err != nil {
			fmt.Fprintf(stderr, "wsbench run: start the in-process reference server: %v\n", err)
			return 1
		}
		defer srv.Close()
		urls = []string{inProcessURL(srv.URL(), &cfg, f)}
		cfg.InProcessServer = true
		cfg.Notes = append(cfg.Notes, "target: the in-process reference server on loopback (no URL given); its CPU counts with the generator's")
	}
	cfg.Targets = urls
	if !f.quiet {
		cfg.Progress = stderr
		if fl, ok := stderr.(*os.File); ok && loadtest.IsTerminal(fl) {
			cfg.ProgressTTY = true
		}
	}
	if f.prometheus != "" {
		live := loadtest.NewLive(cfg.Scenario, cfg.Shard)
		cfg.OnPoint = live.Observe
		ln, err := net.Listen("tcp", f.prometheus)
		if err != nil {
			return fail("-prometheus: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", live)
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		fmt.Fprintf(stderr, "wsbench: metrics at http://%s/metrics\n", ln.Addr())
	}
	if err := cfg.Validate(); err != nil {
		return fail("%v", err)
	}
	if !f.quiet {
		fmt.Fprintf(stderr, "wsbench: %s, %s, %d connections → %s\n", cfg.Scenario, loadtest.ModelName(cfg.Scenario, cfg.Model), len(cfg.Shard.IDs(cfg.Conns)), strings.Join(cfg.Targets, " "))
	}

	report := stdout
	if f.jsonOut == "-" {
		report = stderr // standard output carries the JSON alone
	}
	var res *loadtest.Result
	if f.find {
		var steps []loadtest.FindStep
		res, steps, err = loadtest.Find(ctx, cfg, slos, loadtest.FindOptions{Start: cfg.Rate, Factor: f.findFactor, MaxSteps: f.findSteps,
			OnStep: func(s loadtest.FindStep, _ *loadtest.Result) {
				verdict := "met"
				if !s.Met {
					verdict = "BROKEN"
				}
				fmt.Fprintf(stderr, "wsbench find: rate %g/s → achieved %.0f/s, p50 %.3gms p99 %.3gms max %.3gms, %d errors: objectives %s\n",
					s.Rate, s.Achieved, s.P50Ms, s.P99Ms, s.MaxMs, s.Errors, verdict)
			}})
		if err != nil {
			fmt.Fprintf(stderr, "wsbench find: %v\n", err)
			return 1
		}
		if res == nil {
			fmt.Fprintf(stdout, "wsbench find: the first rate tried (%g/s) already broke %s; try a lower -r\n", steps[0].Rate, f.slo)
			return 1
		}
		res.WriteText(report)
		last := steps[len(steps)-1]
		best := res.Config.Rate
		if last.Met {
			fmt.Fprintf(report, "\nfind: every step met %s; the highest rate tried was %g/s (raise -find-steps to go further)\n", f.slo, best)
		} else {
			fmt.Fprintf(report, "\nfind: %g/s is the highest rate that met %s (%g/s broke it)\n", best, f.slo, last.Rate)
		}
	} else {
		res, err = loadtest.Run(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench run: %v\n", err)
			return 1
		}
		if len(slos) > 0 {
			res.SLO, _ = loadtest.CheckSLO(res, slos)
		}
		res.WriteText(report)
	}
	for _, e := range res.Errors {
		switch e.Kind {
		case loadtest.KindTooManyFiles:
			soft, hard, _ := loadtest.RaiseFileLimit()
			fmt.Fprintf(stderr, "wsbench: %d dials failed with EMFILE/ENFILE: the open-file limit (RLIMIT_NOFILE) is %d, hard limit %d. Raise it (ulimit -n %d, or LimitNOFILE= / the container runtime's nofile), or split the connections over processes or machines with -shard i/n\n",
				e.Count, soft, hard, max(hard, 1048576))
		case loadtest.KindAddrNotAvail:
			fmt.Fprintf(stderr, "wsbench: %d dials failed with EADDRNOTAVAIL: the local ports towards this target are used up (about 28k per source address and destination). Spread connections over source addresses with -source-ips 127.0.0.2-127.0.0.200 (loopback) or a CIDR of the host's addresses, or shard over machines\n", e.Count)
		}
	}
	code := 0
	if err := writeOutputs(res, f.jsonOut, f.htmlOut, stdout); err != nil {
		fmt.Fprintf(stderr, "wsbench: %v\n", err)
		code = 1
	}
	for _, s := range res.SLO {
		if !s.Met && !f.find {
			code = 1
		}
	}
	if res.Connections.Opened == 0 && res.Scenario != loadtest.Connect {
		fmt.Fprintln(stderr, "wsbench: no connection could be opened")
		code = 1
	}
	return code
}

func writeOutputs(res *loadtest.Result, jsonOut, htmlOut string, stdout io.Writer) error {
	if jsonOut == "-" {
		if err := res.EncodeJSON(stdout); err != nil {
			return fmt.Errorf("-json: %w", err)
		}
	} else if jsonOut != "" {
		if err := res.WriteJSON(jsonOut); err != nil {
			return fmt.Errorf("-json: %w", err)
		}
		fmt.Fprintf(stdout, "result       %s\n", jsonOut)
	}
	if htmlOut != "" {
		if err := res.WriteHTMLFile(htmlOut); err != nil {
			return fmt.Errorf("-html: %w", err)
		}
		fmt.Fprintf(stdout, "report       %s\n", htmlOut)
	}
	return nil
}

// inProcessURL is the reference server's route for the scenario.
func inProcessURL(base string, cfg *loadtest.Config, f *runFlags) string {
	if cfg.Scenario != loadtest.Push {
		return base + "/echo"
	}
	iv := 10 * time.Millisecond
	if cfg.Rate > 0 {
		iv = time.Duration(float64(time.Second) / cfg.Rate)
		if iv < time.Millisecond {
			iv = time.Millisecond
		}
	}
	size := 64
	if f.sizeSet {
		size = max(cfg.Size, 16)
	}
	return fmt.Sprintf("%s/push?interval=%s&size=%d", base, iv, size)
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

func readLines(path string) ([]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}
