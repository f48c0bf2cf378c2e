package region

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
)

// trendVia asks h for a trend and decodes it.
func trendVia(t *testing.T, h http.Handler, query string) Trend {
	t.Helper()
	start := time.Now()
	rec := get(t, h, "/api/v1/trends?"+query)
	if rec.Code != http.StatusOK {
		t.Fatalf("trends?%s: %d %s", query, rec.Code, rec.Body)
	}
	t.Logf("trends?%s: %s", query, time.Since(start))
	var tr Trend
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// Two days of hourly reports of the hand-computed region, accepted
// through the real ingest path into a real InfluxDB 1.8, come back as
// trends: per district (H002's two parts summed, its district's name and
// population attached), per hospital within a district, for the region;
// a CSV export of a trend; a 502 once InfluxDB is down.
func TestTrendsFromInfluxDB(t *testing.T) {
	srv := influxtest.Start(t, influxtest.Options{})
	t.Setenv("ICUGATE_INFLUXDB_TOKEN", srv.Token)
	base := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	hr := newHistoryRegion(t, &config.InfluxDB{URL: srv.URL, Bucket: srv.Bucket}, base)
	const hours = 48
	want01, want02 := map[time.Time]float64{}, map[time.Time]float64{}
	for i := range hours {
		at := base.Add(time.Duration(i)*time.Hour + 90*time.Second)
		d01, d02 := hr.feed(t, at, i%5)
		want01[at.Truncate(time.Hour)], want02[at.Truncate(time.Hour)] = float64(d01), float64(d02)
	}
	h := hr.r.Handler()
	span := fmt.Sprintf("from=%s&to=%s", base.Format(time.RFC3339), base.Add(hours*time.Hour).Format(time.RFC3339))

	tr := trendVia(t, h, span+"&step=1h")
	if tr.By != ByDistrict || tr.Metric != "icu_beds_equipped" || tr.StepSeconds != 3600 || len(tr.Series) != 2 {
		t.Fatalf("trend %+v", tr)
	}
	for i, want := range []map[time.Time]float64{want01, want02} {
		s := tr.Series[i]
		if len(s.Points) != hours {
			t.Fatalf("%s: %d points, want %d", s.Key, len(s.Points), hours)
		}
		for _, p := range s.Points {
			if p.V != want[p.T] {
				t.Errorf("%s at %s: %v, want %v", s.Key, p.T, p.V, want[p.T])
			}
		}
	}
	if s := tr.Series[1]; s.Key != "D02" || s.Name != "北部县" || s.Population != 50_000 {
		t.Errorf("D02 series %s %s %d", s.Key, s.Name, s.Population)
	}

	tr = trendVia(t, h, span+"&step=6h&by=hospital&district=D01&metric=beds_total")
	if len(tr.Series) != 2 || tr.Series[0].Key != "H001" || tr.Series[1].Key != "H002" || len(tr.Series[1].Points) != hours/6 {
		t.Fatalf("by hospital: %+v", tr.Series)
	}
	if p := tr.Series[1].Points[0]; p.V != 25+45+45 { // last of each part in the bucket, summed
		t.Errorf("H002 beds_total %v, want 115", p.V)
	}

	tr = trendVia(t, h, span+"&step=1d&by=region")
	if len(tr.Series) != 1 || tr.Series[0].Key != "R01" || len(tr.Series[0].Points) != 2 {
		t.Fatalf("by region: %+v", tr.Series)
	}
	// The day's last reports: hour 23 (drop 3) and hour 47 (drop 2).
	if got := [2]float64{tr.Series[0].Points[0].V, tr.Series[0].Points[1].V}; got != [2]float64{96 - 3 + 6, 96 - 2 + 6} {
		t.Errorf("region per day %v", got)
	}

	rec := get(t, h, "/api/v1/export?table=trend&by=region&step=1d&"+span)
	if rec.Code != http.StatusOK || rec.Body.String() != "\uFEFFtime,region,name,icu_beds_equipped\r\n2027-02-01T00:00:00Z,R01,whole region,99\r\n2027-02-02T00:00:00Z,R01,whole region,100\r\n" {
		t.Errorf("trend csv: %d %q", rec.Code, rec.Body)
	}

	srv.Stop()
	rec = get(t, h, "/api/v1/trends?"+span)
	if rec.Code != http.StatusBadGateway {
		t.Errorf("InfluxDB down: %d %s", rec.Code, rec.Body)
	}
}
