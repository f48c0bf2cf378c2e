package inventory

import (
	"fmt"
	"slices"
	"strings"
)

// columns says which column of the export each field is read from.
type columns struct {
	index  map[string]int    // field -> column
	header map[string]string // field -> header as written
	// Ignored are the headers no field is read from (a CMMS export has
	// many: price, department, ...).
	Ignored []string
}

// requiredFields must each have a column or a default.
var requiredFields = []string{FieldAssetID, FieldLocation}

// resolveColumns finds each field's column by its header. A header two
// fields claim, a field two columns claim, and a missing required column
// are reported once, at the header row.
func resolveColumns(t *Table, m *Mapping, ps *problems) (columns, bool) {
	c := columns{index: map[string]int{}, header: map[string]string{}}
	ok := true
	fields := fieldNames()
	claimed := map[string][]int{} // field -> columns
	for i, h := range t.Header {
		n := normHeader(h)
		if n == "" {
			continue
		}
		var by []string
		for _, f := range fields {
			if slices.Contains(m.headers(f), n) {
				by = append(by, f)
			}
		}
		switch len(by) {
		case 0:
			c.Ignored = append(c.Ignored, h)
		case 1:
			claimed[by[0]] = append(claimed[by[0]], i)
		default:
			ps.add(t.HeaderRow, h, "the header names %s: name it under columns: for one of them in the mapping file", strings.Join(by, " and "))
			ok = false
		}
	}
	for _, f := range fields {
		cols := claimed[f]
		switch {
		case len(cols) == 1:
			c.index[f], c.header[f] = cols[0], t.Header[cols[0]]
		case len(cols) > 1:
			var names []string
			for _, i := range cols {
				names = append(names, fmt.Sprintf("%q", t.Header[i]))
			}
			ps.add(t.HeaderRow, "", "columns %s are all %s: name the one to use under columns: %s: [...] in the mapping file", strings.Join(names, ", "), f, f)
			ok = false
		}
	}
	for _, f := range requiredFields {
		if _, has := c.index[f]; !has && len(claimed[f]) == 0 && m.defaultValue(f) == "" {
			ps.add(t.HeaderRow, "", "missing column %s: %s", f, acceptedHeaders(m, f))
			ok = false
		}
	}
	_, profile := c.index[FieldProfile]
	_, vendor := c.index[FieldVendor]
	_, model := c.index[FieldModel]
	if !profile && !(vendor && model) && m.defaultValue(FieldProfile) == "" {
		ps.add(t.HeaderRow, "", "missing column profile, or columns vendor and model (mapped to profiles under profiles: in the mapping file): %s",
			acceptedHeaders(m, FieldProfile))
		ok = false
	}
	return c, ok
}

// acceptedHeaders tells which headers a field is read from.
func acceptedHeaders(m *Mapping, f string) string {
	names := defaultHeaders[f]
	if m != nil && len(m.Columns[f]) > 0 {
		names = m.Columns[f]
	}
	return fmt.Sprintf("name it %s, or map the export's column under columns: %s: [...] in the mapping file", quoteList(names), f)
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) > 1 {
		return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
	}
	return strings.Join(q, "")
}

// cell is one field's value in a row: from its column, else the mapping's
// default. column is the header, for problems ("" for a default).
func (c columns) cell(m *Mapping, r Row, field string) (value, column string) {
	if i, ok := c.index[field]; ok {
		if v := r.Cells[i]; v != "" {
			return v, c.header[field]
		}
		return m.defaultValue(field), c.header[field]
	}
	return m.defaultValue(field), ""
}
