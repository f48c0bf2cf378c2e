package region

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var queryNow = time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)

func TestParseTrendQuery(t *testing.T) {
	ok := []struct {
		raw  string
		want TrendQuery
	}{
		{"", TrendQuery{Metric: "icu_beds_equipped", By: ByDistrict, From: queryNow.Add(-7 * 24 * time.Hour), To: queryNow, Step: 51 * time.Minute}},
		{"metric=beds_occupied&by=hospital&district=D01&from=2027-02-01T00:00:00Z&to=2027-03-01T00:00:00Z&step=1d",
			TrendQuery{Metric: "beds_occupied", By: ByHospital, District: "D01", From: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), Step: 24 * time.Hour}},
		{"by=region&from=24h&step=5m", TrendQuery{Metric: "icu_beds_equipped", By: ByRegion, From: queryNow.Add(-24 * time.Hour), To: queryNow, Step: 5 * time.Minute}},
		{"from=400d&step=1d", TrendQuery{Metric: "icu_beds_equipped", By: ByDistrict, From: queryNow.Add(-400 * 24 * time.Hour), To: queryNow, Step: 24 * time.Hour}},
	}
	for _, c := range ok {
		got, err := ParseTrendQuery(c.raw, queryNow)
		if err != nil {
			t.Errorf("%q: %v", c.raw, err)
			continue
		}
		if got != c.want {
			t.Errorf("%q:\n got %+v\nwant %+v", c.raw, got, c.want)
		}
	}
	bad := []struct{ raw, param, msg string }{
		{"metric=foo", "metric", "want one of"},
		{"by=ward", "by", "region, district or hospital"},
		{"by=region&by=district", "by", "given 2 times"},
		{"district=D01'%20OR%201=1", "district", "not an id"},
		{"hospital=", "hospital", "not an id"},
		{"from=yesterday", "from", "RFC 3339"},
		{"to=2027-13-01T00:00:00Z", "to", "RFC 3339"},
		{"from=2027-03-01T00:00:00Z&to=2027-02-01T00:00:00Z", "from", "not before"},
		{"from=401d", "from", "longer than 400 days"},
		{"step=1m", "step", "5m0s to"},
		{"step=-1h", "step", "not positive"},
		{"step=1.5s&from=1h", "step", "whole seconds"},
		{"step=40d&from=100d", "step", "5m0s to 744h0m0s"},
		{"from=30d&step=5m", "step", "more than 2000"},
		{"foo=1", "foo", "unknown parameter"},
		{"%zz", "query", "malformed"},
		{"from=" + strings.Repeat("9", 100), "from", "longer than 64"},
		{"from=99999999999d", "from", "RFC 3339"},
	}
	for _, c := range bad {
		_, err := ParseTrendQuery(c.raw, queryNow)
		var pe *ParamError
		if !errors.As(err, &pe) {
			t.Errorf("%q: %v, want a ParamError", c.raw, err)
			continue
		}
		if pe.Param != c.param || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%q: %s, want param %s and %q", c.raw, err, c.param, c.msg)
		}
	}
}

// The InfluxQL of a query: last point per part per bucket, summed per
// group; filters and the span in both the inner and the outer query.
func TestTrendQueryInfluxQL(t *testing.T) {
	q, err := ParseTrendQuery("metric=icu_beds&by=hospital&district=D01&from=2027-02-01T00:00:00Z&to=2027-02-02T00:00:00Z&step=1h", queryNow)
	if err != nil {
		t.Fatal(err)
	}
	got := q.InfluxQL()
	for _, want := range []string{
		`SELECT sum(v) AS v FROM (SELECT last("beds_total") AS v FROM "region_capacity" WHERE unit='all' AND (class='general' OR class='specialty') AND district='D01'`,
		`GROUP BY time(3600s), hospital, part, class, district)`,
		`GROUP BY time(3600s), hospital fill(none)`,
		"time >= 1801440000000000000 AND time < 1801526400000000000",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("InfluxQL lacks %q:\n%s", want, got)
		}
	}
}

func TestParseExportQuery(t *testing.T) {
	for raw, want := range map[string]ExportQuery{
		"table=districts":                       {Table: TableDistricts, Format: FormatCSV},
		"table=hospitals&format=xlsx":           {Table: TableHospitals, Format: FormatXLSX},
		"table=not-reporting&format=csv":        {Table: TableNotReporting, Format: FormatCSV},
		"table=all&format=xlsx":                 {Table: TableAll, Format: FormatXLSX},
		"table=trend&by=region&from=2d&step=1h": {Table: TableTrend, Format: FormatCSV, Trend: TrendQuery{Metric: "icu_beds_equipped", By: ByRegion, From: queryNow.Add(-48 * time.Hour), To: queryNow, Step: time.Hour}},
	} {
		got, err := ParseExportQuery(raw, queryNow)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", raw, got, err, want)
		}
	}
	for raw, param := range map[string]string{
		"":                           "table",
		"table=beds":                 "table",
		"table=districts&format=pdf": "format",
		"table=all":                  "table",
		"table=districts&from=1d":    "from",
		"table=trend&from=500d":      "from",
		"table=trend&step=1s":        "step",
		"table=a&table=b":            "table",
		"table=%":                    "query",
	} {
		_, err := ParseExportQuery(raw, queryNow)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != param {
			t.Errorf("%q: %v, want a ParamError for %s", raw, err, param)
		}
	}
}

// Any query string: a TrendQuery within the limits, or a ParamError;
// never a panic, and an accepted query's InfluxQL carries no quote but
// those it puts there.
func FuzzParseTrendQuery(f *testing.F) {
	for _, s := range []string{"", "by=hospital&district=D01&from=2027-02-01T00:00:00Z&step=1h", "from=400d&step=1d", "step=5m&from=1d", "district=%27", "from=-1h", "step=9223372036s", "to=0001-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseTrendQuery(raw, queryNow)
		if err != nil {
			var pe *ParamError
			if !errors.As(err, &pe) || pe.Param == "" {
				t.Fatalf("%q: %v is not a ParamError with a parameter", raw, err)
			}
			return
		}
		if !q.From.Before(q.To) || q.To.Sub(q.From) > MaxTrendRange || q.Step < MinTrendStep || q.Step > MaxTrendStep || q.Points() > MaxTrendPoints || q.Points() < 1 {
			t.Fatalf("%q: accepted out of limits: %+v", raw, q)
		}
		if n := strings.Count(q.InfluxQL(), "'"); n%2 != 0 {
			t.Fatalf("%q: unbalanced quotes in %s", raw, q.InfluxQL())
		}
	})
}

func FuzzParseExportQuery(f *testing.F) {
	for _, s := range []string{"table=districts&format=xlsx", "table=trend&from=2d", "table=all", "format=csv&table=not-reporting"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseExportQuery(raw, queryNow)
		if err != nil {
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("%q: %v is not a ParamError", raw, err)
			}
			return
		}
		if q.Format != FormatCSV && q.Format != FormatXLSX || q.Table == TableAll && q.Format != FormatXLSX {
			t.Fatalf("%q: accepted %+v", raw, q)
		}
	})
}
