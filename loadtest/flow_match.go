package loadtest

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unsafe"

	"github.com/buger/jsonparser"

	"github.com/wsfleet/wsfleet/engine"
)

// matcher is a compiled Match. Its templates are rendered against the session and the
// sequence number of the step that waits (so that several correlated expects can be
// outstanding at once), into the session's scratch buffer: no allocation per message.
type matcher struct {
	typ                      int8 // 0 any, 1 text, 2 binary
	equals, prefix, contains *tmpl
	hexPrefix                *tmpl
	re                       *regexp.Regexp
	json                     *jsonTest
	fn                       GoMatcher
	hasTemplates, correlated bool
}

type jsonTest struct {
	keys   []string
	equals *tmpl
	op     string
	num    float64
}

func compileMatch(m *Match, sc *scope) (*matcher, error) {
	c := &matcher{}
	set := 0
	tm := func(src string, hexT bool, what string) (*tmpl, error) {
		if src == "" {
			return nil, nil
		}
		set++
		var t *tmpl
		var err error
		if hexT {
			t, err = compileHex(src, sc)
		} else {
			t, err = compileText(src, sc)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if t.timeDependent {
			return nil, fmt.Errorf("%s %q: a matcher cannot name now_*, uuid or rand (they differ when the reply is tested)", what, src)
		}
		if t.static == nil {
			c.hasTemplates = true
		}
		if t.usesSeq() {
			c.correlated = true
		}
		return t, nil
	}
	var err error
	if c.equals, err = tm(m.Equals, false, "equals"); err != nil {
		return nil, err
	}
	if c.prefix, err = tm(m.Prefix, false, "prefix"); err != nil {
		return nil, err
	}
	if c.contains, err = tm(m.Contains, false, "contains"); err != nil {
		return nil, err
	}
	if c.hexPrefix, err = tm(m.HexPrefix, true, "hex_prefix"); err != nil {
		return nil, err
	}
	if m.Regex != "" {
		set++
		if c.re, err = regexp.Compile(m.Regex); err != nil {
			return nil, fmt.Errorf("regex %q does not compile: %v", m.Regex, err)
		}
	}
	switch m.Type {
	case "":
	case "text":
		c.typ, set = 1, set+1
	case "binary":
		c.typ, set = 2, set+1
	default:
		return nil, fmt.Errorf("type %q: want text or binary", m.Type)
	}
	if j := m.JSON; j != nil {
		set++
		keys, err := parseJSONPath(j.Path)
		if err != nil {
			return nil, err
		}
		jt := &jsonTest{keys: keys, op: j.Op, num: j.Number}
		if j.Equals != "" {
			if jt.equals, err = tm(j.Equals, false, "json equals"); err != nil {
				return nil, err
			}
		}
		switch j.Op {
		case "", "<", "<=", ">", ">=", "==", "!=":
		default:
			return nil, fmt.Errorf("json %q: comparison %q: want <, <=, >, >=, == or !=", j.Path, j.Op)
		}
		c.json = jt
	}
	if m.Go != "" {
		set++
		fn, ok := lookupMatcher(m.Go)
		if !ok {
			return nil, fmt.Errorf("go matcher %q is not registered (registered: %s)", m.Go, strings.Join(registeredMatchers(), ", "))
		}
		c.fn = fn
	}
	if m.Func != nil {
		set++
		c.fn = m.Func
	}
	if set == 0 {
		return nil, fmt.Errorf("empty match: give equals, prefix, contains, regex, json, hex_prefix, type or go")
	}
	return c, nil
}

// match tests one message.
func (c *matcher) match(s *Session, seq uint64, typ engine.MessageType, data []byte) bool {
	switch c.typ {
	case 1:
		if typ != engine.Text {
			return false
		}
	case 2:
		if typ != engine.Binary {
			return false
		}
	}
	if c.prefix != nil && !bytes.HasPrefix(data, s.renderScratch(c.prefix, seq)) {
		return false
	}
	if c.hexPrefix != nil && !bytes.HasPrefix(data, s.renderScratch(c.hexPrefix, seq)) {
		return false
	}
	if c.equals != nil && !bytes.Equal(data, s.renderScratch(c.equals, seq)) {
		return false
	}
	if c.contains != nil && !bytes.Contains(data, s.renderScratch(c.contains, seq)) {
		return false
	}
	if c.re != nil && !c.re.Match(data) {
		return false
	}
	if c.json != nil && !c.json.match(s, seq, data) {
		return false
	}
	if c.fn != nil && !c.fn(s, typ, data) {
		return false
	}
	return true
}

func (j *jsonTest) match(s *Session, seq uint64, data []byte) bool {
	v, vt, _, err := jsonparser.Get(jsonStart(data), j.keys...)
	if err != nil || vt == jsonparser.NotExist {
		return false
	}
	if j.equals != nil && !bytes.Equal(v, s.renderScratch(j.equals, seq)) {
		return false
	}
	if j.op != "" {
		if vt != jsonparser.Number {
			return false
		}
		f, ok := parseFloatBytes(v)
		if !ok {
			return false
		}
		switch j.op {
		case "<":
			return f < j.num
		case "<=":
			return f <= j.num
		case ">":
			return f > j.num
		case ">=":
			return f >= j.num
		case "==":
			return f == j.num
		case "!=":
			return f != j.num
		}
	}
	return true
}

// jsonStart skips text before the first '{' or '[' (Socket.IO's 42[...], Engine.IO's 0{...}).
func jsonStart(data []byte) []byte {
	for i, c := range data {
		if c == '{' || c == '[' {
			return data[i:]
		}
	}
	return nil
}

// parseFloatBytes parses a JSON number without copying it to a string.
func parseFloatBytes(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	return f, err == nil
}

// parseJSONPath reads a path such as a.b[2].c or [1].ts into jsonparser keys. A path that
// cannot match any document (empty segment, bad index) is an error.
func parseJSONPath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("json path is empty")
	}
	var keys []string
	rest := p
	for rest != "" {
		switch {
		case rest[0] == '[':
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return nil, fmt.Errorf("json path %q: [ without ]", p)
			}
			n, err := strconv.Atoi(rest[1:j])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("json path %q: index %q is not a non-negative integer, so the path can never match", p, rest[1:j])
			}
			keys = append(keys, rest[:j+1])
			rest = rest[j+1:]
			if rest != "" && rest[0] == '.' {
				rest = rest[1:]
				if rest == "" || rest[0] == '.' || rest[0] == '[' {
					return nil, fmt.Errorf("json path %q: empty name after '.', so the path can never match", p)
				}
			}
		default:
			j := strings.IndexAny(rest, ".[")
			if j < 0 {
				j = len(rest)
			}
			if j == 0 {
				return nil, fmt.Errorf("json path %q: empty name, so the path can never match", p)
			}
			keys = append(keys, rest[:j])
			rest = rest[j:]
			if rest != "" && rest[0] == '.' {
				rest = rest[1:]
				if rest == "" || rest[0] == '.' || rest[0] == '[' {
					return nil, fmt.Errorf("json path %q: empty name after '.', so the path can never match", p)
				}
			}
		}
	}
	return keys, nil
}

