package loadtest

import (
	"fmt"
	"time"
)

// A Flow is a scripted conversation that every connection of a run walks through: connect,
// send, expect (with captures and measures), think, loop, close, plus background rules that
// answer or measure whatever arrives at any time. It is what a flow file (docs/flows.md)
// parses into, and a Go program may build one directly. Compile checks it whole (every
// template variable, regex, JSON path and step) before anything is dialled.
type Flow struct {
	// Name and Description (a flow file's first comment line) are shown by `wsbench flows`.
	Name, Description string
	// URLs: connection id goes to URLs[id % len(URLs)]; the command line may override them.
	URLs []string
	// Connections, Ramp (connections/s), Duration and Warmup are the run's shape; zero
	// leaves the Config's (or the command line's) value in force.
	Connections int
	Ramp        float64
	Duration    time.Duration
	Warmup      time.Duration
	// Headers are sent with each handshake; values are templates (per connection).
	Headers []Header
	// Subprotocols offered in Sec-WebSocket-Protocol.
	Subprotocols []string
	// Compress offers permessage-deflate (the engine's defaults) unless Config.Compression
	// says otherwise.
	Compress bool
	// Ping, when set, sends keepalive pings after this much idle time (a silent peer is
	// declared dead after as long again); Config.Ping overrides it.
	Ping time.Duration
	// Unmatched, when set, is the label that counts every message nobody wanted (instead
	// of others(label) and "unexpected"); the built-in scenarios name it "foreign".
	Unmatched string
	// Params are named constants with defaults ({{name}} in any template or value); the
	// command line (-set name=value) overrides them.
	Params map[string]string
	// Data is an optional CSV feeder: one row per connection, columns as {{as.column}}.
	Data *Data
	// On are background rules, tried first on every message at any time.
	On []Rule
	// Steps are walked in order by every connection.
	Steps []Step
	// SLO are objectives on the run's named metrics, e.g. "p99(say) < 100ms, errors < 0.1%".
	SLO string
	// Pos is where the flow came from (for errors); zero for a flow built in Go.
	Pos Pos
}

// Header is one handshake header; Value is a template.
type Header struct{ Name, Value string }

// Data is a CSV feeder with a header row. Row id mod rows goes to connection id, or with
// Unique, row id exactly (the run fails when there are fewer rows than connections) — so
// that shards, which hold every n-th id, split the rows between them without overlap. A
// column named like one of the flow's parameters gives that parameter per connection in
// templates, so a CSV of credentials fits a flow that takes them as parameters unchanged.
// A zero Pos means the feeder was attached from outside the flow file (wsbench run -data).
type Data struct {
	File   string
	As     string // template prefix, default "data": {{data.column}}
	Unique bool
	Pos    Pos
}

// Pos is a place in a flow file: file:line:column.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		if p.File != "" {
			return p.File
		}
		return "flow"
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Step is one thing a connection does; exactly one of its fields is set.
type Step struct {
	Send   *Send
	Expect *Expect
	Think  *Think
	Loop   *Loop
	Close  *Close
	// Go runs Go code (a registered step, or a function set directly).
	Go  *GoStep
	Pos Pos
}

// Send sends one message. Text is a text template; Hex a binary template (hex bytes with
// {{...}} fields, see docs/flows.md); Base64 and File are fixed binary payloads.
type Send struct {
	Text, Hex, Base64, File string
	// As names the send, so that a later expect can measure request → reply from it.
	As string
}

// Expect waits for a message that matches. Inside a loop with a rate it does not block: it
// waits in the background (several may be outstanding) while the schedule goes on.
type Expect struct {
	Match Match
	// Timeout (default 10 s): a timed-out expect counts under timeouts(label) and ends the
	// connection's flow, unless Optional.
	Timeout  time.Duration
	Optional bool
	// Label names the expect in counts and SLOs (default: its Measure, else "step N").
	Label string
	// Others says what to do with a message that arrives meanwhile and matches neither this
	// expect nor a rule: "ignore" (counted per label, the default) or "fail".
	Others string
	// Capture stores values of the matched message in variables, {{name}} from then on.
	Capture []Capture
	// Measure names a Send (its As): the latency from that send to this match is recorded
	// under that name.
	Measure string
	// Stamp, when set, records the latency from a timestamp inside the matched message.
	Stamp *Stamp
}

// Think pauses: Fixed, or uniform in [Min, Max], or exponential with mean Mean.
type Think struct {
	Fixed, Min, Max, Mean time.Duration
}

// Loop repeats Do: Count times (Total: that many for the whole fleet, split over the
// connections), for Duration, or forever (until the run ends). Every, or Rate (iterations/s
// per connection, or for the whole fleet with Fleet), makes it an open schedule: iterations
// start at their intended times whatever the replies do, and measures count from those
// times.
type Loop struct {
	Count    int
	Total    int64
	Duration time.Duration
	Every    time.Duration
	Rate     float64
	Fleet    bool
	Do       []Step
}

// Close closes the connection with Code (default 1000) and Reason.
type Close struct {
	Code   int
	Reason string
}

// Rule is a background rule: a message that matches gets Send as the reply (a text
// template, or Hex binary), is counted under Count, and measured by Stamp.
type Rule struct {
	Match     Match
	Send, Hex string
	Count     string
	Stamp     *Stamp
	Pos       Pos
}

// Match is a condition on a message; every field that is set must hold. Templates (Equals,
// Prefix, Contains, HexPrefix, JSON.Equals) are rendered when the expect starts.
type Match struct {
	Equals, Prefix, Contains string
	// Regex is a Go regular expression (fixed, no templates).
	Regex string
	// HexPrefix is a binary template the message must start with.
	HexPrefix string
	// Type is "text" or "binary" ("" either).
	Type string
	// JSON tests a value at a JSON path.
	JSON *JSONMatch
	// Go names a registered matcher; Func is a matcher set directly.
	Go   string
	Func GoMatcher
	Pos  Pos
}

// JSONMatch tests the value at Path: it exists, equals a template, or compares as a number.
// Text before the message's first '{' or '[' is skipped (Socket.IO's 42[...]).
type JSONMatch struct {
	Path   string
	Equals string
	// Op is one of <, <=, >, >=, == or != against Number.
	Op     string
	Number float64
}

// Capture stores a value of a matched message: at a JSON path, or a regex group.
type Capture struct {
	Name  string
	JSON  string
	Regex string
	Group int
	Pos   Pos
}

// Stamp reads a time from a message (JSON path or the first group of a regex), as a Unix
// time in Unit (s, ms, us, ns), and records now minus that under Name. It compares the
// client's clock with the server's (or the sender's): the report says so.
type Stamp struct {
	Name  string
	JSON  string
	Regex string
	Unit  string
	Pos   Pos
}
