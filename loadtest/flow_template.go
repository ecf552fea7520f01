package loadtest

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A template is compiled once into parts; rendering appends to a connection's own buffer, so
// a message costs no allocation once that buffer has grown to size.
type tmpl struct {
	parts  []tpart
	binary bool
	// static is the whole message when it has no per-connection part (rendered at compile).
	static []byte
	// dynamic says whether a part changes from message to message (seq, time, random):
	// matchers refuse those that cannot be predicted.
	timeDependent bool
}

type tpartKind uint8

const (
	tLit tpartKind = iota
	tID
	tSeq
	tNowMs
	tNowUs
	tNowNs
	tUUID
	tRand
	tVar  // captured variable (slot a)
	tData // feeder column (index a)
	// binary only
	tU8
	tU16
	tU32
	tLenStart // b = width: 0 MQTT varint, 2, 4
	tLenEnd
)

type tpart struct {
	kind tpartKind
	lit  []byte
	a, b int64
	// num is the operand of u8/u16/u32: a part of kind tID, tSeq, tVar, tData or tLit (a
	// number in a).
	num *tpart
}

// scope is what a template may name, as it is compiled.
type scope struct {
	params map[string]string
	dataAs string
	cols   map[string]int // feeder columns
	vars   map[string]int // capture slots known so far
}

func (sc *scope) lookup(name string) (tpart, error) {
	switch name {
	case "id":
		return tpart{kind: tID}, nil
	case "seq":
		return tpart{kind: tSeq}, nil
	case "now_ms":
		return tpart{kind: tNowMs}, nil
	case "now_us":
		return tpart{kind: tNowUs}, nil
	case "now_ns":
		return tpart{kind: tNowNs}, nil
	case "uuid":
		return tpart{kind: tUUID}, nil
	}
	if v, ok := sc.params[name]; ok {
		// A data column of the parameter's name gives it per connection: credentials
		// (login, password, token) from a CSV without editing the flow.
		if i, ok := sc.cols[name]; ok {
			return tpart{kind: tData, a: int64(i)}, nil
		}
		return tpart{kind: tLit, lit: []byte(v)}, nil
	}
	if sc.dataAs != "" && strings.HasPrefix(name, sc.dataAs+".") {
		col := name[len(sc.dataAs)+1:]
		if i, ok := sc.cols[col]; ok {
			return tpart{kind: tData, a: int64(i)}, nil
		}
		return tpart{}, fmt.Errorf("unknown variable {{%s}}: the data file has no column %q (columns: %s)", name, col, strings.Join(sortedKeys(sc.cols), ", "))
	}
	if i, ok := sc.vars[name]; ok {
		return tpart{kind: tVar, a: int64(i)}, nil
	}
	return tpart{}, fmt.Errorf("unknown variable {{%s}}: not a built-in (id, seq, now_ms, now_us, now_ns, uuid, rand A B), a parameter%s or a variable captured by an earlier step",
		name, map[bool]string{true: ", a column of " + sc.dataAs + ".*", false: ""}[sc.dataAs != ""])
}

// intArg reads a field's integer argument: a number, or a parameter holding one (so that
// {{rand 1 rooms}} follows -set rooms=N).
func (sc *scope) intArg(s string) (int64, error) {
	if v, ok := sc.params[s]; ok {
		s = v
	}
	return strconv.ParseInt(s, 10, 64)
}

// errTemplate marks template errors (errors.Is).
var errTemplate = errors.New("template")

// compileText compiles a text template: literal text with {{...}} fields.
func compileText(src string, sc *scope) (*tmpl, error) {
	t := &tmpl{}
	rest := src
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.addLit([]byte(rest))
			break
		}
		t.addLit([]byte(rest[:i]))
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("%w: %q has {{ without }}", errTemplate, src)
		}
		expr := strings.TrimSpace(rest[i+2 : i+j])
		p, err := compileExpr(expr, sc, false)
		if err != nil {
			return nil, err
		}
		t.add(p)
		rest = rest[i+j+2:]
	}
	t.finish()
	return t, nil
}

