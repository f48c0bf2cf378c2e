package gateway

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/pipeline"
)

// withStoreVentilator adds vent-9 in the hospital's store to the small site.
func withStoreVentilator(text string) string {
	return strings.Replace(text, "outbox:\n",
		"  - {id: vent-9, kind: ventilator, profile: generic-ventilator-modbus, at: central-store, modbus: {address: \"127.0.0.3:9\", unit_id: 1}}\noutbox:\n", 1)
}

// scrape gathers reg and returns the state series by name and labels, as
// `name{k="v",...}` with labels sorted.
func scrape(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "icugate_device_") && !strings.HasPrefix(mf.GetName(), "icugate_bed_") && !strings.HasPrefix(mf.GetName(), "icugate_unit_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			sort.Strings(ls)
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// render is series as sorted lines of `series value`.
func render(series map[string]float64) string {
	lines := make([]string, 0, len(series))
	for k, v := range series {
		lines = append(lines, fmt.Sprintf("%s %v", k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Before the devices answer, every device is offline and never seen, every
// bed degraded and nothing verified.
func TestStateMetricsBeforeAnyAnswer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, withStoreVentilator, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		h.sync(t)
		got := scrape(t, h.g.reg)
		if n := len(got); n != 5*5+5+3*2+6*2 {
			t.Errorf("%d state series, want %d (5 devices × 6, 2 beds × 3, unit and hospital × 6)", n, 5*5+5+3*2+6*2)
		}
		for k, v := range got {
			if !strings.HasPrefix(k, "icugate_device_") {
				continue
			}
			want := 0.0
			if strings.Contains(k, `state="offline"`) {
				want = 1
			}
			if strings.HasPrefix(k, "icugate_device_last_seen_seconds") {
				t.Errorf("%s = %v for a device never seen, want absent", k, v)
			}
			if v != want {
				t.Errorf("%s = %v before any answer, want %v", k, v, want)
			}
		}
		for k, want := range map[string]float64{
			`icugate_bed_state{bed="icu-01",class="general",state="degraded",unit="icu"}`: 1,
			`icugate_unit_beds{class="general",unit="icu",what="degraded"}`:               2,
			`icugate_unit_beds{class="all",unit="all",what="equipped"}`:                   0,
		} {
			if v, ok := got[k]; !ok || v != want {
				t.Errorf("%s = %v (served %v) before any answer, want %v", k, v, ok, want)
			}
		}
		if got[`icugate_unit_verified{unit="all"}`] != 0 {
			t.Error("hospital verified before any device answered")
		}
	})
}

// The devices answer, then vent-2 stops answering: the scrape shows every
// device's state, vent-2 offline with its age, its bed degraded and the
// counts unverified. A reload that replaces vent-2 with vent-3 removes
// vent-2's series and adds vent-3's, never seen.
func TestStateMetricsFollowDevicesAndReloads(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, withStoreVentilator, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		allStandby(t, h, site)
		inUse := func() pipeline.Observation {
			return obs(t, site, "mon-1", time.Now(), map[string]float64{"patient_connected": 1, "battery_pct": 80})
		}
		h.offer(t, inUse())
		h.sync(t)
		// Everyone but vent-2 answers every second for 6 s, past its
		// freshness window.
		for range 6 {
			time.Sleep(time.Second)
			for _, d := range site.Devices {
				if d.ID != "vent-2" && d.ID != "mon-1" {
					h.offer(t, obs(t, site, d.ID, time.Now(), nil))
				}
			}
			h.offer(t, inUse())
		}
		h.sync(t)

		const want = `
icugate_bed_state{bed="icu-01",class="general",state="available",unit="icu"} 0
icugate_bed_state{bed="icu-01",class="general",state="degraded",unit="icu"} 0
icugate_bed_state{bed="icu-01",class="general",state="occupied",unit="icu"} 1
icugate_bed_state{bed="icu-02",class="general",state="available",unit="icu"} 0
icugate_bed_state{bed="icu-02",class="general",state="degraded",unit="icu"} 1
icugate_bed_state{bed="icu-02",class="general",state="occupied",unit="icu"} 0
icugate_device_last_seen_seconds{device="mon-1",kind="monitor",unit="icu"} 0
icugate_device_last_seen_seconds{device="mon-2",kind="monitor",unit="icu"} 0
icugate_device_last_seen_seconds{device="vent-1",kind="ventilator",unit="icu"} 0
icugate_device_last_seen_seconds{device="vent-2",kind="ventilator",unit="icu"} 6
icugate_device_last_seen_seconds{device="vent-9",kind="ventilator",unit="hospital"} 0
icugate_device_seen{device="mon-1",kind="monitor",unit="icu"} 1
icugate_device_seen{device="mon-2",kind="monitor",unit="icu"} 1
icugate_device_seen{device="vent-1",kind="ventilator",unit="icu"} 1
icugate_device_seen{device="vent-2",kind="ventilator",unit="icu"} 1
icugate_device_seen{device="vent-9",kind="ventilator",unit="hospital"} 1
icugate_device_state{device="mon-1",kind="monitor",state="fault",unit="icu"} 0
icugate_device_state{device="mon-1",kind="monitor",state="in_use",unit="icu"} 1
icugate_device_state{device="mon-1",kind="monitor",state="maintenance",unit="icu"} 0
icugate_device_state{device="mon-1",kind="monitor",state="offline",unit="icu"} 0
icugate_device_state{device="mon-1",kind="monitor",state="standby",unit="icu"} 0
icugate_device_state{device="mon-2",kind="monitor",state="fault",unit="icu"} 0
icugate_device_state{device="mon-2",kind="monitor",state="in_use",unit="icu"} 0
icugate_device_state{device="mon-2",kind="monitor",state="maintenance",unit="icu"} 0
icugate_device_state{device="mon-2",kind="monitor",state="offline",unit="icu"} 0
icugate_device_state{device="mon-2",kind="monitor",state="standby",unit="icu"} 1
icugate_device_state{device="vent-1",kind="ventilator",state="fault",unit="icu"} 0
icugate_device_state{device="vent-1",kind="ventilator",state="in_use",unit="icu"} 0
icugate_device_state{device="vent-1",kind="ventilator",state="maintenance",unit="icu"} 0
icugate_device_state{device="vent-1",kind="ventilator",state="offline",unit="icu"} 0
icugate_device_state{device="vent-1",kind="ventilator",state="standby",unit="icu"} 1
icugate_device_state{device="vent-2",kind="ventilator",state="fault",unit="icu"} 0
icugate_device_state{device="vent-2",kind="ventilator",state="in_use",unit="icu"} 0
icugate_device_state{device="vent-2",kind="ventilator",state="maintenance",unit="icu"} 0
icugate_device_state{device="vent-2",kind="ventilator",state="offline",unit="icu"} 1
icugate_device_state{device="vent-2",kind="ventilator",state="standby",unit="icu"} 0
icugate_device_state{device="vent-9",kind="ventilator",state="fault",unit="hospital"} 0
icugate_device_state{device="vent-9",kind="ventilator",state="in_use",unit="hospital"} 0
icugate_device_state{device="vent-9",kind="ventilator",state="maintenance",unit="hospital"} 0
icugate_device_state{device="vent-9",kind="ventilator",state="offline",unit="hospital"} 0
icugate_device_state{device="vent-9",kind="ventilator",state="standby",unit="hospital"} 1
icugate_unit_beds{class="all",unit="all",what="available"} 0
icugate_unit_beds{class="all",unit="all",what="degraded"} 1
icugate_unit_beds{class="all",unit="all",what="equipped"} 1
icugate_unit_beds{class="all",unit="all",what="occupied"} 1
icugate_unit_beds{class="all",unit="all",what="total"} 2
icugate_unit_beds{class="general",unit="icu",what="available"} 0
icugate_unit_beds{class="general",unit="icu",what="degraded"} 1
icugate_unit_beds{class="general",unit="icu",what="equipped"} 1
icugate_unit_beds{class="general",unit="icu",what="occupied"} 1
icugate_unit_beds{class="general",unit="icu",what="total"} 2
icugate_unit_verified{unit="all"} 0
icugate_unit_verified{unit="icu"} 0
`
		if got := render(scrape(t, h.g.reg)); got != strings.TrimSpace(want) {
			t.Errorf("state series:\n%s\nwant:\n%s", got, strings.TrimSpace(want))
		}

		// The scrape's age runs on the gateway's clock, not the snapshot's.
		time.Sleep(1500 * time.Millisecond)
		if got := scrape(t, h.g.reg)[`icugate_device_last_seen_seconds{device="vent-2",kind="ventilator",unit="icu"}`]; got != 7.5 {
			t.Errorf("vent-2 last seen %v s ago 1.5 s later, want 7.5", got)
		}

		writeSmallSite(t, dir, func(text string) string {
			return strings.Replace(withStoreVentilator(text), "  - {id: vent-2,", "  - {id: vent-3,", 1)
		}, "")
		if err := h.g.Reload(context.Background()); err != nil {
			t.Fatalf("reload: %v", err)
		}
		got := scrape(t, h.g.reg)
		for k := range got {
			if strings.Contains(k, `device="vent-2"`) {
				t.Errorf("%s still served after vent-2 was removed", k)
			}
		}
		for k, want := range map[string]float64{
			`icugate_device_seen{device="vent-3",kind="ventilator",unit="icu"}`:                       0,
			`icugate_device_state{device="vent-3",kind="ventilator",state="offline",unit="icu"}`:      1,
			`icugate_device_state{device="vent-3",kind="ventilator",state="standby",unit="icu"}`:      0,
			`icugate_device_state{device="vent-1",kind="ventilator",state="standby",unit="icu"}`:      1,
			`icugate_bed_state{bed="icu-02",class="general",state="degraded",unit="icu"}`:             1,
			`icugate_device_state{device="vent-9",kind="ventilator",state="standby",unit="hospital"}`: 1,
		} {
			if v, ok := got[k]; !ok || v != want {
				t.Errorf("%s = %v (served %v) after the reload, want %v", k, v, ok, want)
			}
		}
		if _, ok := got[`icugate_device_last_seen_seconds{device="vent-3",kind="ventilator",unit="icu"}`]; ok {
			t.Error("vent-3, never seen, has a last-seen age")
		}
		if n := len(got); n != 5*5+4+1+4+3*2+6*2 {
			t.Errorf("%d state series after the reload, want %d", n, 5*5+4+1+4+3*2+6*2)
		}
	})
}

