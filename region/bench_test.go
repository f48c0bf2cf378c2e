package region

import (
	"fmt"
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

// BenchmarkSummarise is one view of a large region: 300 hospitals in 10
// districts, every third with two gateways (400 parts) — what each page,
// API call, scrape and alert evaluation computes.
func BenchmarkSummarise(b *testing.B) {
	dir := b.TempDir()
	var entries []registryEntry
	var es []Entry
	now := time.Now()
	for i := range 300 {
		id := fmt.Sprintf("H%03d", i+1)
		d := fmt.Sprintf("D%02d", i%10+1)
		main := newGateway(b, id, "tertiary")
		es = append(es, Entry{Report: main.nextWith("R01", now, bedsH002Main), Part: "main"})
		if i%3 != 0 {
			entries = append(entries, registryEntry{id: id, district: d, gateway: main})
			continue
		}
		east := newGateway(b, id, "tertiary")
		es = append(es, Entry{Report: east.nextWith("R01", now.Add(-time.Hour), bedsH002East), Part: "east"})
		entries = append(entries, registryEntry{id: id, district: d, parts: []partGateway{{"main", main}, {"east", east}}})
	}
	keys := writeRegistry(b, dir, entries)
	cfg := testConfig(keys, "")
	cfg.Population = 0
	for i := range 10 {
		cfg.Districts = append(cfg.Districts, District{ID: fmt.Sprintf("D%02d", i+1), Population: 500_000})
	}
	cfg.ApplyDefaults()
	reg, err := LoadRegistry(keys, cfg.Districts)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		v := Summarise(cfg, reg, es, nil, now, "instance")
		if v.Totals.Partial != 100 {
			b.Fatalf("partial %d", v.Totals.Partial)
		}
	}
}