// compileHex compiles a binary template: hex bytes (spaces allowed), "quoted text", and
// {{...}} fields, among them u8/u16/u32 NUMBER (big endian) and length groups varlen (MQTT's
// remaining length), len16 and len32, each closed by {{end}}.
func compileHex(src string, sc *scope) (*tmpl, error) {
	t := &tmpl{binary: true}
	depth := 0
	rest := src
	for rest != "" {
		c := rest[0]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':':
			rest = rest[1:]
		case c == '"':
			j := strings.IndexByte(rest[1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("%w: binary template %q: unterminated \"text\"", errTemplate, src)
			}
			t.addLit([]byte(rest[1 : 1+j]))
			rest = rest[j+2:]
		case strings.HasPrefix(rest, "{{"):
			j := strings.Index(rest, "}}")
			if j < 0 {
				return nil, fmt.Errorf("%w: binary template %q has {{ without }}", errTemplate, src)
			}
			expr := strings.TrimSpace(rest[2:j])
			rest = rest[j+2:]
			p, err := compileExpr(expr, sc, true)
			if err != nil {
				return nil, err
			}
			switch p.kind {
			case tLenStart:
				depth++
				if depth > maxLenDepth {
					return nil, fmt.Errorf("%w: binary template %q nests length groups more than %d deep", errTemplate, src, maxLenDepth)
				}
			case tLenEnd:
				if depth == 0 {
					return nil, fmt.Errorf("%w: binary template %q: {{end}} without an open varlen/len16/len32", errTemplate, src)
				}
				depth--
			}
			t.add(p)
		default:
			if len(rest) < 2 {
				return nil, fmt.Errorf("%w: binary template %q: odd number of hex digits", errTemplate, src)
			}
			b, err := hex.DecodeString(rest[:2])
			if err != nil {
				return nil, fmt.Errorf("%w: binary template %q: %q is not a hex byte", errTemplate, src, rest[:2])
			}
			t.addLit(b)
			rest = rest[2:]
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%w: binary template %q: a length group lacks its {{end}}", errTemplate, src)
	}
	t.finish()
	return t, nil
}

const maxLenDepth = 4

func compileExpr(expr string, sc *scope, bin bool) (tpart, error) {
	f := strings.Fields(expr)
	if len(f) == 0 {
		return tpart{}, fmt.Errorf("%w: empty {{}}", errTemplate)
	}
	switch f[0] {
	case "rand":
		if len(f) != 3 {
			return tpart{}, fmt.Errorf("%w: {{%s}}: want {{rand MIN MAX}}", errTemplate, expr)
		}
		a, err1 := sc.intArg(f[1])
		b, err2 := sc.intArg(f[2])
		if err1 != nil || err2 != nil || b < a {
			return tpart{}, fmt.Errorf("%w: {{%s}}: want integers MIN <= MAX (numbers, or parameters holding one)", errTemplate, expr)
		}
		return tpart{kind: tRand, a: a, b: b}, nil
	case "varlen", "len16", "len32", "end", "u8", "u16", "u32":
		if !bin {
			return tpart{}, fmt.Errorf("%w: {{%s}} belongs in binary (hex) templates", errTemplate, expr)
		}
		switch f[0] {
		case "varlen":
			return tpart{kind: tLenStart, b: 0}, nil
		case "len16":
			return tpart{kind: tLenStart, b: 2}, nil
		case "len32":
			return tpart{kind: tLenStart, b: 4}, nil
		case "end":
			return tpart{kind: tLenEnd}, nil
		}
		if len(f) != 2 {
			return tpart{}, fmt.Errorf("%w: {{%s}}: want {{%s NUMBER}} (id, seq, a variable or a number)", errTemplate, expr, f[0])
		}
		kind := map[string]tpartKind{"u8": tU8, "u16": tU16, "u32": tU32}[f[0]]
		var num tpart
		if n, err := strconv.ParseInt(f[1], 0, 64); err == nil {
			num = tpart{kind: tLit, a: n}
		} else {
			p, err := sc.lookup(f[1])
			if err != nil {
				return tpart{}, fmt.Errorf("%w: {{%s}}: %v", errTemplate, expr, err)
			}
			if p.kind == tLit { // a parameter: its value must be a number
				n, err := strconv.ParseInt(string(p.lit), 0, 64)
				if err != nil {
					return tpart{}, fmt.Errorf("%w: {{%s}}: parameter %s=%q is not a number", errTemplate, expr, f[1], p.lit)
				}
				p = tpart{kind: tLit, a: n}
			}
			num = p
		}
		return tpart{kind: kind, num: &num}, nil
	}
	if len(f) != 1 {
		return tpart{}, fmt.Errorf("%w: {{%s}}: want one name", errTemplate, expr)
	}
	p, err := sc.lookup(f[0])
	if err != nil {
		return tpart{}, fmt.Errorf("%w: %v", errTemplate, err)
	}
	return p, nil
}

func (t *tmpl) addLit(b []byte) {
	if len(b) == 0 {
		return
	}
	if n := len(t.parts); n > 0 && t.parts[n-1].kind == tLit && t.parts[n-1].num == nil {
		t.parts[n-1].lit = append(t.parts[n-1].lit, b...)
		return
	}
	t.parts = append(t.parts, tpart{kind: tLit, lit: append([]byte(nil), b...)})
}

func (t *tmpl) add(p tpart) {
	if p.kind == tLit {
		t.addLit(p.lit)
		return
	}
	switch p.kind {
	case tNowMs, tNowUs, tNowNs, tUUID, tRand:
		t.timeDependent = true
	}
	t.parts = append(t.parts, p)
}

func (t *tmpl) finish() {
	for _, p := range t.parts {
		if p.kind != tLit {
			return
		}
	}
	t.static = t.render(nil, nil, 0)
	if t.static == nil {
		t.static = []byte{}
	}
}

// usesSeq reports whether the template names {{seq}} (a correlated expect).
func (t *tmpl) usesSeq() bool {
	for _, p := range t.parts {
		if p.kind == tSeq || (p.num != nil && p.num.kind == tSeq) {
			return true
		}
	}
	return false
}

// render appends the template for session s (nil only for static templates) and sequence
// number seq.
func (t *tmpl) render(dst []byte, s *Session, seq uint64) []byte {
	if t.static != nil {
		return append(dst, t.static...)
	}
	var groups [maxLenDepth]int
	depth := 0
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case tLit:
			dst = append(dst, p.lit...)
		case tID:
			dst = strconv.AppendInt(dst, int64(s.id), 10)
		case tSeq:
			dst = strconv.AppendUint(dst, seq, 10)
		case tNowMs:
			dst = strconv.AppendInt(dst, time.Now().UnixMilli(), 10)
		case tNowUs:
			dst = strconv.AppendInt(dst, time.Now().UnixMicro(), 10)
		case tNowNs:
			dst = strconv.AppendInt(dst, time.Now().UnixNano(), 10)
		case tUUID:
			dst = appendUUID(dst, s.rand(), s.rand())
		case tRand:
			dst = strconv.AppendInt(dst, p.a+int64(s.rand()%uint64(p.b-p.a+1)), 10)
		case tVar:
			dst = append(dst, s.vars[p.a]...)
		case tData:
			dst = append(dst, s.row[p.a]...)
		case tU8:
			dst = append(dst, byte(p.num.value(s, seq)))
		case tU16:
			dst = binary.BigEndian.AppendUint16(dst, uint16(p.num.value(s, seq)))
		case tU32:
			dst = binary.BigEndian.AppendUint32(dst, uint32(p.num.value(s, seq)))
		case tLenStart:
			groups[depth] = len(dst)
			depth++
			w := int(p.b)
			if w == 0 {
				w = 4 // the longest varint; the body moves back once its length is known
			}
			for range w {
				dst = append(dst, 0)
			}
		case tLenEnd:
			depth--
			dst = closeLen(dst, groups[depth], t.groupWidth(i))
		}
	}
	return dst
}

