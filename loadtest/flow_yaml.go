package loadtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ParseFlowFile reads a flow file; set overrides its parameters (name → value).
func ParseFlowFile(path string, set map[string]string) (*Flow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFlow, err)
	}
	f, err := ParseFlow(path, b, set)
	if err != nil {
		return nil, err
	}
	if f.Name == "" {
		f.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return f, nil
}

// ParseFlow parses a flow file's text (file names it in errors). Parameters are applied
// here, set overriding the file's defaults: an override of a parameter the file does not
// declare is an error. Every error carries file:line:column.
func ParseFlow(file string, src []byte, set map[string]string) (*Flow, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, &FlowError{Pos: Pos{File: file, Line: yamlErrLine(err), Col: 1}, Err: fmt.Errorf("not valid YAML: %v", err)}
	}
	if len(doc.Content) == 0 {
		return nil, &FlowError{Pos: Pos{File: file, Line: 1, Col: 1}, Err: errors.New("empty flow file")}
	}
	root := doc.Content[0]
	p := &yparser{file: file}
	f := &Flow{Pos: p.pos(root), Description: FlowDescription(src)}
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root, "", "a flow file is a mapping (url:, connections:, flow: ...), not a %s", kindName(root))
	}
	// Parameters first: every other value may name them.
	if n := mapGet(root, "params"); n != nil {
		if n.Kind != yaml.MappingNode {
			return nil, p.errf(n, "params", "want a mapping of name: default value")
		}
		f.Params = map[string]string{}
		for i := 0; i < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, p.errf(v, "params", "parameter %s: want a plain value", k.Value)
			}
			f.Params[k.Value] = v.Value
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := f.Params[k]; !ok {
			return nil, &FlowError{Pos: f.Pos, Step: "params", Err: fmt.Errorf("-set %s: the flow has no parameter %q (it has: %s)", k, k, strings.Join(sortedKeys(f.Params), ", "))}
		}
		f.Params[k] = set[k]
	}
	p.params = f.Params
	for i := 0; i < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var err error
		switch k.Value {
		case "params":
		case "name":
			f.Name, err = p.str(v, "name")
		case "description":
			f.Description, err = p.str(v, "description")
		case "url":
			f.URLs, err = p.strList(v, "url", true)
		case "connections":
			f.Connections, err = p.int(v, "connections")
		case "ramp":
			f.Ramp, err = p.rate(v, "ramp")
		case "duration":
			f.Duration, err = p.dur(v, "duration")
		case "warmup":
			f.Warmup, err = p.dur(v, "warmup")
		case "headers":
			if v.Kind != yaml.MappingNode {
				return nil, p.errf(v, "headers", "want a mapping of Name: value")
			}
			for j := 0; j < len(v.Content); j += 2 {
				f.Headers = append(f.Headers, Header{Name: v.Content[j].Value, Value: v.Content[j+1].Value})
			}
		case "ping":
			f.Ping, err = p.dur(v, "ping")
		case "compress":
			f.Compress, err = p.bool(v, "compress")
		case "unmatched":
			f.Unmatched, err = p.plain(v, "unmatched")
		case "subprotocols", "subprotocol":
			f.Subprotocols, err = p.strList(v, k.Value, true)
		case "data":
			f.Data, err = p.data(v)
		case "on":
			f.On, err = p.rules(v)
		case "flow", "steps":
			f.Steps, err = p.steps(v, "")
		case "slo":
			f.SLO, err = p.str(v, "slo")
		default:
			return nil, p.errf(k, "", "unknown key %q: want url, connections, ramp, duration, warmup, headers, subprotocols, compress, ping, params, data, on, flow, unmatched or slo", k.Value)
		}
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

// FlowDescription is a flow file's description: its first comment line.
func FlowDescription(src []byte) string {
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			return ""
		}
		return strings.TrimSpace(strings.TrimLeft(line, "#"))
	}
	return ""
}

func yamlErrLine(err error) int {
	var te *yaml.TypeError
	_ = errors.As(err, &te)
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		n := 0
		for _, c := range s[i+5:] {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		if n > 0 {
			return n
		}
	}
	return 1
}

