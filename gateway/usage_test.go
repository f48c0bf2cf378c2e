package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/store"
)

// An interval between two snapshots is split at local midnights; one
// that spans more than yesterday and today counts only those two.
func TestDayShares(t *testing.T) {
	t.Parallel()
	mid := time.Date(2026, 12, 5, 0, 0, 0, 0, time.Local)
	tests := []struct {
		name     string
		from, to time.Time
		want     string
	}{
		{"first snapshot", time.Time{}, mid.Add(time.Hour), "2026-12-05:1"},
		{"within a day", mid.Add(time.Hour), mid.Add(2 * time.Hour), "2026-12-05:1"},
		{"across midnight", mid.Add(-time.Second), mid.Add(3 * time.Second), "2026-12-05:0.75 2026-12-04:0.25"},
		{"ending at midnight", mid.Add(-time.Second), mid, "2026-12-04:1"},
		{"clock back", mid.Add(time.Hour), mid, "2026-12-05:1"},
		{"three days", mid.Add(-36 * time.Hour), mid.Add(12 * time.Hour), "2026-12-05:0.25 2026-12-04:0.5"},
	}
	for _, tc := range tests {
		var got string
		for _, p := range dayShares(tc.from, tc.to) {
			if got != "" {
				got += " "
			}
			got += fmt.Sprintf("%s:%g", p.day, p.share)
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// snapAt is a snapshot of devices at at; each device is id, kind, unit
// and its utilisation.
func snapAt(at time.Time, devs ...pipeline.DeviceStatus) *pipeline.Snapshot {
	return &pipeline.Snapshot{AsOf: at, Devices: devs}
}

func devAt(id, kind, unit string, u pipeline.Utilisation) pipeline.DeviceStatus {
	return pipeline.DeviceStatus{ID: id, Kind: kind, Unit: unit, Utilisation: u}
}

// Each snapshot's growth goes to the device's unit of the moment and to
// the day it falls on; a device whose times went back starts afresh; the
// records changed since the last save are saved, and days before
// yesterday leave memory once saved.
func TestDailyUsageAccount(t *testing.T) {
	t.Parallel()
	var u dailyUsage
	day := time.Date(2026, 12, 5, 22, 0, 0, 0, time.Local)
	u.account(snapAt(day, devAt("v", "ventilator", "icu", pipeline.Utilisation{InUse: 100}))) // the mark
	u.account(snapAt(day.Add(time.Hour), devAt("v", "ventilator", "icu", pipeline.Utilisation{InUse: 100 + 3600})))
	// Moved to the hospital's store: the next half hour is the store's.
	u.account(snapAt(day.Add(90*time.Minute), devAt("v", "ventilator", "", pipeline.Utilisation{InUse: 3700, Standby: 1800})))
	// Across midnight: 30 minutes each side.
	u.account(snapAt(day.Add(150*time.Minute), devAt("v", "ventilator", "", pipeline.Utilisation{InUse: 3700, Standby: 5400})))
	// A reload removed and re-added it: its count went back to zero.
	u.account(snapAt(day.Add(151*time.Minute), devAt("v", "ventilator", "", pipeline.Utilisation{Standby: 10})))
	u.account(snapAt(day.Add(152*time.Minute), devAt("v", "ventilator", "", pipeline.Utilisation{Standby: 70})))

	got := map[string]string{}
	for _, r := range u.toSave() {
		got[r.Day+"/"+r.Unit] = fmt.Sprintf("in_use=%g standby=%g", r.InUse, r.Standby)
	}
	want := map[string]string{
		"2026-12-05/icu": "in_use=3600 standby=0",
		"2026-12-05/":    "in_use=0 standby=3600",
		"2026-12-06/":    "in_use=0 standby=1860",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records:\n got %v\nwant %v", got, want)
	}
	u.saved(day.Add(152 * time.Minute))
	if n := len(u.toSave()); n != 0 {
		t.Errorf("%d records to save right after a save", n)
	}
	// Two days later, yesterday's and older records leave memory.
	u.saved(day.Add(50 * time.Hour))
	if n := len(u.copyRange("2000-01-01", "2100-01-01", nil)); n != 0 {
		t.Errorf("%d records in memory two days later, want none", n)
	}
}

// usageGateway is a gateway on the small site with a state store and a
// settable clock, without its loop: tests feed snapshots themselves.
type usageGateway struct {
	g     *Gateway
	mu    sync.Mutex
	clock time.Time
}

func (u *usageGateway) now() time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.clock
}

func newUsageGateway(t testing.TB, now time.Time) *usageGateway {
	t.Helper()
	dir := t.TempDir()
	site, _ := smallSite(t, dir, nil, "")
	u := &usageGateway{clock: now}
	g, err := New(site, Options{Now: u.now, Logger: slog.New(slog.DiscardHandler), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g.store = st
	u.g = g
	return u
}

// publish serves and accounts a snapshot, as the loop does.
func (u *usageGateway) publish(s *pipeline.Snapshot) {
	u.g.snap.Store(s)
	u.g.details.accountDaily(s)
}

func hours(h float64) float64 { return h * 3600 }

func pctOf(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// The report aggregates stored days and the day in memory by device, kind
// and unit: every configured group, with days without data as such;
// a device since removed from the config after them; the hospital's
// store as a unit; percentages by the documented formulas.
func TestUsageReportAggregates(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 12, 5, 12, 0, 0, 0, time.Local)
	u := newUsageGateway(t, today)
	g := u.g
	rec := func(day, dev, unit, kind string, inUse, standby, offline, fault, maint float64) store.DayUsage {
		return store.DayUsage{Day: day, Device: dev, Unit: unit, Kind: kind, InUse: hours(inUse), Standby: hours(standby),
			Offline: hours(offline), Fault: hours(fault), Maintenance: hours(maint)}
	}
	err := g.store.SaveUsageDays(nil, []store.DayUsage{
		rec("2026-12-03", "vent-1", "icu", "ventilator", 6, 12, 2, 1, 3),
		rec("2026-12-03", "mon-1", "icu", "monitor", 0, 24, 0, 0, 0),
		rec("2026-12-03", "vent-9", "icu", "ventilator", 0, 0, 0, 0, 24), // since removed from the config
		rec("2026-12-04", "vent-1", "icu", "ventilator", 10, 0, 0, 0, 0),
		rec("2026-12-04", "vent-1", "", "ventilator", 0, 14, 0, 0, 0),    // moved to the store
		rec("2026-11-01", "vent-1", "icu", "ventilator", 24, 0, 0, 0, 0), // outside the range
	})
	if err != nil {
		t.Fatal(err)
	}
	// Today, in memory only: vent-1 in use for two hours.
	u.publish(snapAt(today.Add(-2*time.Hour), devAt("vent-1", "ventilator", "icu", pipeline.Utilisation{})))
	u.publish(snapAt(today, devAt("vent-1", "ventilator", "icu", pipeline.Utilisation{InUse: hours(2)})))

	ctx := context.Background()
	q := api.UsageQuery{From: "2026-12-02", To: "2026-12-05", By: api.UsageByDevice}
	rep, err := g.usageReport(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rep.Totals {
		ids = append(ids, r.ID)
	}
	if want := []string{"mon-1", "vent-1", "mon-2", "vent-2", "vent-9"}; !slices.Equal(ids, want) {
		t.Errorf("device groups %v, want %v (config order, then the removed device)", ids, want)
	}
	if len(rep.Rows) != 5*4 {
		t.Fatalf("%d rows, want 20 (5 devices × 4 days)", len(rep.Rows))
	}
	row := func(rows []api.UsageRow, id, day string) api.UsageRow {
		t.Helper()
		for _, r := range rows {
			if r.ID == id && r.Day == day {
				return r
			}
		}
		t.Fatalf("no row %s %q", id, day)
		return api.UsageRow{}
	}
	r := row(rep.Rows, "vent-1", "2026-12-03")
	if got := fmt.Sprintf("%g %g %s %s %v %s", r.InUse, r.Observed, pctOf(r.AvailabilityPct), pctOf(r.UtilisationPct), r.Units, r.Kind); got != "6 24 75 33.33 [icu] ventilator" {
		t.Errorf("vent-1 on 12-03: %s; want 6 h in use of 24 observed, availability 75 %%, utilisation 33.33 %%", got)
	}
	if r := row(rep.Rows, "vent-1", "2026-12-02"); !r.NoData || r.AvailabilityPct != nil || r.UtilisationPct != nil || r.Devices != 0 {
		t.Errorf("a day without data: %+v; want no_data and no percentages", r)
	}
	if r := row(rep.Rows, "vent-1", "2026-12-04"); fmt.Sprint(r.Units) != "[(store) icu]" || r.Observed != 24 || *r.UtilisationPct != 41.67 {
		t.Errorf("vent-1 on the day it moved: %+v", r)
	}
	if r := row(rep.Rows, "vent-1", "2026-12-05"); r.InUse != 2 || r.Observed != 2 {
		t.Errorf("vent-1 today (memory only): %+v", r)
	}
	if r := row(rep.Rows, "vent-9", "2026-12-03"); r.Kind != "ventilator" || *r.AvailabilityPct != 0 || r.UtilisationPct != nil {
		t.Errorf("a device all day in maintenance: %+v; want 0 %% available, utilisation null", r)
	}
	if r := row(rep.Totals, "vent-1", ""); r.InUse != 18 || r.Observed != 50 || *r.AvailabilityPct != 88 {
		t.Errorf("vent-1 over the range: %+v", r)
	}
	if r := rep.Total; r.ID != api.UsageAllID || r.Observed != 98 || r.Devices != 3 {
		t.Errorf("total: %+v", r)
	}

	rep, err = g.usageReport(ctx, api.UsageQuery{From: "2026-12-03", To: "2026-12-04", By: api.UsageByUnit})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Totals) != 2 || rep.Totals[0].ID != "icu" || rep.Totals[1].ID != api.UsageStoreUnit {
		t.Fatalf("unit groups %+v, want icu then the hospital's store", rep.Totals)
	}
	if r := row(rep.Rows, "icu", "2026-12-03"); r.Devices != 3 || r.Observed != 72 || r.InUse != 6 || r.Maintenance != 27 {
		t.Errorf("icu on 12-03: %+v", r)
	}
	if r := row(rep.Rows, api.UsageStoreUnit, "2026-12-04"); r.Standby != 14 || r.Devices != 1 {
		t.Errorf("store on 12-04: %+v", r)
	}

	rep, err = g.usageReport(ctx, api.UsageQuery{From: "2026-12-03", To: "2026-12-03", By: api.UsageByKind})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s:%d:%g %s:%d:%g", rep.Rows[0].ID, rep.Rows[0].Devices, rep.Rows[0].Standby, rep.Rows[1].ID, rep.Rows[1].Devices, rep.Rows[1].Maintenance); got != "monitor:1:24 ventilator:2:27" {
		t.Errorf("kinds on 12-03: %s", got)
	}

	// One group only; an id that names nothing gives no totals.
	for _, c := range []struct {
		q    api.UsageQuery
		rows int
	}{
		{api.UsageQuery{From: "2026-12-03", To: "2026-12-05", By: api.UsageByDevice, ID: "vent-1"}, 3},
		{api.UsageQuery{From: "2026-12-03", To: "2026-12-05", By: api.UsageByUnit, ID: api.UsageStoreUnit}, 3},
		{api.UsageQuery{From: "2026-12-03", To: "2026-12-05", By: api.UsageByKind, ID: "monitor"}, 3},
		{api.UsageQuery{From: "2026-12-03", To: "2026-12-05", By: api.UsageByDevice, ID: "vent-9"}, 3},
		{api.UsageQuery{From: "2026-12-03", To: "2026-12-05", By: api.UsageByUnit, ID: "nowhere"}, 0},
	} {
		rep, err := g.usageReport(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Rows) != c.rows || (c.rows > 0 && (len(rep.Totals) != 1 || rep.Totals[0].ID != c.q.ID)) {
			t.Errorf("%+v: %d rows, totals %+v; want %d rows of %s", c.q, len(rep.Rows), rep.Totals, c.rows, c.q.ID)
		}
	}

	// Saving changes nothing in the report: memory and store agree.
	g.saveUsage()
	again, err := g.usageReport(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if r := row(again.Rows, "vent-1", "2026-12-05"); r.InUse != 2 {
		t.Errorf("vent-1 today after the save: %+v", r)
	}
	// The device page's summary is the same days.
	days := g.deviceUsage("vent-1", today, usageDays)
	if len(days) != usageDays || days[usageDays-1].InUse != 2 || days[usageDays-2].Standby != 14 || days[0].InUse != 0 {
		t.Errorf("device page usage: %+v", days)
	}
}

// Pruning deletes the days beyond the retention, once a day.
func TestUsageDaysPruned(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.Local)
	u := newUsageGateway(t, now)
	g := u.g
	oldest := now.AddDate(0, 0, 1-store.UsageRetentionDays)
	save := func(days ...time.Time) {
		t.Helper()
		var recs []store.DayUsage
		for _, d := range days {
			recs = append(recs, store.DayUsage{Day: localDay(d), Device: "vent-1", Unit: "icu", Kind: "ventilator", Standby: 60})
		}
		if err := g.store.SaveUsageDays(nil, recs); err != nil {
			t.Fatal(err)
		}
	}
	kept := func() []string {
		t.Helper()
		var out []string
		if err := g.store.UsageDays("2000-01-01", "2100-01-01", nil, func(r store.DayUsage) error {
			out = append(out, r.Day)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	save(oldest.AddDate(0, 0, -1), oldest, now)
	g.pruneUsageDays(now)
	if got := kept(); !slices.Equal(got, []string{localDay(oldest), localDay(now)}) {
		t.Errorf("after pruning: %v; want the oldest day kept (%s) and today", got, localDay(oldest))
	}
	// Once a day: a second call the same day does not walk the store.
	save(oldest.AddDate(0, 0, -2))
	g.pruneUsageDays(now.Add(time.Hour))
	if got := kept(); len(got) != 3 {
		t.Errorf("pruned twice in a day: %v", got)
	}
	g.pruneUsageDays(now.AddDate(0, 0, 1))
	if got := kept(); !slices.Equal(got, []string{localDay(now)}) {
		t.Errorf("the next day: %v, want only %s", got, localDay(now))
	}
}

// Daily usage is saved with the once-a-minute save and survives a
// restart: the day continues from what was saved, and the time the
// gateway was down is in no state.
func TestUsageDaysSurviveRestart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		start := time.Now()
		run := func(h *loopHarness, d time.Duration) {
			// mon-1 answers, idle; the others never answer (offline).
			for end := time.Now().Add(d); time.Now().Before(end); {
				h.offer(t, obs(t, site, "mon-1", time.Now(), nil))
				time.Sleep(time.Second)
			}
			h.sync(t)
		}
		h := startLoop(t, site, path, dir, loopOptions{})
		run(h, 3*time.Minute)
		// Saved within the minute, before any stop.
		var saved float64
		if err := h.g.store.UsageDays(localDay(start), localDay(start), nil, func(r store.DayUsage) error {
			if r.Device == "mon-1" {
				saved += r.Standby
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if saved < 120 {
			t.Errorf("after 3 minutes the store holds %g s of mon-1 standby, want at least 2 minutes", saved)
		}
		run(h, 7*time.Minute)
		h.stop()
		time.Sleep(time.Hour) // the gateway is down
		h = startLoop(t, site, path, dir, loopOptions{})
		run(h, 10*time.Minute)
		rep, err := h.g.usageReport(context.Background(), api.UsageQuery{From: localDay(start), To: localDay(time.Now()), By: api.UsageByDevice})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]api.UsageRow{}
		for _, r := range rep.Totals {
			got[r.ID] = r
		}
		// Twenty minutes observed, give or take the freshness window at
		// each start (mon-1 is offline until its first answer).
		near := func(x, want float64) bool { return math.Abs(x-want) < 0.01 }
		if r := got["mon-1"]; !near(r.Observed, 20.0/60) || !near(r.Standby, 20.0/60) {
			t.Errorf("mon-1: %g h observed, %g h standby; want 1/3 h each (two runs of 10 minutes)", r.Observed, r.Standby)
		}
		if r := got["vent-2"]; !near(r.Offline, 20.0/60) || r.Standby != 0 {
			t.Errorf("vent-2, never seen: %+v; want 1/3 h offline", r)
		}
		h.stop()
	})
}

// BenchmarkUsageReport: a year (366 days) of the demo hospital's 130
// devices in 3 units, by unit and by device, from the state store.
func BenchmarkUsageReport(b *testing.B) {
	dir := b.TempDir()
	site := &config.Site{Units: []config.Unit{{ID: "gicu"}, {ID: "ricu"}, {ID: "conv"}}}
	kinds := []string{"ventilator", "monitor", "ecmo", "crrt"}
	for i := range 130 {
		site.Devices = append(site.Devices, config.Device{ID: fmt.Sprintf("dev-%03d", i), Kind: kinds[i%4]})
	}
	to := time.Date(2026, 12, 5, 12, 0, 0, 0, time.Local)
	g, err := New(site, Options{Now: func() time.Time { return to }, Logger: slog.New(slog.DiscardHandler), DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	g.store = st
	from := to.AddDate(0, 0, 1-api.UsageMaxDays)
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		recs := make([]store.DayUsage, 0, len(site.Devices))
		for i, dev := range site.Devices {
			recs = append(recs, store.DayUsage{Day: localDay(d), Device: dev.ID, Unit: site.Units[i%3].ID, Kind: dev.Kind,
				InUse: 40000.5, Standby: 40000.25, Offline: 3000, Fault: 1000, Maintenance: 2399.25})
		}
		if err := st.SaveUsageDays(nil, recs); err != nil {
			b.Fatal(err)
		}
	}
	for _, by := range []string{api.UsageByUnit, api.UsageByDevice} {
		b.Run("by="+by, func(b *testing.B) {
			q := api.UsageQuery{From: localDay(from), To: localDay(to), By: by}
			for b.Loop() {
				rep, err := g.usageReport(context.Background(), q)
				if err != nil || rep.Total.Devices != 130 {
					b.Fatalf("%v, %d devices", err, rep.Total.Devices)
				}
			}
		})
	}
}