// groupWidth finds the width of the length group that the tLenEnd at index end closes.
func (t *tmpl) groupWidth(end int) int {
	d := 0
	for i := end - 1; i >= 0; i-- {
		switch t.parts[i].kind {
		case tLenEnd:
			d++
		case tLenStart:
			if d == 0 {
				return int(t.parts[i].b)
			}
			d--
		}
	}
	return 0
}

// closeLen writes the length of the group that starts at start (its reserved bytes first).
func closeLen(dst []byte, start, width int) []byte {
	switch width {
	case 2:
		binary.BigEndian.PutUint16(dst[start:], uint16(len(dst)-start-2))
		return dst
	case 4:
		binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
		return dst
	}
	n := len(dst) - start - 4
	var v [4]byte
	k := 0
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		v[k] = b
		k++
		if n == 0 || k == 4 {
			break
		}
	}
	copy(dst[start:], v[:k])
	copy(dst[start+k:], dst[start+4:])
	return dst[:len(dst)-(4-k)]
}

func (p *tpart) value(s *Session, seq uint64) int64 {
	switch p.kind {
	case tID:
		return int64(s.id)
	case tSeq:
		return int64(seq)
	case tVar:
		return atoi(s.vars[p.a])
	case tData:
		return atoi(s.row[p.a])
	}
	return p.a
}

func atoi(b []byte) int64 {
	var n int64
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

const hexDigits = "0123456789abcdef"

// appendUUID writes a random (version 4) UUID.
func appendUUID(dst []byte, a, b uint64) []byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], a)
	binary.BigEndian.PutUint64(u[8:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// substParams replaces {{name}} for every parameter in a plain value (a duration, a count,
// a URL) and reports any other {{...}} left, which such values cannot hold.
func substParams(s string, params map[string]string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("%q has {{ without }}", s)
		}
		name := strings.TrimSpace(rest[i+2 : i+j])
		v, ok := params[name]
		if !ok {
			return "", fmt.Errorf("unknown parameter {{%s}} (declared: %s)", name, strings.Join(sortedKeys(params), ", "))
		}
		b.WriteString(rest[:i])
		b.WriteString(v)
		rest = rest[i+j+2:]
	}
}