type yparser struct {
	file   string
	params map[string]string
	n      int // steps seen, for names
}

func (p *yparser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

func (p *yparser) errf(n *yaml.Node, step, format string, a ...any) error {
	return &FlowError{Pos: p.pos(n), Step: step, Err: fmt.Errorf(format, a...)}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "plain value"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// plain reads a scalar and applies the parameters.
func (p *yparser) plain(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errf(n, what, "want a plain value, not a %s", kindName(n))
	}
	v, err := substParams(n.Value, p.params)
	if err != nil {
		return "", p.errf(n, what, "%v", err)
	}
	return v, nil
}

// str reads a template or text scalar as written (templates see parameters when compiled).
func (p *yparser) str(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errf(n, what, "want a string, not a %s", kindName(n))
	}
	return n.Value, nil
}

func (p *yparser) strList(n *yaml.Node, what string, params bool) ([]string, error) {
	var nodes []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		nodes = []*yaml.Node{n}
	case yaml.SequenceNode:
		nodes = n.Content
	default:
		return nil, p.errf(n, what, "want a string or a list of strings")
	}
	var out []string
	for _, c := range nodes {
		v, err := p.plain(c, what)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (p *yparser) int(n *yaml.Node, what string) (int, error) {
	v, err := p.plain(n, what)
	if err != nil {
		return 0, err
	}
	i, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || i < 0 {
		return 0, p.errf(n, what, "%q: want a whole number, 0 or more", v)
	}
	return i, nil
}

func (p *yparser) dur(n *yaml.Node, what string) (time.Duration, error) {
	v, err := p.plain(n, what)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, p.errf(n, what, "%q: want a duration such as 500ms, 5s or 2m", v)
	}
	return d, nil
}

func (p *yparser) rate(n *yaml.Node, what string) (float64, error) {
	v, err := p.plain(n, what)
	if err != nil {
		return 0, err
	}
	r, err := parseRate(v)
	if err != nil {
		return 0, p.errf(n, what, "%v", err)
	}
	return r, nil
}

func (p *yparser) bool(n *yaml.Node, what string) (bool, error) {
	v, err := p.plain(n, what)
	if err != nil {
		return false, err
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, p.errf(n, what, "%q: want true or false", v)
	}
	return b, nil
}

// fields walks a mapping, calling fn for each key; unknown keys are errors naming the
// allowed ones.
func (p *yparser) fields(n *yaml.Node, what string, allowed []string, fn func(k string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, what, "want a mapping with %s, not a %s", strings.Join(allowed, ", "), kindName(n))
	}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ok := false
		for _, a := range allowed {
			ok = ok || a == k.Value
		}
		if !ok {
			return p.errf(k, what, "unknown key %q: want %s", k.Value, strings.Join(allowed, ", "))
		}
		if err := fn(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *yparser) data(n *yaml.Node) (*Data, error) {
	d := &Data{Pos: p.pos(n)}
	if n.Kind == yaml.ScalarNode {
		v, err := p.plain(n, "data")
		d.File = v
		return d, err
	}
	err := p.fields(n, "data", []string{"file", "as", "unique"}, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "file":
			d.File, err = p.plain(v, "data")
		case "as":
			d.As, err = p.plain(v, "data")
		case "unique":
			d.Unique, err = p.bool(v, "data")
		}
		return err
	})
	if err == nil && d.File == "" {
		err = p.errf(n, "data", "no file")
	}
	return d, err
}