// capture is a compiled Capture.
type capture struct {
	slot  int
	keys  []string
	re    *regexp.Regexp
	group int
}

func compileCapture(c *Capture, slot int) (*capture, error) {
	out := &capture{slot: slot, group: c.Group}
	switch {
	case c.JSON != "" && c.Regex != "":
		return nil, fmt.Errorf("capture %s: give json or regex, not both", c.Name)
	case c.JSON != "":
		keys, err := parseJSONPath(c.JSON)
		if err != nil {
			return nil, fmt.Errorf("capture %s: %w", c.Name, err)
		}
		out.keys = keys
	case c.Regex != "":
		re, err := regexp.Compile(c.Regex)
		if err != nil {
			return nil, fmt.Errorf("capture %s: regex %q does not compile: %v", c.Name, c.Regex, err)
		}
		if out.group == 0 && re.NumSubexp() >= 1 {
			out.group = 1
		}
		if out.group > re.NumSubexp() {
			return nil, fmt.Errorf("capture %s: regex %q has %d groups, not group %d", c.Name, c.Regex, re.NumSubexp(), out.group)
		}
		out.re = re
	default:
		return nil, fmt.Errorf("capture %s: give json (a path) or regex", c.Name)
	}
	return out, nil
}

// take stores the captured value in the session's slot; it reports whether one was found.
func (c *capture) take(s *Session, data []byte) bool {
	var v []byte
	if c.keys != nil {
		val, vt, _, err := jsonparser.Get(jsonStart(data), c.keys...)
		if err != nil || vt == jsonparser.NotExist {
			return false
		}
		v = val
	} else {
		loc := c.re.FindSubmatchIndex(data)
		if loc == nil || loc[2*c.group] < 0 {
			return false
		}
		v = data[loc[2*c.group]:loc[2*c.group+1]]
	}
	s.vars[c.slot] = append(s.vars[c.slot][:0], v...)
	return true
}

// stamp is a compiled Stamp: where the time is, and its unit in ns.
type stamp struct {
	metric int
	keys   []string
	re     *regexp.Regexp
	unitNs int64
}

func compileStamp(st *Stamp, metric int) (*stamp, error) {
	out := &stamp{metric: metric}
	switch st.Unit {
	case "s":
		out.unitNs = 1e9
	case "ms", "":
		out.unitNs = 1e6
	case "us", "µs":
		out.unitNs = 1e3
	case "ns":
		out.unitNs = 1
	default:
		return nil, fmt.Errorf("stamp %s: unit %q: want s, ms, us or ns", st.Name, st.Unit)
	}
	switch {
	case st.JSON != "" && st.Regex == "":
		keys, err := parseJSONPath(st.JSON)
		if err != nil {
			return nil, fmt.Errorf("stamp %s: %w", st.Name, err)
		}
		out.keys = keys
	case st.Regex != "" && st.JSON == "":
		re, err := regexp.Compile(st.Regex)
		if err != nil {
			return nil, fmt.Errorf("stamp %s: regex %q does not compile: %v", st.Name, st.Regex, err)
		}
		if re.NumSubexp() < 1 {
			return nil, fmt.Errorf("stamp %s: regex %q needs a group around the time", st.Name, st.Regex)
		}
		out.re = re
	default:
		return nil, fmt.Errorf("stamp %s: give json (a path) or regex (with a group), one of them", st.Name)
	}
	return out, nil
}

// read returns the message's time in Unix ns.
func (st *stamp) read(data []byte) (int64, bool) {
	var v []byte
	if st.keys != nil {
		val, vt, _, err := jsonparser.Get(jsonStart(data), st.keys...)
		if err != nil || (vt != jsonparser.Number && vt != jsonparser.String) {
			return 0, false
		}
		v = val
	} else {
		loc := st.re.FindSubmatchIndex(data)
		if loc == nil || loc[2] < 0 {
			return 0, false
		}
		v = data[loc[2]:loc[3]]
	}
	f, ok := parseFloatBytes(v)
	if !ok || f <= 0 {
		return 0, false
	}
	return int64(f * float64(st.unitNs)), true
}