// BenchmarkStateScrape is one scrape of the state series of a site of
// 2,000 devices (400 beds of five devices, 20 units of 20 beds).
func BenchmarkStateScrape(b *testing.B) {
	const units, bedsPerUnit, devsPerBed = 20, 20, 5
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s := &pipeline.Snapshot{AsOf: now, Hospital: "h1"}
	kinds := []string{"monitor", "ventilator", "pump", "ecmo", "dialysis"}
	var hosp pipeline.Capacity
	hosp.Unit, hosp.Class = pipeline.All, pipeline.All
	for u := range units {
		unit := fmt.Sprintf("u%02d", u)
		cp := pipeline.Capacity{Unit: unit, Class: "general", BedsTotal: bedsPerUnit, BedsDegraded: bedsPerUnit}
		s.Capacity.Units = append(s.Capacity.Units, cp)
		hosp.BedsTotal += bedsPerUnit
		for bi := range bedsPerUnit {
			bed := fmt.Sprintf("%s-%02d", unit, bi)
			s.Beds = append(s.Beds, pipeline.BedStatus{ID: bed, Unit: unit, Class: "general"})
			for k := range devsPerBed {
				seen := now.Add(-time.Duration(k) * time.Second)
				s.Devices = append(s.Devices, pipeline.DeviceStatus{
					ID: fmt.Sprintf("%s-%s", bed, kinds[k]), Kind: kinds[k], Unit: unit, At: bed, AtType: "bed",
					State: pipeline.DeviceState(k), LastSeen: &seen,
				})
			}
		}
	}
	s.Capacity.Hospital = hosp
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStateCollector(func() *pipeline.Snapshot { return s }, func() time.Time { return now }))
	if n := len(s.Devices); n != 2000 {
		b.Fatalf("%d devices, want 2000", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
