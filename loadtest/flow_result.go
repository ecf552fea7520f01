package loadtest

// MetricSummary is one named latency metric of a flow.
type MetricSummary struct {
	Name string `json:"name"`
	// Stamp: measured from a time inside the message (server or sender clock against this
	// host's): only as right as the two clocks agree.
	Stamp   bool        `json:"stamp,omitempty"`
	Latency HistSummary `json:"latency"`
}

// LabelCount is a count by label: an expect's matches, timeouts(label), others(label) (what
// arrived while it waited), a rule's count, "unexpected", or "foreign" (messages without a
// valid stamp in the built-in scenarios). Count covers the measured window, Total the whole
// run; Example is the first such message (text, or hex for binary), cut to 64 bytes.
type LabelCount struct {
	Label   string `json:"label"`
	Count   int64  `json:"count"`
	Total   int64  `json:"total"`
	Example string `json:"example,omitempty"`
}

// Metric returns the flow metric called name (nil when there is none).
func (r *Result) Metric(name string) *MetricSummary {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			return &r.Metrics[i]
		}
	}
	return nil
}

// Count returns the count under label (zero when there is none).
func (r *Result) Count(label string) LabelCount {
	for _, c := range r.Counts {
		if c.Label == label {
			return c
		}
	}
	return LabelCount{Label: label}
}

// mergeFlowParts adds the shards' named metrics (histograms merged exactly) and counts.
func mergeFlowParts(m *Result, parts []*Result) error {
	byName := map[string][]HistSummary{}
	var order []string
	stamp := map[string]bool{}
	counts := map[string]*LabelCount{}
	var corder []string
	for _, p := range parts {
		for _, ms := range p.Metrics {
			if _, ok := byName[ms.Name]; !ok {
				order = append(order, ms.Name)
			}
			byName[ms.Name] = append(byName[ms.Name], ms.Latency)
			stamp[ms.Name] = stamp[ms.Name] || ms.Stamp
		}
		for _, c := range p.Counts {
			x, ok := counts[c.Label]
			if !ok {
				x = &LabelCount{Label: c.Label, Example: c.Example}
				counts[c.Label] = x
				corder = append(corder, c.Label)
			}
			x.Count += c.Count
			x.Total += c.Total
		}
	}
	for _, n := range order {
		h, err := mergeSummaries(byName[n])
		if err != nil {
			return err
		}
		m.Metrics = append(m.Metrics, MetricSummary{Name: n, Stamp: stamp[n], Latency: h})
	}
	for _, l := range corder {
		m.Counts = append(m.Counts, *counts[l])
	}
	return nil
}
