package inventory

import (
	"fmt"
	"io"
	"strings"

	"github.com/icugate/icugate/config"
)

// Diff is how the site's devices change: those added, removed and changed,
// compared by id, field by field as an export would show them.
type Diff struct {
	Added     []config.Device
	Removed   []config.Device
	Changed   []Change
	Unchanged int
}

// Change is one device whose fields change.
type Change struct {
	ID     string
	Fields []FieldChange
}

// FieldChange is one field's old and new value ("" when unset).
type FieldChange struct {
	Field, Old, New string
}

// Empty reports whether nothing changes.
func (d *Diff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

// diffDevices compares two loaded device lists (defaults applied).
func diffDevices(old, cur []config.Device) Diff {
	var d Diff
	before := make(map[string]*config.Device, len(old))
	for i := range old {
		before[old[i].ID] = &old[i]
	}
	seen := make(map[string]bool, len(cur))
	fields := append(append([]string(nil), Columns...), Settings...)
	for i := range cur {
		n := &cur[i]
		seen[n.ID] = true
		o := before[n.ID]
		if o == nil {
			d.Added = append(d.Added, *n)
			continue
		}
		var ch []FieldChange
		for _, f := range fields {
			if a, b := fieldValue(o, f), fieldValue(n, f); a != b {
				ch = append(ch, FieldChange{f, a, b})
			}
		}
		if len(ch) == 0 {
			d.Unchanged++
		} else {
			d.Changed = append(d.Changed, Change{ID: n.ID, Fields: ch})
		}
	}
	for i := range old {
		if !seen[old[i].ID] {
			d.Removed = append(d.Removed, old[i])
		}
	}
	return d
}

// Write prints the diff: a count line, then one line per device added
// (+), removed (-) or changed (~), with the CSV row of added and changed
// ones when rows is not nil.
func (d *Diff) Write(w io.Writer, rows map[string]int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d added, %d removed, %d changed, %d unchanged\n", len(d.Added), len(d.Removed), len(d.Changed), d.Unchanged)
	row := func(id string) string {
		if r, ok := rows[id]; ok {
			return fmt.Sprintf(" (row %d)", r)
		}
		return ""
	}
	for i := range d.Added {
		a := &d.Added[i]
		fmt.Fprintf(&b, "+ %s%s: %s\n", a.ID, row(a.ID), describe(a))
	}
	for i := range d.Removed {
		r := &d.Removed[i]
		fmt.Fprintf(&b, "- %s: %s\n", r.ID, describe(r))
	}
	for _, c := range d.Changed {
		parts := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			parts[i] = fmt.Sprintf("%s %s → %s", f.Field, orNone(f.Old), orNone(f.New))
		}
		fmt.Fprintf(&b, "~ %s%s: %s\n", c.ID, row(c.ID), strings.Join(parts, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describe is one device in a line: kind, profile, place and address.
func describe(d *config.Device) string {
	s := fmt.Sprintf("%s %s at %s, %s", d.Kind, d.Profile, d.At, d.Transport())
	switch {
	case d.Modbus != nil:
		s += fmt.Sprintf(" %s unit %d", d.Modbus.Endpoint(), d.Modbus.UnitID)
	case d.MQTT != nil:
		s += " " + d.MQTT.Topic
	}
	if d.Serial != "" {
		s += ", serial " + d.Serial
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