func (p *yparser) rules(n *yaml.Node) ([]Rule, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "on", "want a list of rules (- match: ...)")
	}
	var out []Rule
	for i, rn := range n.Content {
		what := fmt.Sprintf("on rule %d", i+1)
		r := Rule{Pos: p.pos(rn)}
		err := p.fields(rn, what, []string{"match", "send", "hex", "count", "measure"}, func(k string, v *yaml.Node) error {
			var err error
			switch k {
			case "match":
				r.Match, err = p.match(v, what)
			case "send":
				r.Send, err = p.str(v, what)
			case "hex":
				r.Hex, err = p.str(v, what)
			case "count":
				r.Count, err = p.plain(v, what)
			case "measure":
				var name string
				name, r.Stamp, err = p.measure(v, what)
				if err == nil && r.Stamp == nil {
					err = p.errf(v, what, "measure %q: a rule measures from a time inside the message: measure: {name: %s, from: {json: PATH, unit: ms}}", name, name)
				}
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if mapGet(rn, "match") == nil {
			return nil, p.errf(rn, what, "no match")
		}
		out = append(out, r)
	}
	return out, nil
}

// measure reads `measure: NAME` (request → reply from the send named so) or
// `measure: {name: N, from: {json|regex: ..., unit: ms}}` (a stamp in the message).
func (p *yparser) measure(n *yaml.Node, what string) (string, *Stamp, error) {
	if n.Kind == yaml.ScalarNode {
		v, err := p.plain(n, what)
		return v, nil, err
	}
	st := &Stamp{Pos: p.pos(n)}
	err := p.fields(n, what+" measure", []string{"name", "from"}, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "name":
			st.Name, err = p.plain(v, what)
		case "from":
			err = p.fields(v, what+" measure from", []string{"json", "regex", "unit"}, func(k string, v *yaml.Node) error {
				var err error
				switch k {
				case "json":
					st.JSON, err = p.plain(v, what)
				case "regex":
					st.Regex, err = p.str(v, what)
				case "unit":
					st.Unit, err = p.plain(v, what)
				}
				return err
			})
		}
		return err
	})
	if err == nil && (st.Name == "" || mapGet(n, "from") == nil) {
		err = p.errf(n, what, "measure: want a send's name, or {name: N, from: {json: PATH, unit: ms}}")
	}
	return st.Name, st, err
}

var matchKeys = []string{"equals", "prefix", "contains", "regex", "hex_prefix", "type", "json", "go"}

func (p *yparser) match(n *yaml.Node, what string) (Match, error) {
	m := Match{Pos: p.pos(n)}
	err := p.fields(n, what+" match", matchKeys, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "equals":
			m.Equals, err = p.str(v, what)
		case "prefix":
			m.Prefix, err = p.str(v, what)
		case "contains":
			m.Contains, err = p.str(v, what)
		case "regex":
			m.Regex, err = p.str(v, what)
		case "hex_prefix":
			m.HexPrefix, err = p.str(v, what)
		case "type":
			m.Type, err = p.plain(v, what)
		case "go":
			m.Go, err = p.plain(v, what)
		case "json":
			m.JSON, err = p.jsonMatch(v, what)
		}
		return err
	})
	return m, err
}

var jsonOps = map[string]string{"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}

func (p *yparser) jsonMatch(n *yaml.Node, what string) (*JSONMatch, error) {
	j := &JSONMatch{}
	if n.Kind == yaml.ScalarNode {
		v, err := p.plain(n, what)
		j.Path = v
		return j, err
	}
	err := p.fields(n, what+" json", []string{"path", "exists", "equals", "lt", "le", "gt", "ge", "eq", "ne"}, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "path":
			j.Path, err = p.plain(v, what)
		case "exists":
			var b bool
			if b, err = p.bool(v, what); err == nil && !b {
				err = p.errf(v, what, "exists: false is not supported: match what must be there")
			}
		case "equals":
			j.Equals, err = p.str(v, what)
		default:
			if j.Op != "" {
				return p.errf(v, what, "one comparison per json match")
			}
			var s string
			if s, err = p.plain(v, what); err == nil {
				j.Op = jsonOps[k]
				if j.Number, err = strconv.ParseFloat(s, 64); err != nil {
					err = p.errf(v, what, "%s %q: want a number", k, s)
				}
			}
		}
		return err
	})
	if err == nil && j.Path == "" {
		err = p.errf(n, what, "json: no path")
	}
	return j, err
}

var stepKeys = []string{"send", "expect", "think", "loop", "close", "go", "with", "as", "timeout", "capture", "measure", "label", "others", "optional"}

