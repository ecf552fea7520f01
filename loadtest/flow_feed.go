package loadtest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// feed is a CSV data feeder: a header row naming the columns, then one row per connection
// (id mod rows, or row id exactly when unique).
type feed struct {
	cols   map[string]int
	rows   [][][]byte
	unique bool
	file   string
}

func loadFeed(path string, unique bool) (*feed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty: want a header row naming the columns", path)
	}
	if err != nil {
		return nil, csvErr(path, len(header), err)
	}
	fd := &feed{cols: map[string]int{}, unique: unique, file: path}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" || strings.ContainsAny(h, " {}.") {
			return nil, fmt.Errorf("%s: column %d of the header row is %q: want a plain name", path, i+1, h)
		}
		if _, dup := fd.cols[h]; dup {
			return nil, fmt.Errorf("%s: column %q appears twice in the header row", path, h)
		}
		fd.cols[h] = i
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(path, len(header), err)
		}
		row := make([][]byte, len(rec))
		for i, v := range rec {
			row[i] = []byte(v)
		}
		fd.rows = append(fd.rows, row)
	}
	if len(fd.rows) == 0 {
		return nil, fmt.Errorf("%s: a header row and no data rows", path)
	}
	return fd, nil
}

// csvErr names the file and line of a CSV error (file:line: cause, as compilers do), and
// says what a row with the wrong number of fields was held to.
func csvErr(path string, cols int, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, err)
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return fmt.Errorf("%s:%d: %w: want %d, as the header row has", path, pe.Line, pe.Err, cols)
	}
	return fmt.Errorf("%s:%d:%d: %w", path, pe.Line, pe.Column, pe.Err)
}

// row returns connection id's row.
func (f *feed) row(id int) ([][]byte, error) {
	if f.unique {
		if id >= len(f.rows) {
			return nil, fmt.Errorf("data %s: unique rows: connection %d has no row (%d rows)", f.file, id, len(f.rows))
		}
		return f.rows[id], nil
	}
	return f.rows[id%len(f.rows)], nil
}

// check fails before any dial when unique rows cannot cover every connection.
func (f *feed) check(conns int) error {
	if f.unique && conns > len(f.rows) {
		return fmt.Errorf("data %s: unique rows: %d connections need %d rows, the file has %d", f.file, conns, conns, len(f.rows))
	}
	return nil
}
