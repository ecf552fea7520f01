package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/internal/testserver"
	"github.com/wsfleet/wsfleet/loadtest"
)

// runMain is `wsbench run` (and find): parse → config → run → report.
func runMain(args []string, stdout, stderr io.Writer) int {
	f, urls, code := parseRun(args, stderr)
	if f == nil {
		return code
	}
	pl, err := f.plan(urls)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench run: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cleanup, err := pl.setup(stderr)
	defer cleanup()
	if err != nil {
		fmt.Fprintf(stderr, "wsbench run: %v\n", err)
		return 2
	}
	res, code := pl.execute(ctx, stdout, stderr)
	if res == nil {
		return code
	}
	return pl.report(res, stdout, stderr)
}

// setup readies what the run needs around it: file limits, the in-process server when no
// URL is given, progress lines and live metrics. cleanup undoes it (always call it).
func (pl *plan) setup(stderr io.Writer) (cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	cfg, f := &pl.cfg, pl.f
	warnFileLimit(stderr, cfg, len(pl.urls) == 0)
	if len(pl.urls) == 0 && (cfg.Flow == nil || len(cfg.Flow.Flow.URLs) == 0) {
		srv, err := testserver.Start(testserver.Options{Loops: f.serverLoops})
		if err != nil {
			return cleanup, fmt.Errorf("start the in-process reference server: %v", err)
		}
		undo = append(undo, func() { _ = srv.Close() })
		pl.urls = []string{inProcessURL(srv.URL(), cfg, f)}
		cfg.InProcessServer = true
		cfg.Notes = append(cfg.Notes, "target: the in-process reference server on loopback (no URL given); its CPU counts with the generator's")
	}
	cfg.Targets = pl.urls
	if !f.quiet {
		cfg.Progress = stderr
		cfg.ProgressTTY = isTerminal(stderr)
	}
	if f.cpuProfile != "" {
		stopProfile, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return cleanup, fmt.Errorf("-cpuprofile: %v", err)
		}
		undo = append(undo, stopProfile)
	}
	if f.prometheus != "" {
		what := string(cfg.Scenario)
		if cfg.Flow != nil {
			what = cfg.Flow.Flow.Name
		}
		l := newLive(what, cfg.Shard)
		cfg.OnPoint = l.observe
		stopLive, err := serveLive(f.prometheus, l, stderr)
		if err != nil {
			return cleanup, fmt.Errorf("-prometheus: %v", err)
		}
		undo = append(undo, stopLive)
	}
	if err := cfg.Validate(); err != nil {
		return cleanup, err
	}
	if !f.quiet {
		what := fmt.Sprintf("%s, %s", cfg.Scenario, loadtest.ModelName(cfg.Scenario, cfg.Model))
		if cfg.Flow != nil {
			what = "flow " + cfg.Flow.Flow.Name
		}
		fmt.Fprintf(stderr, "wsbench: %s, %d connections → %s\n", what, len(cfg.Shard.IDs(cfg.Conns)), strings.Join(cfg.Targets, " "))
	}
	return cleanup, nil
}

// execute runs the test (or the find steps); a nil result comes with the exit status.
func (pl *plan) execute(ctx context.Context, stdout, stderr io.Writer) (*loadtest.Result, int) {
	if !pl.f.find {
		res, err := loadtest.Run(ctx, pl.cfg)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench run: %v\n", err)
			return nil, 1
		}
		if len(pl.slos) > 0 {
			res.SLO, _ = loadtest.CheckSLO(res, pl.slos)
		}
		return res, 0
	}
	f := pl.f
	res, steps, err := loadtest.Find(ctx, pl.cfg, pl.slos, loadtest.FindOptions{Start: pl.cfg.Rate, Factor: f.findFactor, MaxSteps: f.findSteps,
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
		return nil, 1
	}
	if res == nil {
		fmt.Fprintf(stdout, "wsbench find: the first rate tried (%g/s) already broke %s; try a lower -r\n", steps[0].Rate, f.slo)
		return nil, 1
	}
	last := steps[len(steps)-1]
	if last.Met {
		res.Notes = append(res.Notes, fmt.Sprintf("find: every step met %s; the highest rate tried was %g/s (raise -find-steps to go further)", f.slo, res.Config.Rate))
	} else {
		res.Notes = append(res.Notes, fmt.Sprintf("find: %g/s is the highest rate that met %s (%g/s broke it)", res.Config.Rate, f.slo, last.Rate))
	}
	return res, 0
}

// report writes the text report, advice, and the -json/-html files; it returns the exit
// status: 1 when an objective failed or no connection opened.
func (pl *plan) report(res *loadtest.Result, stdout, stderr io.Writer) int {
	f := pl.f
	out := stdout
	if f.jsonOut == "-" {
		out = stderr // standard output carries the JSON alone
	}
	res.WriteText(out)
	for _, h := range advice(res) {
		fmt.Fprintf(stderr, "wsbench: %s\n", h)
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
