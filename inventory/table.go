package inventory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Table is a CSV export as read: the header, and every row that is not
// blank, each with its spreadsheet row number.
type Table struct {
	// File names the export in problems.
	File string
	// Encoding is what the bytes were read as, e.g. "GB18030 (GBK)".
	Encoding string
	// Delimiter is the separator found: ',', ';' or '\t'.
	Delimiter rune
	// HeaderRow is the header's row: 1 unless title rows come first.
	HeaderRow int
	Header    []string
	Rows      []Row
}

// Row is one row of the export.
type Row struct {
	// Num is the row as a spreadsheet shows it: the header is row 1 and a
	// value spanning several lines (quoted) is still one row.
	Num   int
	Cells []string
}

// maxTitleRows bounds how far the header is looked for: some CMMS exports
// start with a title row or two ("设备台账 2026-03-01") above it.
const maxTitleRows = 5

// ReadTable decodes a CSV export and splits it into rows. The header is the
// first row that names at least two known columns (see Mapping), within the
// first rows; rows above it are titles. Problems of shape (a row with more
// or fewer values than the header, a broken quote, bytes of no encoding)
// are returned with the rows that are fine, so that every problem of the
// file is reported in one run.
func ReadTable(file string, data []byte, enc Encoding, m *Mapping) (*Table, []Problem) {
	ps := &problems{file: file}
	t := &Table{File: file}
	text, name, err := decodeText(data, enc)
	if err != nil {
		ps.add(0, "", "%v", err)
		return t, ps.list
	}
	t.Encoding = name
	if strings.TrimSpace(text) == "" {
		ps.add(0, "", "the file is empty: export the device list from the CMMS with its header row")
		return t, ps.list
	}
	t.Delimiter = sniffDelimiter(text)
	records := readRecords(text, t.Delimiter, ps)
	if len(records) == 0 {
		ps.add(0, "", "the file has no rows with values")
		return t, ps.list
	}
	h := 0
	for i := 0; i < len(records) && i < maxTitleRows; i++ {
		if m.knownHeaders(records[i].Cells) >= 2 {
			h = i
			break
		}
	}
	t.HeaderRow, t.Header = records[h].Num, trimAll(records[h].Cells)
	for _, r := range records[h+1:] {
		cells := trimAll(r.Cells)
		if blank(cells) {
			continue // Excel writes rows of empty cells after the data
		}
		switch {
		case len(cells) > len(t.Header) && blank(cells[len(t.Header):]):
			cells = cells[:len(t.Header)]
		case len(cells) != len(t.Header):
			ps.add(r.Num, "", "%d values, but the header (row %d) has %d columns: a value holding the delimiter %s needs quotes, or the row is cut short",
				len(cells), t.HeaderRow, len(t.Header), delimiterName(t.Delimiter))
			continue
		}
		for i, c := range cells {
			if strings.ContainsRune(c, '\uFFFD') {
				ps.add(r.Num, t.Header[i], "holds bytes that are neither UTF-8 nor GBK (shown as \uFFFD): check the file's encoding (-encoding)")
			}
		}
		t.Rows = append(t.Rows, Row{Num: r.Num, Cells: cells})
	}
	if len(t.Rows) == 0 && len(ps.list) == 0 {
		ps.add(t.HeaderRow, "", "the file has a header but no devices")
	}
	return t, ps.list
}

// readRecords reads every record with its spreadsheet row. encoding/csv
// skips empty lines and counts the lines inside quoted values; a
// spreadsheet shows an empty line as a row and a quoted value as one, so
// the row is the record's first line less the line breaks inside earlier
// values.
func readRecords(text string, delim rune, ps *problems) []Row {
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = delim
	r.FieldsPerRecord = -1
	var out []Row
	inside := 0 // line breaks inside quoted values so far
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			ps.add(pe.StartLine-inside, "", "%s", quoteProblem(pe))
			inside += pe.Line - pe.StartLine
			if errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine {
				return out // an unclosed quote runs to the end of the file
			}
			continue
		}
		if err != nil {
			ps.add(0, "", "%v", err)
			return out
		}
		line, _ := r.FieldPos(0)
		out = append(out, Row{Num: line - inside, Cells: rec})
		for _, f := range rec {
			inside += strings.Count(f, "\n")
		}
	}
}

func quoteProblem(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return `a " inside a value that does not start with one: quote the whole value and double the " inside ("15"" screen")`
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return fmt.Sprintf(`a quoted value starts here and is never closed (read to line %d of the file)`, pe.Line)
	case errors.Is(pe.Err, csv.ErrQuote):
		return `a " after a quoted value: double a " inside a quoted value ("")`
	}
	return pe.Err.Error()
}

// sniffDelimiter picks the separator that the first lines hold most of
// (outside quotes): a comma, a semicolon (Excel where the decimal mark is a
// comma) or a tab (Excel's "Unicode text").
func sniffDelimiter(text string) rune {
	best, bestN := ',', 0
	for _, d := range []rune{',', ';', '\t'} {
		n := 0
		lines := 0
		quoted := false
		for _, c := range text {
			switch {
			case c == '"':
				quoted = !quoted
			case c == '\n' && !quoted:
				lines++
			case c == d && !quoted:
				n++
			}
			if lines >= 2*maxTitleRows {
				break
			}
		}
		if n > bestN {
			best, bestN = d, n
		}
	}
	return best
}

func delimiterName(d rune) string {
	switch d {
	case '\t':
		return "(tab)"
	case ';':
		return "(;)"
	}
	return "(,)"
}

func trimAll(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.TrimSpace(strings.ReplaceAll(c, "\u00A0", " "))
	}
	return out
}

func blank(cells []string) bool {
	for _, c := range cells {
		if c != "" {
			return false
		}
	}
	return true
}
