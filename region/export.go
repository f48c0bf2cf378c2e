package region

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/icugate/icugate/report"
)

// The tables the commission asks for, as CSV or XLSX: the districts'
// beds per 100,000 against the targets, the hospitals' tier shares
// against their level's targets with declared staffing, and who does not
// report in full. They are built from the View, so the export shows
// exactly what the page and the API show.

// Export tables and formats.
const (
	TableDistricts    = "districts"
	TableHospitals    = "hospitals"
	TableNotReporting = "not-reporting"
	// TableAll is every table, one sheet each (XLSX only).
	TableAll = "all"
	// TableTrend is a trend (the /api/v1/trends parameters) as rows.
	TableTrend = "trend"

	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// Table is one exported table: a header row and rows of strings, ints,
// floats or bools.
type Table struct {
	Name   string
	Header []string
	Rows   [][]any
}

// ExportQuery is a parsed export request.
type ExportQuery struct {
	Table  string
	Format string
	// Trend holds the trend parameters when Table is TableTrend.
	Trend TrendQuery
}

// ParseExportQuery reads an export request: table (districts, hospitals,
// not-reporting, all — all is XLSX only — or trend, which also takes the
// trend parameters) and format (csv, xlsx; default csv).
func ParseExportQuery(raw string, now time.Time) (ExportQuery, error) {
	var q ExportQuery
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, paramErr("query", "malformed: %v", err)
	}
	one := func(name string) (string, error) {
		vs := vals[name]
		if len(vs) > 1 {
			return "", paramErr(name, "given %d times: give it once", len(vs))
		}
		if len(vs) == 0 {
			return "", nil
		}
		return vs[0], nil
	}
	if q.Table, err = one("table"); err != nil {
		return q, err
	}
	if q.Format, err = one("format"); err != nil {
		return q, err
	}
	switch q.Format {
	case "":
		q.Format = FormatCSV
	case FormatCSV, FormatXLSX:
	default:
		return q, paramErr("format", "%.64q: want csv or xlsx", q.Format)
	}
	rest := url.Values{}
	for name, vs := range vals {
		if name != "table" && name != "format" {
			rest[name] = vs
		}
	}
	switch q.Table {
	case TableDistricts, TableHospitals, TableNotReporting, TableAll:
		for name := range rest {
			if name == "" {
				return q, paramErr("query", "a parameter without a name")
			}
			return q, paramErr(fmt.Sprintf("%.64s", name), "unknown parameter for table %s (table, format)", q.Table)
		}
		if q.Table == TableAll && q.Format != FormatXLSX {
			return q, paramErr("table", "all is one sheet per table: format=xlsx only")
		}
	case TableTrend:
		if q.Trend, err = ParseTrendQuery(rest.Encode(), now); err != nil {
			return q, err
		}
	case "":
		return q, paramErr("table", "missing: want districts, hospitals, not-reporting, all or trend")
	default:
		return q, paramErr("table", "%.64q: want districts, hospitals, not-reporting, all or trend", q.Table)
	}
	return q, nil
}

// DistrictsTable: the region and each district, beds and beds per
// 100,000 against the targets, hospitals by status, declared staffing.
func DistrictsTable(v *View) Table {
	t := Table{Name: TableDistricts, Header: []string{
		"district", "name", "population", "target_year", "complete",
		"hospitals", "reporting", "partial", "silent", "never",
		"icu_beds", "icu_beds_equipped", "icu_beds_per_100k", "icu_beds_equipped_per_100k", "icu_target_per_100k", "icu_met", "icu_equipped_met",
		"convertible_beds", "convertible_ready", "convertible_per_100k", "convertible_ready_per_100k", "convertible_target_per_100k", "convertible_met", "convertible_ready_met",
		"hospitals_meeting_targets_configured", "hospitals_meeting_targets_equipped",
		"staffing_declaring", "doctors_per_general_bed", "nurses_per_general_bed",
	}}
	row := func(id, name string, tot Totals, in Indicators) []any {
		r := []any{id, name, in.Population, in.TargetYear, in.Complete,
			tot.Hospitals, tot.Reporting, tot.Partial, tot.Silent, tot.Never,
			tot.ICUBeds, tot.ICUBedsEquipped, round2(in.ICUBedsPer100k), round2(in.ICUBedsEquippedPer100k), in.ICUTargetPer100k, in.ICUMet, in.ICUEquippedMet,
			tot.ConvertibleBeds, tot.ConvertibleReady, round2(in.ConvertiblePer100k), round2(in.ConvertibleReadyPer100k), in.ConvertibleTarget, in.ConvertibleMet, in.ConvertibleReadyMet,
			in.HospitalsMeetingConfigured, in.HospitalsMeetingEquipped}
		if s := in.Staffing; s != nil {
			return append(r, s.Declaring, round2(s.DoctorsPerBed), round2(s.NursesPerBed))
		}
		return append(r, 0, "", "")
	}
	t.Rows = append(t.Rows, row(v.Region, "whole region", v.Totals, v.Indicators))
	for _, d := range v.Districts {
		t.Rows = append(t.Rows, row(d.ID, d.Name, d.Totals, d.Indicators))
	}
	return t
}

