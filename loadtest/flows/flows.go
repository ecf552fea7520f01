// Package flows holds the flow files embedded in wsbench: one file per flow, NAME.yaml,
// runnable as `wsbench run -flow NAME` and listed by `wsbench flows` (the name and the
// file's first comment line). Users copy a file to start their own (`wsbench flows -show
// NAME`). Each file is parsed by loadtest.ParseFlow; this package only stores them, and any
// package may add its tests and testdata beside them (as an external test package:
// loadtest's own tests cannot import this one).
package flows

import (
	"embed"
	"io/fs"
	"sort"
	"strings"

	"github.com/wsfleet/wsfleet/loadtest"
)

//go:embed *.yaml
var files embed.FS

// Info names an embedded flow.
type Info struct {
	Name        string
	Description string // the file's first comment line
}

// List returns every embedded flow, sorted by name.
func List() []Info {
	ents, _ := fs.ReadDir(files, ".")
	var out []Info
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok {
			continue
		}
		src, _ := files.ReadFile(e.Name())
		out = append(out, Info{Name: name, Description: loadtest.FlowDescription(src)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Source returns the text of the embedded flow called name (without .yaml).
func Source(name string) ([]byte, bool) {
	if strings.ContainsAny(name, "/\\") {
		return nil, false
	}
	b, err := files.ReadFile(name + ".yaml")
	return b, err == nil
}
