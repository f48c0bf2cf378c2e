package region

import (
	"testing"
	"time"

	"github.com/icugate/icugate/report"
)

// BenchmarkLedgerIngest is one accepted report per op (a fresh sequence
// each time) across 100 hospitals: the aggregator's verification cost.
func BenchmarkLedgerIngest(b *testing.B) {
	hs := newHospitals(b, 100)
	keys := writeKeys(b, b.TempDir(), hs)
	reg, err := LoadRegistry(keys, nil)
	if err != nil {
		b.Fatal(err)
	}
	l := NewLedger(testConfig(keys, ""), func() *Registry { return reg })
	now := time.Now()
	const batch = 1000
	envs := make([][]byte, batch)
	topics := make([]string, batch)
	for i := range envs {
		h := hs[i%len(hs)]
		envs[i] = h.sign(b, h.next("R01", now))
		topics[i] = report.Topic("R01", h.id)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			l = NewLedger(testConfig(keys, ""), func() *Registry { return reg })
			i = 0
			b.StartTimer()
		}
		if v := l.Ingest(topics[i], envs[i], Live, now); v.Outcome != Accepted {
			b.Fatalf("outcome %s: %v", v.Outcome, v.Err)
		}
		i++
	}
}