// HospitalsTable: each hospital's status, beds, and general, specialty
// and convertible shares of its beds against its level's targets.
func HospitalsTable(v *View) Table {
	t := Table{Name: TableHospitals, Header: []string{
		"hospital", "name", "district", "level", "status", "reason", "silent_parts", "as_of", "verified", "coverage",
		"beds_total", "beds_equipped", "beds_occupied", "beds_available", "beds_degraded", "convertible_ready",
		"total_beds", "general_share", "general_equipped_share", "general_target",
		"specialty_share", "specialty_equipped_share", "specialty_target",
		"convertible_share", "convertible_equipped_share", "convertible_target",
		"meets_targets_configured", "meets_targets_equipped", "conflict",
		"doctors_declared", "nurses_declared", "doctors_per_general_bed", "nurses_per_general_bed",
	}}
	for _, h := range v.Hospitals {
		asOf := ""
		if h.AsOf != nil {
			asOf = h.AsOf.UTC().Format(time.RFC3339)
		}
		r := []any{h.ID, h.Name, h.District, h.Level, h.Status, h.Reason, strings.Join(h.SilentParts, " "), asOf, h.Verified, round4(h.Coverage)}
		if c := h.Totals; c != nil {
			r = append(r, c.BedsTotal, c.BedsEquipped, c.BedsOccupied, c.BedsAvailable, c.BedsDegraded, c.ConvertibleReady)
		} else {
			r = append(r, "", "", "", "", "", "")
		}
		if p := h.Policy; p != nil {
			r = append(r, p.TotalBeds)
			for _, s := range []report.Share{p.General, p.Specialty, p.Convertible} {
				r = append(r, round4(s.ConfiguredShare), round4(s.EquippedShare), round4(s.Target))
			}
		} else {
			r = append(r, "", "", "", "", "", "", "", "", "", "")
		}
		r = append(r, h.MeetsTargetsConfigured, h.MeetsTargetsEquipped, h.Conflict)
		if h.Policy != nil && h.Policy.Staffing != nil {
			s := h.Policy.Staffing
			r = append(r, s.Doctors, s.Nurses, round2(s.DoctorsPerBed), round2(s.NursesPerBed))
		} else {
			r = append(r, "", "", "", "")
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}

// NotReportingTable: one row per silent or never-reported part of every
// hospital not reporting in full.
func NotReportingTable(v *View) Table {
	t := Table{Name: TableNotReporting, Header: []string{
		"hospital", "name", "district", "status", "reason", "part", "part_status", "part_reason", "presence", "silent_since", "last_as_of",
	}}
	ts := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format(time.RFC3339)
	}
	for _, n := range v.NotReporting {
		for _, p := range n.Parts {
			t.Rows = append(t.Rows, []any{n.Hospital, n.Name, n.District, n.Status, n.Reason, p.ID, p.Status, p.Reason, p.Presence, ts(p.SilentSince), ts(p.AsOf)})
		}
	}
	return t
}

// TrendTable: a trend as rows of (time, key, name, value).
func TrendTable(tr *Trend) Table {
	t := Table{Name: "trend", Header: []string{"time", tr.By, "name", tr.Metric}}
	for _, s := range tr.Series {
		for _, p := range s.Points {
			t.Rows = append(t.Rows, []any{p.T.Format(time.RFC3339), s.Key, s.Name, p.V})
		}
	}
	return t
}

// CSV renders t with a UTF-8 byte order mark, so spreadsheet programs
// read Chinese names as UTF-8.
func (t Table) CSV() []byte {
	var b bytes.Buffer
	b.WriteString("\uFEFF")
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	_ = w.Write(t.Header)
	rec := make([]string, len(t.Header))
	for _, r := range t.Rows {
		for i, c := range r {
			rec[i] = cell(c)
		}
		_ = w.Write(rec[:len(r)])
	}
	w.Flush()
	return b.Bytes()
}

// cell formats one value for CSV; a text cell starting with = + - @ is
// prefixed with ' so a spreadsheet does not run it as a formula (names
// come from the registry, but an export should not trust them).
func cell(c any) string {
	switch x := c.(type) {
	case string:
		if x != "" && strings.ContainsRune("=+-@\t\r", rune(x[0])) {
			return "'" + x
		}
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// XLSX renders tables as a workbook, one sheet per table: a bold, frozen
// header row, column widths from the longest cell.
func XLSX(tables ...Table) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, err
	}
	for i, t := range tables {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", t.Name); err != nil {
				return nil, err
			}
		} else if _, err := f.NewSheet(t.Name); err != nil {
			return nil, err
		}
		sw, err := f.NewStreamWriter(t.Name)
		if err != nil {
			return nil, err
		}
		widths := make([]int, len(t.Header))
		fit := func(i int, s string) {
			if n := len([]rune(s)) + 2; i < len(widths) && n > widths[i] {
				widths[i] = min(n, 60)
			}
		}
		for i, h := range t.Header {
			fit(i, h)
		}
		for _, r := range t.Rows {
			for i, c := range r {
				fit(i, fmt.Sprint(c))
			}
		}
		for i, w := range widths {
			if err := sw.SetColWidth(i+1, i+1, float64(w)); err != nil {
				return nil, err
			}
		}
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return nil, err
		}
		head := make([]any, len(t.Header))
		for i, h := range t.Header {
			head[i] = excelize.Cell{StyleID: bold, Value: h}
		}
		if err := sw.SetRow("A1", head); err != nil {
			return nil, err
		}
		for n, r := range t.Rows {
			at, _ := excelize.CoordinatesToCellName(1, n+2)
			if err := sw.SetRow(at, r); err != nil {
				return nil, err
			}
		}
		if err := sw.Flush(); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }
