package region

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/report"
)

// Accepted reports reach a real InfluxDB 1.8; writing the same report
// twice (a redelivery, or the same report accepted by two instances)
// leaves one point, and the regional total is the sum of each hospital's
// last() — the query docs/reporting.md gives for a scaled-out region.
func TestInfluxSinkWritesAcceptedReports(t *testing.T) {
	srv := influxtest.Start(t, influxtest.Options{})
	hs := newHospitals(t, 3)
	keys := writeKeys(t, t.TempDir(), hs)
	cfg := testConfig(keys, "")
	cfg.InfluxDB = &config.InfluxDB{URL: srv.URL, Bucket: srv.Bucket}
	t.Setenv("ICUGATE_INFLUXDB_TOKEN", srv.Token)
	r, err := New(cfg, Deps{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	wantEquipped := 0
	for i, h := range hs {
		first := h.next("R01", now.Add(-time.Minute))
		r.handle(ctx, item{topic: report.Topic("R01", h.id), payload: h.sign(t, first), src: Live})
		latest := h.next("R01", now)
		env := h.sign(t, latest)
		r.handle(ctx, item{topic: report.Topic("R01", h.id), payload: env, src: Live})
		if i == 0 { // the same report again, as a second instance would store it
			if err := r.sink.Write(ctx, latest, Origin{}); err != nil {
				t.Fatal(err)
			}
		}
		wantEquipped += latest.Totals.BedsEquipped
	}
	if n := r.Counts()[Live][Accepted]; n != 6 {
		t.Fatalf("accepted %d", n)
	}
	rows, err := srv.Query(`SELECT count(beds_total) FROM region_capacity WHERE unit='all' AND class='all'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || asInt(t, rows[0][1]) != 6 {
		t.Fatalf("hospital points = %v, want 6 (3 hospitals x 2 reports, duplicates merged)", rows)
	}
	// The query of docs/reporting.md §6: the last point of every part.
	rows, err = srv.Query(`SELECT sum(e) FROM (SELECT last(beds_equipped) AS e FROM region_capacity WHERE unit='all' AND class='all' AND time > now() - 10m GROUP BY hospital, part)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || asInt(t, rows[0][1]) != wantEquipped {
		t.Fatalf("regional equipped beds from last() = %v, want %d", rows, wantEquipped)
	}
}

func asInt(t *testing.T, v any) int {
	t.Helper()
	switch n := v.(type) {
	case float64:
		return int(n)
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			t.Fatal(err)
		}
		return int(i)
	}
	t.Fatalf("not a number: %T %v", v, v)
	return 0
}
