package influx

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/outbox"
)

func benchPoints(m string, n int) []Point {
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = NewPoint(m, Class(i%2), map[string]string{"hospital": "h1", "unit": "icu-1", "device": "vent-" + string(rune('a'+i%20)), "kind": "ventilator"},
			time.Unix(1_700_000_000, 0).Add(time.Duration(i)*time.Millisecond), Float("peep", 5.2), Float("fio2", 0.45), Int("rr", int64(i%30)))
	}
	return pts
}

// BenchmarkDrain compares draining the outbox into InfluxDB 1.8.3 with a
// plain batched write of the same points by the same client, in the same
// run. Reported: points/s of each and drain/plain in percent.
func BenchmarkDrain(b *testing.B) {
	srv := influxtest.Start(b, influxtest.Options{})
	const n = 100_000
	const batch = 5000
	var plainDur, drainDur time.Duration
	for it := 0; it < b.N; it++ {
		// Alternate which goes first, and use fresh measurements, so
		// neither side profits from the other's warm-up.
		suffix := "_" + strconv.Itoa(it)
		if it%2 == 0 {
			plainDur += plainWrite(b, srv, "plain"+suffix, n, batch)
			drainDur += drainWrite(b, srv, "drain"+suffix, n, batch)
		} else {
			drainDur += drainWrite(b, srv, "drain"+suffix, n, batch)
			plainDur += plainWrite(b, srv, "plain"+suffix, n, batch)
		}
	}
	plain := float64(n*b.N) / plainDur.Seconds()
	drain := float64(n*b.N) / drainDur.Seconds()
	b.ReportMetric(plain, "plain_points/s")
	b.ReportMetric(drain, "drain_points/s")
	b.ReportMetric(100*drain/plain, "drain_%_of_plain")
}

// plainWrite writes the points in batches of encoded lines, blocking, with
// gzip: the same client and options as the writer, without the outbox.
func plainWrite(b *testing.B, srv *influxtest.Server, m string, n, batch int) time.Duration {
	pts := benchPoints(m, n)
	client := influxdb2.NewClientWithOptions(srv.URL, srv.Token, influxdb2.DefaultOptions().SetUseGZip(true))
	defer client.Close()
	api := client.WriteAPIBlocking("-", influxtest.Bucket)
	// Encoded before the clock starts, as the outbox holds encoded lines.
	var bodies []string
	for i := 0; i < n; i += batch {
		var sb strings.Builder
		for k, p := range pts[i : i+batch] {
			line, _ := Encode(p)
			if k > 0 {
				sb.WriteByte('\n')
			}
			sb.Write(line)
		}
		bodies = append(bodies, sb.String())
	}
	start := time.Now()
	for _, body := range bodies {
		if err := api.WriteRecord(context.Background(), body); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// drainWrite queues the points in an outbox (untimed) and times the writer
// draining it.
func drainWrite(b *testing.B, srv *influxtest.Server, m string, n, batch int) time.Duration {
	dir := b.TempDir()
	ob, err := outbox.Open(outbox.Options{Dir: filepath.Join(dir, "ob"), MaxSize: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	w, err := NewWriter(&config.InfluxDB{URL: srv.URL, Bucket: influxtest.Bucket, BatchSize: batch},
		Deps{Queue: ob, DeadLetterPath: filepath.Join(dir, "dl")})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	pts := benchPoints(m, n)
	for i := 0; i < n; i += 1000 {
		if err := w.Append(context.Background(), pts[i:i+1000]...); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- w.Run(ctx) }()
	for ob.Pending() > 0 {
		time.Sleep(time.Millisecond) // the granularity of the measurement, not a wait for a fixed time
	}
	d := time.Since(start)
	cancel()
	<-done
	return d
}
