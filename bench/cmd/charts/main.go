// Command charts reads `go test -bench` output of the peer benchmarks (names like
// BenchmarkEcho/lib=gws/conns=1000/size=128) and writes, for the headline figures, one SVG
// bar chart each (the median of the runs per library), plus summary.md: every figure's
// median per library, one table per benchmark. No external services, no dependencies.
//
//	go run ./cmd/charts -o results/charts results/peers-*.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// series is one figure (benchmark without lib, and unit) with its values per library.
type series struct {
	bench, unit string
	vals        map[string][]float64
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// libOrder is the order of columns and bars; libraries not listed follow by name.
var libOrder = []string{"wsfleet-handler", "wsfleet-passive", "gorilla", "gws", "gobwas", "coder", "nbio"}

// headline lists the charts: a pattern for the benchmark name (without lib), the unit, a
// title (the matched name is added) and whether lower is better.
var headline = []struct {
	bench, unit, title string
	lowerBetter        bool
}{
	{`^Idle/conns=\d+$`, "B/conn-heap", "Idle memory per connection, heap+stack", true},
	{`^Idle/conns=\d+$`, "B/conn-rss", "Idle memory per connection, RSS", true},
	{`^MaxConns/conns=\d+$`, "s-establish", "Seconds to establish the connections (64 dialers)", true},
	{`^Handshake/dialers=1$`, "handshakes/s", "Handshakes/s, one dialer (dial+close)", false},
	{`^Handshake/dialers=64$`, "handshakes/s", "Handshakes/s, 64 dialers (dial+close)", false},
	{`^Handshake/dialers=1$`, "cpu-us/hs", "Client CPU per handshake (us), one dialer", true},
	{`^Echo/conns=1000/size=128$`, "cpu-s/1e6msg", "Client CPU-s per 1e6 echoes", true},
	{`^Echo/conns=100/size=4096$`, "cpu-s/1e6msg", "Client CPU-s per 1e6 echoes", true},
	{`^Echo/conns=1000/size=128$`, "allocs/msg", "Allocations per echo", true},
	{`^Push/conns=\d+$`, "cpu-s/1e6msg", "Client CPU-s per 1e6 pushes received", true},
	{`^Push/conns=\d+$`, "p99-us", "Push delivery latency p99 (us)", true},
	{`^Compress/mode=takeover/conns=\d+$`, "B/conn-heap", "Memory per connection, permessage-deflate, context takeover", true},
	{`^Compress/mode=takeover/conns=\d+$`, "B/conn-rss", "RSS per connection, permessage-deflate, context takeover", true},
	{`^TLSIdle/conns=\d+$`, "B/conn-heap", "Idle memory per wss connection, heap+stack", true},
	{`^TLSEcho/conns=1000/size=128$`, "cpu-s/1e6msg", "Client CPU-s per 1e6 wss echoes", true},
	{`^TLSPush/conns=\d+$`, "cpu-s/1e6msg", "Client CPU-s per 1e6 wss pushes received", true},
}

func main() {
	out := flag.String("o", "charts", "output folder")
	flag.Parse()
	all := map[string]*series{}
	var keys []string
	for _, path := range flag.Args() {
		if err := read(path, all, &keys); err != nil {
			fmt.Fprintln(os.Stderr, "charts:", err)
			os.Exit(1)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "charts:", err)
		os.Exit(1)
	}
	for _, h := range headline {
		re := regexp.MustCompile(h.bench)
		for _, k := range keys {
			s := all[k]
			if s.unit != h.unit || !re.MatchString(s.bench) {
				continue
			}
			name := strings.NewReplacer("/", "_", "=", "-").Replace(s.bench) + "_" + strings.NewReplacer("/", "-per-").Replace(h.unit) + ".svg"
			title := h.title + " — " + s.bench
			if err := os.WriteFile(filepath.Join(*out, name), []byte(svg(title, h.unit, h.lowerBetter, s)), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "charts:", err)
				os.Exit(1)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(*out, "summary.md"), []byte(summary(all, keys)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "charts:", err)
		os.Exit(1)
	}
}

// read adds the benchmark lines of one file.
func read(path string, all map[string]*series, keys *[]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(fields[0], "Benchmark"), "")
		var lib string
		var rest []string
		for _, part := range strings.Split(name, "/") {
			if v, ok := strings.CutPrefix(part, "lib="); ok {
				lib = v
			} else {
				rest = append(rest, part)
			}
		}
		if lib == "" {
			continue
		}
		bench := strings.Join(rest, "/")
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			unit := fields[i+1]
			k := bench + "|" + unit
			s := all[k]
			if s == nil {
				s = &series{bench: bench, unit: unit, vals: map[string][]float64{}}
				all[k] = s
				*keys = append(*keys, k)
			}
			s.vals[lib] = append(s.vals[lib], v)
		}
	}
	return sc.Err()
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// libs returns the libraries of s in display order.
func libs(s *series) []string {
	var out []string
	for _, l := range libOrder {
		if _, ok := s.vals[l]; ok {
			out = append(out, l)
		}
	}
	var extra []string
	for l := range s.vals {
		if !contains(libOrder, l) {
			extra = append(extra, l)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// format prints a value with about three significant digits.
func format(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "—"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// svg draws horizontal bars, one per library, wsfleet's in a darker colour.
func svg(title, unit string, lowerBetter bool, s *series) string {
	ls := libs(s)
	const barH, gap, left, width, right = 22, 8, 150, 420, 90
	top := 48
	h := top + len(ls)*(barH+gap) + 24
	max := 0.0
	for _, l := range ls {
		max = math.Max(max, median(s.vals[l]))
	}
	if max <= 0 {
		max = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">`+"\n", left+width+right, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	better := "higher is better"
	if lowerBetter {
		better = "lower is better"
	}
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%s — median of %d run(s); %s</text>`+"\n", html.EscapeString(unit), runs(s), better)
	for i, l := range ls {
		v := median(s.vals[l])
		y := top + i*(barH+gap)
		w := int(math.Round(v / max * width))
		fill := "#9bb7d4"
		if strings.HasPrefix(l, "wsfleet") {
			fill = "#1f5f99"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH-6, html.EscapeString(l))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, y, w, barH, fill)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+w+6, y+barH-6, format(v))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func runs(s *series) int {
	n := 0
	for _, v := range s.vals {
		if len(v) > n {
			n = len(v)
		}
	}
	return n
}

// summary is every figure's median per library, a table per top-level benchmark.
func summary(all map[string]*series, keys []string) string {
	groups := map[string][]*series{}
	var order []string
	for _, k := range keys {
		s := all[k]
		if s.unit == "ns/op" || s.unit == "MB/s" || s.unit == "conns" && !strings.HasPrefix(s.bench, "MaxConns") {
			continue
		}
		top := strings.SplitN(s.bench, "/", 2)[0]
		if _, ok := groups[top]; !ok {
			order = append(order, top)
		}
		groups[top] = append(groups[top], s)
	}
	var b strings.Builder
	b.WriteString("Medians per library over all runs in the input; — where a library has no result (skipped: not supported, or failed).\n")
	for _, top := range order {
		cols := map[string]bool{}
		for _, s := range groups[top] {
			for l := range s.vals {
				cols[l] = true
			}
		}
		var ls []string
		for _, l := range libOrder {
			if cols[l] {
				ls = append(ls, l)
			}
		}
		fmt.Fprintf(&b, "\n### %s\n\n| figure | %s |\n|---|%s\n", top, strings.Join(ls, " | "), strings.Repeat("---:|", len(ls)))
		for _, s := range groups[top] {
			fmt.Fprintf(&b, "| %s %s |", s.bench, s.unit)
			for _, l := range ls {
				if v, ok := s.vals[l]; ok {
					fmt.Fprintf(&b, " %s |", format(median(v)))
				} else {
					b.WriteString(" — |")
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
