package outbox

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// line is a typical device_telemetry line (about 130 bytes).
func line(i int) []byte {
	return fmt.Appendf(nil, "device_telemetry,bed=b%03d,device=vent-%04d,hospital=h1,kind=ventilator,unit=icu-1 peep=5.2,fio2=0.45,rr=18i %d", i%300, i%2000, int64(1_700_000_000_000_000_000)+int64(i))
}

// benchAppend measures durable appends: each Append returns only after its
// records are fsynced; concurrent callers share commits.
func benchAppend(b *testing.B, perCall int) {
	o, err := Open(Options{Dir: b.TempDir(), MaxSize: 4 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	recs := make([]Record, perCall)
	for i := range recs {
		recs[i] = Record{Class: Class(i % 2), Data: line(i)}
	}
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := o.Append(context.Background(), recs...); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*perCall)/time.Since(start).Seconds(), "points/s")
}

func BenchmarkAppend1(b *testing.B)   { benchAppend(b, 1) }
func BenchmarkAppend100(b *testing.B) { benchAppend(b, 100) }
