package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/loadtest"
	"github.com/wsfleet/wsfleet/loadtest/flows"
)

// plan is a run's configuration, built from the flags before anything starts.
type plan struct {
	f    *runFlags
	cfg  loadtest.Config
	slos []loadtest.SLO
	urls []string
}

// plan turns the flags into a configuration; its errors are usage errors (exit status 2).
func (f *runFlags) plan(urls []string) (*plan, error) {
	pl := &plan{f: f, urls: urls}
	cfg := &pl.cfg
	*cfg = loadtest.Config{
		Scenario: loadtest.Scenario(f.scenario), Conns: f.conns, Duration: f.duration, Messages: f.messages,
		Rate: f.rate, PerConnRate: f.perConn, Size: f.size, Binary: f.binary, Headers: f.headers,
		Subprotocols: f.protos, Ping: f.ping, Warmup: f.warmup, Ramp: f.ramp, Drain: f.drain,
		ConnectTimeout: f.connectTimeout, ConnectRetries: f.connectRetries, Loops: f.loops,
	}
	if f.reconnect != "" {
		p, err := parseReconnect(f.reconnect)
		if err != nil {
			return nil, err
		}
		cfg.Reconnect = p
	}
	var err error
	if cfg.TLSConfig, err = f.dial.TLSConfig(); err != nil {
		return nil, err
	}
	if cfg.Proxy, err = f.dial.ProxyFunc(); err != nil {
		return nil, err
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
	if f.flow != "" {
		if err := pl.loadFlow(); err != nil {
			return nil, err
		}
	} else if len(f.set) > 0 {
		return nil, errors.New("-set applies to a flow's parameters: give -flow FILE|NAME")
	} else if f.data != "" || f.dataUnique {
		return nil, errors.New("-data feeds a flow: give -flow FILE|NAME")
	}
	if f.payload != "" {
		b, err := os.ReadFile(f.payload)
		if err != nil {
			return nil, fmt.Errorf("-payload: %v", err)
		}
		cfg.Payload = b
	}
	if f.tokens != "" {
		toks, err := readLines(f.tokens)
		if err != nil {
			return nil, fmt.Errorf("-tokens: %v", err)
		}
		if len(toks) == 0 {
			return nil, fmt.Errorf("-tokens %s: no tokens in the file", f.tokens)
		}
		cfg.Tokens = toks
	}
	if f.sourceIPs != "" {
		ips, err := loadtest.ParseSourceIPs(f.sourceIPs)
		if err != nil {
			return nil, fmt.Errorf("-source-ips: %v", err)
		}
		cfg.SourceIPs = ips
	}
	if f.shard != "" {
		sh, err := loadtest.ParseShard(f.shard)
		if err != nil {
			return nil, fmt.Errorf("-shard: %v", err)
		}
		cfg.Shard = sh
	}
	if f.startAt != "" {
		t, err := time.Parse(time.RFC3339, f.startAt)
		if err != nil {
			return nil, fmt.Errorf("-start-at %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", f.startAt)
		}
		cfg.StartAt = t
	}
	if f.slo != "" {
		slos, err := loadtest.ParseSLO(f.slo)
		if err != nil {
			return nil, fmt.Errorf("-slo: %v", err)
		}
		pl.slos = append(pl.slos, slos...)
	}
	if f.find && len(pl.slos) == 0 {
		return nil, errors.New("find mode needs an objective: -slo 'p99<50ms'")
	}
	return pl, nil
}

// loadFlow reads and compiles -flow (a file, else an embedded flow of that name); the run's
// shape comes from the flow unless a flag sets it.
func (pl *plan) loadFlow() error {
	f, cfg := pl.f, &pl.cfg
	set := map[string]string{}
	for _, kv := range f.set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("-set %q: want NAME=VALUE", kv)
		}
		set[strings.TrimSpace(k)] = v
	}
	fl, dir, err := readFlow(f.flow, set)
	if err != nil {
		return err
	}
	if f.data != "" {
		attachData(fl, f.data, f.dataUnique, dir)
	}
	prog, err := loadtest.Compile(fl, dir)
	if err != nil {
		return err
	}
	cfg.Flow = prog
	// the flow's shape holds where no flag says otherwise (zero: the flow's, see Config.Flow)
	if !isSet(f.fs, "c") {
		cfg.Conns = 0
	}
	if !isSet(f.fs, "d") {
		cfg.Duration = 0
	}
	if !isSet(f.fs, "warmup") {
		cfg.Warmup = 0
	}
	if !isSet(f.fs, "ramp") {
		cfg.Ramp = 0
	}
	if !isSet(f.fs, "subprotocol") {
		cfg.Subprotocols = nil
	}
	pl.slos = append(pl.slos, prog.SLOs()...)
	return nil
}

// readFlow reads a flow file, or an embedded flow when no such file exists; dir is where
// its relative paths (data, payload files) are resolved.
func readFlow(name string, set map[string]string) (*loadtest.Flow, string, error) {
	if _, err := os.Stat(name); err == nil {
		fl, err := loadtest.ParseFlowFile(name, set)
		return fl, filepath.Dir(name), err
	}
	src, ok := flows.Source(name)
	if !ok {
		var names []string
		for _, i := range flows.List() {
			names = append(names, i.Name)
		}
		return nil, "", fmt.Errorf("-flow %s: no such file, nor an embedded flow of that name (embedded: %s)", name, strings.Join(names, ", "))
	}
	fl, err := loadtest.ParseFlow(name+".yaml", src, set)
	if err != nil {
		return nil, "", err
	}
	if fl.Name == "" {
		fl.Name = name
	}
	return fl, "", nil
}

// attachData gives the flow the CSV of -data (relative to the working directory, not to
// the flow file), keeping the template prefix (as:) of a data: the flow may declare.
func attachData(fl *loadtest.Flow, path string, unique bool, flowDir string) {
	if flowDir != "" && !filepath.IsAbs(path) {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	d := &loadtest.Data{File: path, Unique: unique}
	if fl.Data != nil {
		d.As = fl.Data.As
		d.Unique = unique || fl.Data.Unique
	}
	fl.Data = d
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
