// Package inventory turns a hospital's equipment inventory, exported as CSV
// from its CMMS (computerised maintenance management system), into a site's
// devices file, and writes a site's devices back as CSV.
//
// An import reads the export whatever its encoding (UTF-8 with or without a
// BOM, UTF-16, GBK/GB18030 as Chinese Excel and CMMS exports are) and
// delimiter, maps its columns to device fields by their headers (English
// and Chinese names are known; a mapping file adds others and maps CMMS
// kinds, vendor and model, and locations to icugate's), and checks every
// row against the site: beds and pools that exist, profiles, duplicates,
// addresses, unit ids and dates. Every problem is reported at its row and
// column, as the engineer sees the file in a spreadsheet (the header is
// row 1). Only when every row is good is the new devices file checked with
// the rest of the site exactly as icugate check would, and only then
// written, atomically, keeping the previous one as .bak.
package inventory

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with an import: a cell, a row or the CSV file
// as a whole, or (found by the site check) a line of a config file.
type Problem struct {
	// File is the CSV file, or the config file a site problem is in.
	File string
	// Row is the spreadsheet row (the header is row 1); 0 when the
	// problem is not about one row.
	Row int
	// Column is the column's header as written in the file; "" when the
	// problem is about the whole row.
	Column string
	// Line is the line in File of a config-file problem.
	Line    int
	Message string
}

// String formats the problem as the engineer looks it up:
// `devices.csv row 17, column "serial": duplicate of row 3`, or
// file:line: message for a config file.
func (p Problem) String() string {
	switch {
	case p.Row > 0 && p.Column != "":
		return fmt.Sprintf("%s row %d, column %q: %s", p.File, p.Row, p.Column, p.Message)
	case p.Row > 0:
		return fmt.Sprintf("%s row %d: %s", p.File, p.Row, p.Message)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// Problems is every problem an import found; it is returned as the error
// so that one run lists them all.
type Problems struct {
	List []Problem
}

// Error prints one problem per line.
func (p *Problems) Error() string {
	lines := make([]string, len(p.List))
	for i, q := range p.List {
		lines[i] = q.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects problems about one file.
type problems struct {
	file string
	list []Problem
}

func (ps *problems) add(row int, column, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: ps.file, Row: row, Column: column, Message: fmt.Sprintf(format, args...)})
}

// err returns the problems sorted by file, then row or line, or nil.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := append([]Problem(nil), ps.list...)
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if (a.File == ps.file) != (b.File == ps.file) {
			return a.File == ps.file // the CSV's first, then config files
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Row+a.Line < b.Row+b.Line
	})
	return &Problems{List: list}
}
