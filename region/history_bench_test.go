package region

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
)

// BenchmarkTrendQuery: a week of 10-minute reports of 40 hospitals in 4
// districts (40,320 reports, 282,240 points) in a real InfluxDB 1.8; one
// trend per iteration: by district with 1-hour steps (4 series of 168
// points), or the 10 hospitals of one district (10 series of 168).
func BenchmarkTrendQuery(b *testing.B) {
	srv := influxtest.Start(b, influxtest.Options{})
	b.Setenv("ICUGATE_INFLUXDB_TOKEN", srv.Token)
	db := &config.InfluxDB{URL: srv.URL, Bucket: srv.Bucket}
	sink, err := NewInfluxSink(db)
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	hs := newHospitals(b, 40)
	end := time.Date(2027, 2, 8, 0, 0, 0, 0, time.UTC)
	start := end.Add(-7 * 24 * time.Hour)
	ctx := context.Background()
	var batch []*write.Point
	flush := func() {
		if err := sink.write.WritePoint(ctx, batch...); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for at := start; at.Before(end); at = at.Add(10 * time.Minute) {
		for i, h := range hs {
			batch = append(batch, Points(h.next("R01", at), Origin{District: fmt.Sprintf("D%02d", i%4+1)})...)
			if len(batch) >= 5000 {
				flush()
			}
		}
	}
	flush()
	hist, err := NewHistory(db)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, raw string }{
		{"by_district", "step=1h"},
		{"by_hospital_in_district", "step=1h&by=hospital&district=D01"},
	} {
		q, err := ParseTrendQuery(c.raw+"&from="+start.Format(time.RFC3339)+"&to="+end.Format(time.RFC3339), end)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				t, err := hist.Query(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(t.Series) == 0 || len(t.Series[0].Points) != 168 {
					b.Fatalf("%d series, %d points", len(t.Series), len(t.Series[0].Points))
				}
			}
		})
	}
}
