package store

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestUsageDaysPersist: daily records and totals are saved in one call,
// replace what their key held, survive reopening the store, and are read
// back by range of days in day order, optionally filtered by key.
func TestUsageDaysPersist(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing saved yet: an empty walk, not an error.
	if err := s.UsageDays("2026-01-01", "2026-12-31", nil, func(DayUsage) error { t.Error("a record in an empty store"); return nil }); err != nil {
		t.Fatal(err)
	}
	days := []DayUsage{
		{Day: "2026-12-04", Device: "vent-1", Unit: "icu-a", Kind: "ventilator", InUse: 3600, Standby: 1800},
		{Day: "2026-12-05", Device: "vent-1", Unit: "icu-a", Kind: "ventilator", InUse: 600},
		{Day: "2026-12-05", Device: "vent-1", Unit: "", Kind: "ventilator", Standby: 60.123456}, // moved to the store
		{Day: "2026-12-05", Device: "mon-1", Unit: "icu-a", Kind: "monitor", Offline: 5, Fault: 6, Maintenance: 7},
	}
	if err := s.SaveUsageDays(map[string]map[string]float64{"vent-1": {"in_use": 4200}}, days); err != nil {
		t.Fatal(err)
	}
	// A later save of the same key replaces it.
	days[1].InUse = 1200
	if err := s.SaveUsageDays(nil, days[1:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, _ := s.Usage(); u["vent-1"]["in_use"] != 4200 {
		t.Errorf("totals saved with the days: %v", u)
	}
	var got []DayUsage
	collect := func(u DayUsage) error { got = append(got, u); return nil }
	if err := s.UsageDays("2026-12-05", "2026-12-05", nil, collect); err != nil {
		t.Fatal(err)
	}
	want := []DayUsage{days[3], days[2], days[1]} // in key order: mon-1, then vent-1 "" before vent-1 icu-a
	want[1].Standby = 60.123                      // kept to the millisecond
	if !reflect.DeepEqual(got, want) {
		t.Errorf("2026-12-05:\n got %+v\nwant %+v", got, want)
	}
	got = nil
	onlyVent := func(_, dev, _ string) bool { return dev == "vent-1" }
	if err := s.UsageDays("2026-12-01", "2026-12-31", onlyVent, collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Day != "2026-12-04" || got[0].InUse != 3600 || got[0].Standby != 1800 {
		t.Errorf("vent-1 over December: %+v", got)
	}
}

// TestUsageDaysPrune: pruning deletes exactly the days before the cut.
func TestUsageDaysPrune(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.PruneUsageDays("2026-01-01"); n != 0 || err != nil {
		t.Errorf("prune of an empty store: %d, %v", n, err)
	}
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var days []DayUsage
	for i := range 10 {
		for _, dev := range []string{"a", "a-1", "b"} {
			days = append(days, DayUsage{Day: day0.AddDate(0, 0, i).Format(time.DateOnly), Device: dev, Unit: "u", Kind: "monitor", Standby: 1})
		}
	}
	if err := s.SaveUsageDays(nil, days); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneUsageDays("2026-01-04")
	if err != nil || n != 9 {
		t.Errorf("pruned %d, %v; want 9 (three days of three devices)", n, err)
	}
	first := ""
	count := 0
	if err := s.UsageDays("2000-01-01", "2100-01-01", nil, func(u DayUsage) error {
		if first == "" {
			first = u.Day
		}
		count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if first != "2026-01-04" || count != 21 {
		t.Errorf("after the prune: first day %s, %d records; want 2026-01-04, 21", first, count)
	}
}

// growthPerDeviceYear fills a store as the gateway does, for devices over
// a year: each day's records are rewritten several times (the gateway
// saves every minute) before the next day starts, and old days are pruned
// daily. It returns, per device and year, the bytes of the pages daily
// usage takes and the growth of the file (which bbolt grows by doubling
// its size, up to 1 GB, so it runs ahead of the pages in use).
func growthPerDeviceYear(tb testing.TB, devices, rewrites int) (pages, file float64) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			tb.Fatal(err)
		}
		return st.Size()
	}
	base := size()
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]DayUsage, devices)
	for d := range 365 {
		day := day0.AddDate(0, 0, d).Format(time.DateOnly)
		for w := 1; w <= rewrites; w++ {
			frac := float64(w) / float64(rewrites)
			for i := range recs {
				// Realistic values: a device in three states, seconds
				// with fractions.
				recs[i] = DayUsage{Day: day, Device: fmt.Sprintf("gicu-%02d-vent", i), Unit: "gicu", Kind: "ventilator",
					InUse: 51234.567 * frac, Standby: 33012.345 * frac, Offline: 2153.088 * frac}
			}
			if err := s.SaveUsageDays(nil, recs); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := s.PruneUsageDays(day0.AddDate(0, 0, d-UsageRetentionDays+1).Format(time.DateOnly)); err != nil {
			tb.Fatal(err)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketUsageDays).Stats()
		pages = float64(st.BranchAlloc+st.LeafAlloc) / float64(devices)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return pages, float64(size()-base) / float64(devices)
}

// TestUsageDaysGrowth bounds what daily usage costs on disk: under 64 KB
// of pages per device and year (the docs state the measured figure; see
// BenchmarkUsageDaysGrowth).
func TestUsageDaysGrowth(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes a year of daily usage (-short)")
	}
	pages, file := growthPerDeviceYear(t, 20, 2)
	t.Logf("daily usage takes %.0f bytes of pages per device-year; the file grew %.0f", pages, file)
	if pages > 64<<10 {
		t.Errorf("daily usage takes %.0f bytes per device-year, want under 64 KB", pages)
	}
}

// BenchmarkUsageDaysGrowth measures state.db's growth per device-year for
// the demo hospital's 130 devices.
func BenchmarkUsageDaysGrowth(b *testing.B) {
	for b.Loop() {
		pages, file := growthPerDeviceYear(b, 130, 3)
		b.ReportMetric(pages, "page-bytes/device-year")
		b.ReportMetric(file, "file-bytes/device-year")
	}
}