func (p *yparser) steps(n *yaml.Node, in string) ([]Step, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "flow", "want a list of steps (- send: ..., - expect: ...)")
	}
	var out []Step
	for _, sn := range n.Content {
		p.n++
		st, err := p.step(sn, fmt.Sprintf("step %d", p.n))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (p *yparser) step(n *yaml.Node, what string) (Step, error) {
	st := Step{Pos: p.pos(n)}
	if n.Kind != yaml.MappingNode {
		return st, p.errf(n, what, "want a mapping such as send: ..., expect: ..., think: ..., loop: ..., close: ... or go: ...")
	}
	// The kind first, so that errors name it.
	kind := ""
	for i := 0; i < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "send", "expect", "think", "loop", "close", "go":
			if kind != "" {
				return st, p.errf(n.Content[i], what, "a step is one of send, expect, think, loop, close or go: this one is both %s and %s", kind, k)
			}
			kind = k
		}
	}
	if kind == "" {
		return st, p.errf(n, what, "no step kind: want send, expect, think, loop, close or go")
	}
	what = fmt.Sprintf("%s (%s)", what, kind)
	sibling := map[string][]string{
		"send":   {"as"},
		"expect": {"timeout", "capture", "measure", "label", "others", "optional"},
		"go":     {"with"},
	}
	var ex *Expect
	err := p.fields(n, what, stepKeys, func(k string, v *yaml.Node) error {
		if k != kind {
			ok := false
			for _, s := range sibling[kind] {
				ok = ok || s == k
			}
			if !ok {
				return p.errf(v, what, "%s does not apply to a %s step (it takes %s)", k, kind, strings.Join(append([]string{kind}, sibling[kind]...), ", "))
			}
		}
		var err error
		switch k {
		case "send":
			st.Send, err = p.send(v, what)
		case "as":
			if st.Send == nil {
				st.Send = &Send{}
			}
			st.Send.As, err = p.plain(v, what)
		case "expect":
			if ex == nil {
				ex = &Expect{}
			}
			ex.Match, err = p.match(v, what)
		case "timeout", "capture", "measure", "label", "others", "optional":
			if ex == nil {
				ex = &Expect{}
			}
			err = p.expectField(ex, k, v, what)
		case "think":
			st.Think, err = p.think(v, what)
		case "loop":
			st.Loop, err = p.loop(v, what)
		case "close":
			st.Close, err = p.close(v, what)
		case "go":
			if st.Go == nil {
				st.Go = &GoStep{}
			}
			st.Go.Name, err = p.plain(v, what)
		case "with":
			if st.Go == nil {
				st.Go = &GoStep{}
			}
			if v.Kind != yaml.MappingNode {
				return p.errf(v, what, "with: want a mapping of arguments")
			}
			st.Go.Args = map[string]string{}
			for j := 0; j < len(v.Content); j += 2 {
				if st.Go.Args[v.Content[j].Value], err = p.plain(v.Content[j+1], what); err != nil {
					return err
				}
			}
		}
		return err
	})
	if err != nil {
		return st, err
	}
	if st.Send != nil && st.Send.Text == "" && st.Send.Hex == "" && st.Send.Base64 == "" && st.Send.File == "" {
		if sn := mapGet(n, "send"); sn == nil || sn.Kind != yaml.ScalarNode {
			return st, p.errf(n, what, "send: give text, hex, base64 or file")
		}
	}
	st.Expect = ex
	return st, nil
}

func (p *yparser) send(n *yaml.Node, what string) (*Send, error) {
	s := &Send{}
	if n.Kind == yaml.ScalarNode {
		s.Text = n.Value
		if s.Text == "" {
			return nil, p.errf(n, what, "an empty message: give text, or {hex: ...} for binary")
		}
		return s, nil
	}
	err := p.fields(n, what, []string{"text", "hex", "base64", "file"}, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "text":
			s.Text, err = p.str(v, what)
		case "hex":
			s.Hex, err = p.str(v, what)
		case "base64":
			s.Base64, err = p.plain(v, what)
		case "file":
			s.File, err = p.plain(v, what)
		}
		return err
	})
	return s, err
}

