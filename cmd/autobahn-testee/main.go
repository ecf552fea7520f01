// Command autobahn-testee is wsfleet's Autobahn|Testsuite client testee. It connects to a
// fuzzing server, asks /getCaseCount, runs every /runCase?case=N&agent=A in turn, echoing each
// text and binary message back through the public engine API until the server closes, and
// finally opens /updateReports?agent=A so that the server writes its report.
//
// Environment (as every Autobahn testee client reads it):
//
//	AUTOBAHN_URL    the fuzzing server, e.g. ws://127.0.0.1:9001 (required)
//	AUTOBAHN_AGENT  the agent name in the report (default wsfleet-<api>)
//	AUTOBAHN_CA     a PEM file to trust for wss:// (autobahn.sh -T makes a self-signed one)
//
// Flags:
//
//	-api handler|passive|active  which delivery path echoes (default handler)
//	-compress                    offer permessage-deflate (RFC 7692), every message compressed
//	-compress-no-context         -compress offering client_no_context_takeover too (13.2, 13.5, 13.6)
//	-case-timeout D              bound on one case (default 10m; 9.x moves 16 MiB messages)
//	-v                           one line per case on stderr
//	-trace                       the engine's trace of every connection on stderr
//
// The exit status is 0 when every connection to the server could be made and the report was
// requested; whether the cases passed is the report's business (see .ci/autobahn).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// maxMessage lets 9.x's 16 MiB messages (and their echo) through with room to spare.
const maxMessage = 64 << 20

// compressNoContext: the suite's server asks for client_no_context_takeover (13.2, 13.5,
// 13.6) only when the client offered it, and declines compression otherwise.
var compressNoContext = flag.Bool("compress-no-context", false, "like -compress, and offer client_no_context_takeover (Autobahn 13.2, 13.5, 13.6 accept only such offers)")

func main() {
	api := flag.String("api", "handler", "delivery path that echoes: handler, passive or active")
	compress := flag.Bool("compress", false, "offer permessage-deflate (RFC 7692) and compress every message (Autobahn 12.x, 13.x)")
	caseTimeout := flag.Duration("case-timeout", 10*time.Minute, "bound on the duration of one case")
	verbose := flag.Bool("v", false, "print one line per case on stderr")
	trace := flag.Bool("trace", false, "print the engine's trace (frames, closes) with timestamps on stderr")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: AUTOBAHN_URL=ws://host:port [AUTOBAHN_AGENT=name] %s [-api handler|passive|active] [-compress] [-case-timeout D] [-v]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*api, *compress, *caseTimeout, *verbose, *trace); err != nil {
		fmt.Fprintln(os.Stderr, "autobahn-testee:", err)
		os.Exit(1)
	}
}

func run(api string, compress bool, caseTimeout time.Duration, verbose, trace bool) error {
	r, err := newRunner(api)
	if err != nil {
		return err
	}
	base := strings.TrimRight(os.Getenv("AUTOBAHN_URL"), "/")
	if base == "" {
		return errors.New("AUTOBAHN_URL is not set (e.g. ws://127.0.0.1:9001)")
	}
	agent := os.Getenv("AUTOBAHN_AGENT")
	if agent == "" {
		agent = "wsfleet-" + api
	}
	wss := strings.HasPrefix(strings.ToLower(base), "wss://")
	var tlsc *tls.Config
	if ca := os.Getenv("AUTOBAHN_CA"); ca != "" {
		if !wss {
			return fmt.Errorf("AUTOBAHN_CA=%q is set but AUTOBAHN_URL %q is not wss://", ca, base)
		}
		pem, err := os.ReadFile(ca)
		if err != nil {
			return fmt.Errorf("AUTOBAHN_CA: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("AUTOBAHN_CA: no PEM certificate in %s", ca)
		}
		tlsc = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}

	var eo engine.Options
	if trace {
		eo.Trace = printTrace
	}
	eng, err := engine.New(eo)
	if err != nil {
		return err
	}
	defer eng.Close()
	opts := baseOptions(tlsc)
	if compress || *compressNoContext {
		// Every message compressed, however small.
		opts.Compression = &engine.Compression{Threshold: -1, ClientNoContextTakeover: *compressNoContext}
	}
	r.setup(eng, opts)

	ctx := context.Background()
	first, err := r.run(ctx, base+"/getCaseCount", false, time.Minute)
	if err != nil && first == "" {
		return fmt.Errorf("getCaseCount: %w", err)
	}
	count, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || count < 0 {
		return fmt.Errorf("getCaseCount: the server answered %q, not a number", first)
	}
	if verbose {
		fmt.Fprintf(os.Stderr, "%d cases, agent %q, api %s\n", count, agent, api)
	}

	qa := url.QueryEscape(agent)
	failedDials := 0
	for n := 1; n <= count; n++ {
		id := ""
		if verbose {
			id = caseID(ctx, r, base, n)
		}
		start := time.Now()
		_, err := r.run(ctx, fmt.Sprintf("%s/runCase?case=%d&agent=%s", base, n, qa), true, caseTimeout)
		var de *dialError
		if errors.As(err, &de) {
			failedDials++
		}
		if verbose {
			fmt.Fprintf(os.Stderr, "case %d/%d %s: %v (%v)\n", n, count, id, endText(err), time.Since(start).Round(time.Millisecond))
		}
	}

	if _, err := r.run(ctx, base+"/updateReports?agent="+qa, false, 5*time.Minute); err != nil {
		var de *dialError
		if errors.As(err, &de) || errors.Is(err, engine.ErrTimeout) {
			return fmt.Errorf("updateReports: %w", err)
		}
	}
	if failedDials > 0 {
		return fmt.Errorf("%d of %d cases could not connect", failedDials, count)
	}
	return nil
}

// caseID asks the server for case n's identifier ("1.1.1"), for the -v output only.
func caseID(ctx context.Context, r runner, base string, n int) string {
	first, _ := r.run(ctx, fmt.Sprintf("%s/getCaseInfo?case=%d", base, n), false, 30*time.Second)
	var info struct {
		ID string `json:"id"`
	}
	if json.Unmarshal([]byte(first), &info) != nil || info.ID == "" {
		return "?"
	}
	return info.ID
}

// printTrace writes one engine trace event on stderr, timestamped to the microsecond.
func printTrace(ev engine.TraceEvent) {
	line := time.Now().Format("15:04:05.000000") + " " + ev.Kind.String()
	if ev.Conn != nil {
		line += " " + ev.Conn.URL().RequestURI()
	}
	if ev.Kind == engine.TraceFrameSent || ev.Kind == engine.TraceFrameRecv {
		line += fmt.Sprintf(" op=%d fin=%t len=%d", ev.Opcode, ev.Fin, ev.Length)
	}
	if ev.Err != nil {
		line += " err=" + ev.Err.Error()
	}
	fmt.Fprintln(os.Stderr, line)
}

// endText says how a case's connection ended, for the -v output.
func endText(err error) string {
	var ce *engine.CloseError
	switch {
	case err == nil:
		return "closed"
	case errors.As(err, &ce):
		return fmt.Sprintf("closed %d (by %s)", ce.Code, map[bool]string{true: "server", false: "client"}[ce.Remote])
	default:
		return err.Error()
	}
}

// dialError marks a connection that could not be made at all (as opposed to one that ended
// with an error, which many cases ask for).
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
