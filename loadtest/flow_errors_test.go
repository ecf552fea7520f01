package loadtest

import (
	"errors"
	"strings"
	"testing"
)

// Every kind of mistake in a flow file is reported by ParseFlow or Compile — before Run
// dials anything — with file:line:column, the step, and what was expected.
func TestFlowMistakesCaughtBeforeDial(t *testing.T) {
	for _, c := range []struct {
		name, src, pos, want string
		set                  map[string]string
	}{
		{"unknown variable", "flow:\n  - send: 'hi {{nope}}'\n", "f.yaml:2:5", "unknown variable {{nope}}", nil},
		{"variable before its capture", "flow:\n  - send: '{{sid}}'\n  - expect: {prefix: x}\n    capture: {sid: {json: a}}\n", "f.yaml:2:5", "unknown variable {{sid}}", nil},
		{"bad regex", "flow:\n  - expect: {regex: 'a('}\n", "f.yaml:2:5", "does not compile", nil},
		{"impossible json path", "flow:\n  - expect: {json: 'a..b'}\n", "f.yaml:2:5", "can never match", nil},
		{"bad json index", "flow:\n  - expect:\n      json: {path: 'a[x]', equals: y}\n", "f.yaml:2:5", "can never match", nil},
		{"capture regex group", "flow:\n  - expect: {prefix: a}\n    capture: {x: {regex: 'a', group: 2}}\n", "f.yaml:2:5", "has 0 groups", nil},
		{"misspelt step", "flow:\n  - sned: hi\n", "f.yaml:2:5", "no step kind", nil},
		{"two kinds in a step", "flow:\n  - send: hi\n    think: 1s\n", "f.yaml:3:5", "both send and think", nil},
		{"key of another step", "flow:\n  - send: hi\n    timeout: 1s\n", "f.yaml:3:14", "does not apply to a send step", nil},
		{"unknown top key", "urls: ws://x\nflow:\n  - send: hi\n", "f.yaml:1:1", "unknown key \"urls\"", nil},
		{"unknown match key", "flow:\n  - expect: {prefx: a}\n", "f.yaml:2:14", "unknown key \"prefx\"", nil},
		{"not yaml", "flow: [\n  - send: hi\n", "f.yaml:", "not valid YAML", nil},
		{"bad duration", "flow:\n  - think: 5 parsecs\n", "f.yaml:2:12", "want a duration", nil},
		{"bad rate", "flow:\n  - loop: {rate: fast, do: [{send: a}]}\n", "f.yaml:2:18", "rate \"fast\"", nil},
		{"measure without send", "flow:\n  - expect: {prefix: a}\n    measure: rtt\n", "f.yaml:2:5", "no earlier send is named \"rtt\"", nil},
		{"unknown -set", "params: {room: a}\nflow:\n  - send: '{{room}}'\n", "f.yaml:1:1", "no parameter \"rooms\"", map[string]string{"rooms": "b"}},
		{"unknown parameter in a value", "flow:\n  - think: '{{pause}}'\n", "f.yaml:2:12", "unknown parameter {{pause}}", nil},
		{"slo on unknown metric", "flow:\n  - send: a\nslo: p99(rtt) < 5ms\n", "f.yaml:1:1", "no latency metric is named \"rtt\"", nil},
		{"bad slo", "flow:\n  - send: a\nslo: p99 = 5ms\n", "f.yaml:1:1", "want metric<limit", nil},
		{"go step not registered", "flow:\n  - go: nosuch\n", "f.yaml:2:5", "go step \"nosuch\" is not registered", nil},
		{"go matcher not registered", "flow:\n  - expect: {go: nosuch}\n", "f.yaml:2:5", "go matcher \"nosuch\" is not registered", nil},
		{"loop that never waits", "flow:\n  - loop:\n      do: [{send: a}]\n", "f.yaml:2:5", "must wait somewhere", nil},
		{"think in an open loop", "flow:\n  - loop:\n      every: 1s\n      do: [{think: 1s}]\n", "f.yaml:4:12", "think inside a loop with a rate", nil},
		{"bad hex", "flow:\n  - send: {hex: 'zz'}\n", "f.yaml:2:5", "not a hex byte", nil},
		{"unclosed length group", "flow:\n  - send: {hex: '30 {{varlen}} 01'}\n", "f.yaml:2:5", "lacks its {{end}}", nil},
		{"close code", "flow:\n  - close: {code: 1005}\n", "f.yaml:2:5", "cannot be sent", nil},
		{"matcher with time", "flow:\n  - expect: {prefix: '{{now_ms}}'}\n", "f.yaml:2:5", "cannot name now_*", nil},
		{"empty match", "flow:\n  - expect: {}\n", "f.yaml:2:5", "empty match", nil},
		{"rule that does nothing", "on:\n  - match: {equals: a}\nflow:\n  - send: a\n", "f.yaml:2:5", "a rule does nothing", nil},
		{"data file missing", "data: nope.csv\nflow:\n  - send: a\n", "f.yaml:1:7", "nope.csv", nil},
		{"data column unknown", "data: {file: testdata/flows/users.csv, as: user}\nflow:\n  - send: '{{user.age}}'\n", "f.yaml:3:5", "no column \"age\"", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseFlow("f.yaml", []byte(c.src), c.set)
			if err == nil {
				_, err = Compile(f, "")
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", c.src)
			}
			var fe *FlowError
			if !errors.Is(err, ErrFlow) || !errors.As(err, &fe) {
				t.Errorf("%v: not a *FlowError wrapping ErrFlow", err)
			}
			if !strings.HasPrefix(err.Error(), c.pos) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got  %v\nwant %s…%s", err, c.pos, c.want)
			}
		})
	}
}