func (p *yparser) expectField(ex *Expect, k string, v *yaml.Node, what string) error {
	var err error
	switch k {
	case "timeout":
		ex.Timeout, err = p.dur(v, what)
	case "label":
		ex.Label, err = p.plain(v, what)
	case "others":
		ex.Others, err = p.plain(v, what)
	case "optional":
		ex.Optional, err = p.bool(v, what)
	case "measure":
		var name string
		var st *Stamp
		name, st, err = p.measure(v, what)
		if st != nil {
			ex.Stamp = st
		} else {
			ex.Measure = name
		}
	case "capture":
		if v.Kind != yaml.MappingNode {
			return p.errf(v, what, "capture: want a mapping of name: {json: PATH} or {regex: RE, group: N}")
		}
		for i := 0; i < len(v.Content); i += 2 {
			c := Capture{Name: v.Content[i].Value, Pos: p.pos(v.Content[i])}
			cn := v.Content[i+1]
			if cn.Kind == yaml.ScalarNode { // shorthand: a JSON path
				if c.JSON, err = p.plain(cn, what); err != nil {
					return err
				}
			} else if err = p.fields(cn, what+" capture "+c.Name, []string{"json", "regex", "group"}, func(k string, v *yaml.Node) error {
				var err error
				switch k {
				case "json":
					c.JSON, err = p.plain(v, what)
				case "regex":
					c.Regex, err = p.str(v, what)
				case "group":
					c.Group, err = p.int(v, what)
				}
				return err
			}); err != nil {
				return err
			}
			ex.Capture = append(ex.Capture, c)
		}
	}
	return err
}

func (p *yparser) think(n *yaml.Node, what string) (*Think, error) {
	t := &Think{}
	if n.Kind == yaml.ScalarNode {
		d, err := p.dur(n, what)
		t.Fixed = d
		return t, err
	}
	err := p.fields(n, what, []string{"fixed", "min", "max", "uniform", "mean", "exponential"}, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "fixed":
			t.Fixed, err = p.dur(v, what)
		case "min":
			t.Min, err = p.dur(v, what)
		case "max":
			t.Max, err = p.dur(v, what)
		case "mean", "exponential":
			t.Mean, err = p.dur(v, what)
		case "uniform":
			if v.Kind != yaml.SequenceNode || len(v.Content) != 2 {
				return p.errf(v, what, "uniform: want [min, max]")
			}
			if t.Min, err = p.dur(v.Content[0], what); err == nil {
				t.Max, err = p.dur(v.Content[1], what)
			}
		}
		return err
	})
	return t, err
}

func (p *yparser) loop(n *yaml.Node, what string) (*Loop, error) {
	l := &Loop{}
	err := p.fields(n, what, []string{"count", "total", "duration", "every", "rate", "per", "do"}, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "count":
			l.Count, err = p.int(v, what)
		case "total":
			var t int
			t, err = p.int(v, what)
			l.Total = int64(t)
		case "duration":
			l.Duration, err = p.dur(v, what)
		case "every":
			l.Every, err = p.dur(v, what)
		case "rate":
			l.Rate, err = p.rate(v, what)
		case "per":
			var s string
			if s, err = p.plain(v, what); err == nil {
				switch s {
				case "fleet":
					l.Fleet = true
				case "connection":
				default:
					err = p.errf(v, what, "per %q: want connection or fleet", s)
				}
			}
		case "do":
			l.Do, err = p.steps(v, what)
		}
		return err
	})
	if err == nil && mapGet(n, "do") == nil {
		err = p.errf(n, what, "loop: no do (the steps to repeat)")
	}
	return l, err
}

func (p *yparser) close(n *yaml.Node, what string) (*Close, error) {
	c := &Close{}
	if n.Kind == yaml.ScalarNode {
		if n.Value == "" || n.Tag == "!!null" || n.Value == "true" {
			return c, nil
		}
		code, err := p.int(n, what)
		c.Code = code
		return c, err
	}
	err := p.fields(n, what, []string{"code", "reason"}, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "code":
			c.Code, err = p.int(v, what)
		case "reason":
			c.Reason, err = p.plain(v, what)
		}
		return err
	})
	return c, err
}
