package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// WriteHTML writes a self-contained page: the report, and inline SVG charts of throughput
// and latency over time and of the latency percentile curve. Nothing is fetched from
// elsewhere; the series are also embedded as JSON (id "wsbench-series").
func (r *Result) WriteHTML(w io.Writer) error {
	var text bytes.Buffer
	r.WriteText(&text)
	title := fmt.Sprintf("wsbench %s (%s) — %s", r.Scenario, r.modelName(), r.Start.Format("2006-01-02 15:04:05"))
	if r.Flow != "" {
		title = fmt.Sprintf("wsbench flow %s — %s", r.Flow, r.Start.Format("2006-01-02 15:04:05"))
	}

	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}" +
		"pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:13px}" +
		"h2{margin-top:1.6em;font-size:1.1em}svg{background:#fff;border:1px solid #ddd}" +
		".warn{color:#a00;font-weight:bold}</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n", html.EscapeString(title))
	if r.CPU.Saturated {
		fmt.Fprintf(&b, "<p class=\"warn\">The generator ran at %.0f%% CPU: its own queueing is part of these figures.</p>\n", r.CPU.Percent)
	}
	b.WriteString("<pre>")
	b.WriteString(html.EscapeString(strings.TrimSpace(text.String())))
	b.WriteString("</pre>\n")

	// Rates per second from the per-interval counts.
	var ts, sent, recv, errs, p50, p99, pmax, open, down []float64
	prevT := 0.0
	for _, p := range r.Series {
		dt := p.T - prevT
		prevT = p.T
		if dt <= 0.05 {
			continue
		}
		ts = append(ts, p.T)
		sent = append(sent, float64(p.Sent)/dt)
		recv = append(recv, float64(p.Received)/dt)
		errs = append(errs, float64(p.Errors)/dt)
		p50 = append(p50, p.P50Ms)
		p99 = append(p99, p.P99Ms)
		pmax = append(pmax, p.MaxMs)
		open = append(open, float64(p.Open))
		down = append(down, float64(p.Down))
	}
	outages := r.outages() // seconds with connections waiting for a redial, shaded in every chart
	sentName, recvName := "sent/s", "received/s"
	latName := "message latency"
	switch r.Scenario {
	case Connect:
		sentName, recvName, latName = "dials/s", "handshakes/s", "connect latency"
	case Push:
		sentName = ""
	}
	b.WriteString("<h2>Throughput over time</h2>\n")
	tp := []chartSeries{{recvName, "#1f77b4", recv, false}, {"errors/s", "#d62728", errs, false}}
	if sentName != "" {
		tp = append([]chartSeries{{sentName, "#2ca02c", sent, true}}, tp...)
	}
	b.WriteString(svgChart(ts, tp, false, "seconds since start", "per second", nil, r.WarmupS, outages))
	if r.Scenario != Connect {
		b.WriteString("<h2>Open connections over time</h2>\n")
		oc := []chartSeries{{"open", "#9467bd", open, false}}
		if r.Reconnect != nil {
			oc = append(oc, chartSeries{"redialing", "#d62728", down, false})
		}
		b.WriteString(svgChart(ts, oc, false, "seconds since start", "connections", nil, r.WarmupS, outages))
	}
	fmt.Fprintf(&b, "<h2>Latency over time (%s, per second)</h2>\n", latName)
	b.WriteString(svgChart(ts, []chartSeries{{"p50", "#2ca02c", p50, false}, {"p99", "#ff7f0e", p99, false}, {"max", "#d62728", pmax, false}}, true, "seconds since start", "ms", nil, r.WarmupS, outages))

	b.WriteString(metricsOverTime(r.Series, ts, r.WarmupS))

	lat := r.Latency
	if r.Scenario == Connect {
		lat = r.Connect
	}
	curves := []namedHist{{latName, lat}}
	if len(r.Metrics) > 0 {
		curves = curves[:0] // a flow: every named metric
		for _, m := range r.Metrics {
			curves = append(curves, namedHist{m.Name, m.Latency})
		}
	}
	b.WriteString(percentileChart(curves))
	js, err := json.Marshal(r.Series)
	if err != nil {
		return err
	}
	b.WriteString("<script type=\"application/json\" id=\"wsbench-series\">")
	b.WriteString(strings.ReplaceAll(string(js), "</", "<\\/"))
	b.WriteString("</script>\n</body></html>\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// WriteHTMLFile writes the HTML report to path.
func (r *Result) WriteHTMLFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type chartSeries struct {
	name, color string
	ys          []float64
	dashed      bool
}

type tick struct {
	x     float64
	label string
}

// svgChart draws lines over shared xs. logY uses a log10 axis (values <= 0 are left out).
// shadeTo, when positive, shades the warm-up [0, shadeTo); outages are shaded and labelled.
func svgChart(xs []float64, ss []chartSeries, logY bool, xlabel, ylabel string, xticks []tick, shadeTo float64, outages []span) string {
	const W, H, L, R, T, B = 960, 300, 70, 150, 15, 45
	pw, ph := float64(W-L-R), float64(H-T-B)
	if len(xs) == 0 {
		return "<p>(no data)</p>\n"
	}
	xmin, xmax := xs[0], xs[len(xs)-1]
	if shadeTo >= 0 {
		xmin = 0
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, y := range s.ys {
			if logY && y <= 0 {
				continue
			}
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
	}
	if math.IsInf(ymin, 0) {
		ymin, ymax = 0, 1
	}
	tr := func(y float64) float64 { return y }
	if logY {
		tr = math.Log10
		ymin = math.Pow(10, math.Floor(math.Log10(ymin)))
		ymax = math.Pow(10, math.Ceil(math.Log10(ymax)))
		if ymax <= ymin {
			ymax = ymin * 10
		}
	} else {
		ymin = 0
		if ymax <= 0 {
			ymax = 1
		}
		ymax = niceCeil(ymax)
	}
	px := func(x float64) float64 { return L + (x-xmin)/(xmax-xmin)*pw }
	py := func(y float64) float64 { return T + ph - (tr(y)-tr(ymin))/(tr(ymax)-tr(ymin))*ph }

	var b strings.Builder
	fmt.Fprintf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n", W, H, W, H)
	if shadeTo > 0 {
		fmt.Fprintf(&b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.0f\" fill=\"#eee\"/><text x=\"%.1f\" y=\"%d\" fill=\"#888\">warm-up</text>\n",
			px(0), T, math.Max(0, px(math.Min(shadeTo, xmax))-px(0)), ph, px(0)+3, T+12)
	}
	for _, o := range outages {
		x0, x1 := px(math.Max(o.from, xmin)), px(math.Min(o.to, xmax))
		fmt.Fprintf(&b, "<rect class=\"outage\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.0f\" fill=\"#fbdada\"/><text x=\"%.1f\" y=\"%d\" fill=\"#a33\">outage</text>\n",
			x0, T, math.Max(1, x1-x0), ph, x0+3, T+24)
	}
	// y grid
	if logY {
		for v := ymin; v <= ymax*1.0001; v *= 10 {
			y := py(v)
			fmt.Fprintf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L, y, L+pw, y, L-5, y+4, trimFloat(v))
		}
	} else {
		for i := 0; i <= 5; i++ {
			v := ymax * float64(i) / 5
			y := py(v)
			fmt.Fprintf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L, y, L+pw, y, L-5, y+4, trimFloat(v))
		}
	}
	// x ticks
	if xticks == nil {
		step := niceCeil((xmax - xmin) / 10)
		for v := math.Ceil(xmin/step) * step; v <= xmax+1e-9; v += step {
			xticks = append(xticks, tick{v, trimFloat(v)})
		}
	}
	for _, t := range xticks {
		x := px(t.x)
		fmt.Fprintf(&b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", x, T, x, T+ph, x, T+ph+15, html.EscapeString(t.label))
	}
	fmt.Fprintf(&b, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n", L+pw/2, H-8, html.EscapeString(xlabel))
	fmt.Fprintf(&b, "<text x=\"14\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\" transform=\"rotate(-90 14 %.0f)\">%s</text>\n", T+ph/2, T+ph/2, html.EscapeString(ylabel))
	fmt.Fprintf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#999\"/>\n", L, T, pw, ph)
	for i, s := range ss {
		var pts []string
		for j, y := range s.ys {
			if j >= len(xs) || (logY && y <= 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[j]), py(y)))
		}
		cls := strings.NewReplacer("/", "-", " ", "-").Replace(s.name)
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, "<polyline class=\"series-%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s points=\"%s\"/>\n", html.EscapeString(cls), s.color, dash, strings.Join(pts, " "))
		ly := T + 14 + 18*i
		fmt.Fprintf(&b, "<line x1=\"%.0f\" y1=\"%d\" x2=\"%.0f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/><text x=\"%.0f\" y=\"%d\">%s</text>\n",
			L+pw+10, ly, L+pw+30, ly, s.color, L+pw+35, ly+4, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%gk", v/1e3)
	}
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

type namedHist struct {
	name string
	h    HistSummary
}

var curveColours = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

// percentileChart draws each histogram's latency by percentile, on x = log10(1/(1-q)): 0 at
// p0, 1 at p90, 2 at p99...
func percentileChart(curves []namedHist) string {
	var xs []float64
	for x := 0.0; x <= 5.0001; x += 0.05 {
		xs = append(xs, x)
	}
	var series []chartSeries
	var names []string
	var total int64
	for i, c := range curves {
		h, err := c.h.Histogram()
		if err != nil || h.TotalCount() == 0 {
			continue
		}
		var ys []float64
		for _, x := range xs {
			ys = append(ys, us2ms(h.ValueAtPercentile(100*(1-math.Pow(10, -x)))))
		}
		series = append(series, chartSeries{c.name, curveColours[i%len(curveColours)], ys, false})
		names = append(names, c.name)
		total += h.TotalCount()
	}
	if len(series) == 0 {
		return ""
	}
	ticks := []tick{{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}, {5, "99.999%"}}
	return fmt.Sprintf("<h2>Latency by percentile (%s, measured window, %s samples)</h2>\n", html.EscapeString(strings.Join(names, ", ")), fmtCount(total)) +
		svgChart(xs, series, true, "percentile", "ms", ticks, -1, nil)
}

// metricsOverTime charts each flow metric's p99 per second (nothing for one metric or none:
// the latency chart above shows the first).
func metricsOverTime(series []Point, ts []float64, warmup float64) string {
	var names []string
	for _, p := range series {
		for _, m := range p.Metrics {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
	}
	if len(names) < 2 {
		return ""
	}
	var cs []chartSeries
	for i, n := range names {
		var ys []float64
		prevT := 0.0
		for _, p := range series {
			dt := p.T - prevT
			prevT = p.T
			if dt <= 0.05 {
				continue // the same points as ts
			}
			v := 0.0
			for _, m := range p.Metrics {
				if m.Name == n {
					v = m.P99Ms
				}
			}
			ys = append(ys, v)
		}
		cs = append(cs, chartSeries{n + " p99", curveColours[i%len(curveColours)], ys, false})
	}
	return "<h2>Flow metrics over time (p99 per second)</h2>\n" + svgChart(ts, cs, true, "seconds since start", "ms", nil, warmup, nil)
}
