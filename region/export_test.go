package region

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// get serves one GET of h and returns the response.
func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The export of the hand-computed region: CSV with a BOM (the district's
// Chinese name survives), XLSX read back with excelize (one sheet per
// table, bold header, widths), attachments with file names; bad
// parameters are a 400 naming the parameter; a trend without InfluxDB is
// a 404 with the reason.
func TestExport(t *testing.T) {
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	hr := newHistoryRegion(t, nil, now)
	hr.feed(t, now, 0)
	h := hr.r.Handler()

	rec := get(t, h, "/api/v1/export?table=districts&format=csv")
	if rec.Code != http.StatusOK {
		t.Fatalf("districts csv: %d %s", rec.Code, rec.Body)
	}
	if ct, cd := rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"); ct != "text/csv; charset=utf-8" || cd != `attachment; filename="icu-R01-districts-20270301T0800Z.csv"` {
		t.Errorf("headers: %q %q", ct, cd)
	}
	body := rec.Body.Bytes()
	if !bytes.HasPrefix(body, []byte("\xEF\xBB\xBF")) {
		t.Fatalf("no BOM: %q", body[:min(20, len(body))])
	}
	rows, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "district" || rows[1][0] != "R01" || rows[2][0] != "D01" || rows[3][1] != "北部县" {
		t.Fatalf("districts rows: %q", rows)
	}
	col := func(name string) int {
		for i, h := range rows[0] {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s in %q", name, rows[0])
		return -1
	}
	// D01: 96 equipped ICU beds for 500,000 people: 19.2 per 100k.
	if got := rows[2][col("icu_beds_equipped")] + " " + rows[2][col("icu_beds_equipped_per_100k")] + " " + rows[2][col("icu_target_per_100k")]; got != "96 19.2 18" {
		t.Errorf("D01 equipped, per 100k, target = %s", got)
	}

	rec = get(t, h, "/api/v1/export?table=not-reporting")
	rows, _ = csv.NewReader(bytes.NewReader(rec.Body.Bytes()[3:])).ReadAll()
	if rec.Code != http.StatusOK || len(rows) != 2 || rows[1][0] != "H004" || rows[1][7] != ReasonNeverReported {
		t.Errorf("not-reporting: %d %q", rec.Code, rows)
	}

	rec = get(t, h, "/api/v1/export?table=all&format=xlsx")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), `filename="icu-R01-all-20270301T0800Z.xlsx"`) {
		t.Fatalf("xlsx: %d %v", rec.Code, rec.Header())
	}
	f, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.GetSheetList(), ","); got != "districts,hospitals,not-reporting" {
		t.Fatalf("sheets %s", got)
	}
	for sheet, want := range map[string][2]string{"districts": {"district", "北部县"}, "hospitals": {"hospital", "Hospital H004"}} {
		xr, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if len(xr) < 3 || xr[0][0] != want[0] || !strings.Contains(strings.Join(xr[len(xr)-1], "|"), want[1]) {
			t.Errorf("sheet %s: %q", sheet, xr)
		}
	}
	v, _ := f.GetCellValue("hospitals", "K3") // beds_total of H002, both parts: 45 + 25 + 45
	if v != "115" {
		t.Errorf("H002 beds_total in xlsx = %q, want 115", v)
	}
	if typ, _ := f.GetCellType("hospitals", "K3"); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Errorf("beds_total cell type %v, want a number", typ)
	}
	if w, _ := f.GetColWidth("districts", "B"); w < 10 {
		t.Errorf("column B width %v", w)
	}
	st, _ := f.GetCellStyle("districts", "A1")
	if s, err := f.GetStyle(st); err != nil || s.Font == nil || !s.Font.Bold {
		t.Errorf("header not bold: %v", err)
	}

	for target, param := range map[string]string{
		"/api/v1/export": "table",
		"/api/v1/export?table=districts&format=pdf":                        "format",
		"/api/v1/export?table=all&format=csv":                              "table",
		"/api/v1/export?table=trend&from=401d":                             "from",
		"/api/v1/export?table=trend&step=5m&from=30d":                      "step",
		"/api/v1/trends?by=ward":                                           "by",
		"/api/v1/trends?from=2027-03-01T00:00:00Z&to=2026-03-01T00:00:00Z": "from",
	} {
		rec := get(t, h, target)
		var e struct{ Error, Param string }
		if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Param != param {
			t.Errorf("%s: %d %s, want 400 naming %s", target, rec.Code, rec.Body, param)
		}
	}
	for _, target := range []string{"/api/v1/trends", "/api/v1/export?table=trend&format=xlsx"} {
		rec := get(t, h, target)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "no influxdb configured") {
			t.Errorf("%s without InfluxDB: %d %s", target, rec.Code, rec.Body)
		}
	}
}

// A name that a spreadsheet would run as a formula is exported as text.
func TestCSVCellNoFormula(t *testing.T) {
	tab := Table{Header: []string{"name", "n"}, Rows: [][]any{{"=HYPERLINK(\"x\")", 3}, {"-1", 1.5}}}
	got := string(tab.CSV())
	if want := "\uFEFFname,n\r\n\"'=HYPERLINK(\"\"x\"\")\",3\r\n'-1,1.5\r\n"; got != want {
		t.Errorf("csv %q, want %q", got, want)
	}
}

// by=hospital multiplies the points by the hospitals: the whole answer
// is bounded too, before InfluxDB is asked.
func TestTrendValuesBounded(t *testing.T) {
	hs := newHospitals(t, 60)
	r, err := New(testConfig(writeKeys(t, t.TempDir(), hs), ""), Deps{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := r.Handler()
	for _, target := range []string{"/api/v1/trends?by=hospital&from=400d&step=5h", "/api/v1/export?table=trend&by=hospital&from=400d&step=5h"} {
		rec := get(t, h, target)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "60 hospitals x 1920 points") {
			t.Errorf("%s: %d %s", target, rec.Code, rec.Body)
		}
	}
	// Within the bound it gets as far as asking for history.
	if rec := get(t, h, "/api/v1/trends?by=hospital&from=400d&step=1d"); rec.Code != http.StatusNotFound {
		t.Errorf("60 x 400 points: %d %s", rec.Code, rec.Body)
	}
}
