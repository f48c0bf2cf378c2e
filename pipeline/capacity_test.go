package pipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

func TestConvertibleReadinessGreedy(t *testing.T) {
	// Two convertible units of 3 beds each (c1 needs a monitor and a
	// ventilator, c2 a monitor and two ventilators), c1's own store and
	// the hospital's store.
	b := newSiteBuilder(t, 0).
		unit("c1", config.ClassConvertible, 3).
		unit("c2", config.ClassConvertible, 3, "monitor", "ventilator", "ventilator").
		pool("c1-store", "c1").pool("central", "").
		// c1-1 fully installed.
		device("m-a", "monitor", "c1-1").device("v-a", "ventilator", "c1-1").
		// c1-2 has its monitor; needs a ventilator.
		device("m-b", "monitor", "c1-2").
		// c1's store: one ventilator.
		device("v-s1", "ventilator", "c1-store").
		// Central: 2 monitors, 3 ventilators (one of them faulted), 1 in maintenance.
		device("m-c1", "monitor", "central").device("m-c2", "monitor", "central").
		device("v-c1", "ventilator", "central").device("v-c2", "ventilator", "central").
		device("v-c3", "ventilator", "central").device("v-c4", "ventilator", "central")
	e := b.engine()
	for _, id := range []string{"m-a", "v-a", "m-b", "v-s1", "m-c1", "m-c2", "v-c1", "v-c2", "v-c3"} {
		obs(t, e, id, 0, Standby)
	}
	obs(t, e, "v-c3", 0, Fault)
	obs(t, e, "v-c4", 0, Standby)
	if err := e.SetMaintenance("v-c4", true, at(0), "eng"); err != nil {
		t.Fatal(err)
	}
	s := e.Snapshot()
	// c1-1 equipped; c1-2 takes v-s1 (own store first); c1-3 takes m-c1 +
	// v-c1; c2-1 needs m + 2v: only m-c2 and v-c2 left -> not ready, takes
	// nothing; c2-2, c2-3 likewise.
	want := []ReadyBed{
		{Unit: "c1", Bed: "c1-1", Via: "equipped"},
		{Unit: "c1", Bed: "c1-2", Via: "pool", Devices: []string{"v-s1"}},
		{Unit: "c1", Bed: "c1-3", Via: "pool", Devices: []string{"m-c1", "v-c1"}},
	}
	if !slices.EqualFunc(s.Readiness, want, readyEqual) {
		t.Fatalf("readiness %+v\nwant %+v", s.Readiness, want)
	}
	if got := unitCap(t, s, "c1").ConvertibleReady; got != 3 {
		t.Fatalf("c1 ready %d, want 3", got)
	}
	if got := unitCap(t, s, "c2").ConvertibleReady; got != 0 {
		t.Fatalf("c2 ready %d, want 0", got)
	}
	if s.Capacity.Hospital.ConvertibleReady != 3 || s.Capacity.Classes[2].ConvertibleReady != 3 {
		t.Fatalf("hospital/class ready %d/%d, want 3", s.Capacity.Hospital.ConvertibleReady, s.Capacity.Classes[2].ConvertibleReady)
	}
	// A second central ventilator in standby makes c2-1 ready with m-c2,
	// v-c2 and v-c3.
	obs(t, e, "v-c3", sec, Standby)
	s = e.Snapshot()
	if got := s.Capacity.Hospital.ConvertibleReady; got != 4 {
		t.Fatalf("ready after repair %d, want 4: %+v", got, s.Readiness)
	}
	last := s.Readiness[len(s.Readiness)-1]
	if last.Bed != "c2-1" || !slices.Equal(last.Devices, []string{"m-c2", "v-c2", "v-c3"}) {
		t.Fatalf("c2-1 allocation %+v", last)
	}
}

func readyEqual(a, b ReadyBed) bool {
	return a.Unit == b.Unit && a.Bed == b.Bed && a.Via == b.Via && slices.Equal(a.Devices, b.Devices)
}

func TestReadinessMatchesFormulaForEmptyBeds(t *testing.T) {
	// With no devices at the beds and one store, greedy matching gives
	// min(beds, min over kinds of floor(standby / need)).
	for _, tc := range []struct{ beds, monitors, vents, want int }{
		{5, 3, 7, 3}, {5, 9, 9, 4}, {4, 2, 3, 1}, {4, 0, 8, 0},
	} {
		t.Run(fmt.Sprintf("%d-%d-%d", tc.beds, tc.monitors, tc.vents), func(t *testing.T) {
			b := newSiteBuilder(t, 0).unit("c", config.ClassConvertible, tc.beds, "monitor", "ventilator", "ventilator").pool("p", "")
			for i := range tc.monitors {
				b.device(fmt.Sprintf("m%d", i), "monitor", "p")
			}
			for i := range tc.vents {
				b.device(fmt.Sprintf("v%d", i), "ventilator", "p")
			}
			e := b.engine()
			for _, d := range b.site.Devices {
				obs(t, e, d.ID, 0, Standby)
			}
			if got := e.Snapshot().Capacity.Hospital.ConvertibleReady; got != tc.want {
				t.Fatalf("ready %d, want %d", got, tc.want)
			}
		})
	}
}

func TestVerifiedAndEvidence(t *testing.T) {
	b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).unit("s", config.ClassSpecialty, 1).
		device("m1", "monitor", "g-1").device("v1", "ventilator", "g-1").
		device("m2", "monitor", "s-1").device("v2", "ventilator", "s-1")
	e := b.engine()
	obs(t, e, "m1", 0, Standby)
	obs(t, e, "v1", 0, Standby)
	obs(t, e, "m2", 0, Standby)
	e.Advance(at(3 * sec))
	obs(t, e, "m1", 3*sec, Standby)
	obs(t, e, "v1", 3*sec, Standby)
	e.Advance(at(6 * sec)) // m2 last seen at 0: stale; v2 never seen
	s := e.Snapshot()
	g, sp, h := unitCap(t, s, "g"), unitCap(t, s, "s"), s.Capacity.Hospital
	if !g.Verified || g.Evidence.Coverage != 1 {
		t.Fatalf("unit g: verified %v evidence %+v", g.Verified, g.Evidence)
	}
	wantEv := Evidence{Stale: []string{"m2"}, Missing: []string{"v2"}, Fresh: 0, Configured: 2, Coverage: 0}
	if sp.Verified || !evidenceEqual(sp.Evidence, wantEv) {
		t.Fatalf("unit s: verified %v evidence %+v", sp.Verified, sp.Evidence)
	}
	wantH := Evidence{Stale: []string{"m2"}, Missing: []string{"v2"}, Fresh: 2, Configured: 4, Coverage: 0.5}
	if h.Verified || !evidenceEqual(h.Evidence, wantH) {
		t.Fatalf("hospital: verified %v evidence %+v", h.Verified, h.Evidence)
	}
	if c := s.Capacity.Classes[0]; c.Class != config.ClassGeneral || !c.Verified {
		t.Fatalf("general class %+v", c)
	}
}

func evidenceEqual(a, b Evidence) bool {
	return slices.Equal(a.Stale, b.Stale) && slices.Equal(a.Missing, b.Missing) &&
		a.Fresh == b.Fresh && a.Configured == b.Configured && a.Coverage == b.Coverage
}

func TestPolicyIndicators(t *testing.T) {
	type shares struct{ gen, spec, conv, icu bool }
	tests := []struct {
		level        string
		year         int
		total        int
		gen, sp, cv  int // configured beds per class
		wantTargets  [3]float64
		wantMet      shares
		wantYearUsed int
	}{
		{config.LevelTertiary, 2025, 1000, 40, 20, 40, [3]float64{0.04, 0.02, 0.04}, shares{true, true, true, true}, 2025},
		{config.LevelTertiary, 2025, 1000, 39, 21, 40, [3]float64{0.04, 0.02, 0.04}, shares{false, true, true, true}, 2025},
		{config.LevelTertiary, 2027, 1000, 40, 20, 40, [3]float64{0.045, 0.025, 0.045}, shares{false, false, false, false}, 2027},
		{config.LevelTertiary, 2027, 1000, 45, 25, 45, [3]float64{0.045, 0.025, 0.045}, shares{true, true, true, true}, 2027},
		{config.LevelSecondary, 2025, 500, 10, 5, 9, [3]float64{0.02, 0.01, 0.02}, shares{true, true, false, true}, 2025},
		{config.LevelSecondary, 2027, 500, 12, 6, 12, [3]float64{0.024, 0.012, 0.024}, shares{true, true, true, true}, 2027},
		{config.LevelSecondary, 2027, 500, 11, 7, 12, [3]float64{0.024, 0.012, 0.024}, shares{false, true, true, true}, 2027},
		{config.LevelSecondary, 2026, 500, 10, 5, 10, [3]float64{0.02, 0.01, 0.02}, shares{true, true, true, true}, 2025},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s-%d-%d-%d-%d", tc.level, tc.year, tc.gen, tc.sp, tc.cv), func(t *testing.T) {
			b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, tc.gen).
				unit("s", config.ClassSpecialty, tc.sp).unit("c", config.ClassConvertible, tc.cv)
			b.site.Hospital.Level, b.site.TargetYear, b.site.Hospital.TotalBeds = tc.level, tc.year, tc.total
			b.site.Hospital.Staffing = &config.Staffing{Doctors: tc.gen * 8 / 10, Nurses: tc.gen*3 - 1}
			p := b.engine().Snapshot().Policy
			if p.TargetsYear != tc.wantYearUsed || !p.TargetsKnown {
				t.Fatalf("targets year %d known %v", p.TargetsYear, p.TargetsKnown)
			}
			if got := [3]float64{p.General.Target, p.Specialty.Target, p.Convertible.Target}; got != tc.wantTargets {
				t.Fatalf("targets %v, want %v", got, tc.wantTargets)
			}
			if p.ICUBeds != tc.gen+tc.sp || p.ICU.ConfiguredBeds != tc.gen+tc.sp {
				t.Fatalf("icu beds %d", p.ICUBeds)
			}
			got := shares{p.General.ConfiguredMet, p.Specialty.ConfiguredMet, p.Convertible.ConfiguredMet, p.ICU.ConfiguredMet}
			if got != tc.wantMet {
				t.Fatalf("met %+v, want %+v", got, tc.wantMet)
			}
			// No device at any bed: nothing equipped, no equipped target met.
			if p.General.EquippedBeds != 0 || p.General.EquippedMet || p.EquippedRatio != 0 {
				t.Fatalf("equipped share %+v ratio %v", p.General, p.EquippedRatio)
			}
			st := p.Staffing
			if st == nil || !st.Declared || st.NursesMet || st.DoctorsMet != (tc.gen*8%10 == 0) {
				t.Fatalf("staffing %+v", st)
			}
		})
	}
}

func TestPolicyEquippedShare(t *testing.T) {
	b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 2)
	b.site.Hospital.TotalBeds = 50 // target 4%: 2 beds
	b.device("m1", "monitor", "g-1").device("v1", "ventilator", "g-1")
	e := b.engine()
	obs(t, e, "m1", 0, Standby)
	obs(t, e, "v1", 0, InUse)
	p := e.Snapshot().Policy
	if !p.General.ConfiguredMet || p.General.EquippedMet || p.General.EquippedBeds != 1 || p.EquippedRatio != 0.5 {
		t.Fatalf("general %+v ratio %v", p.General, p.EquippedRatio)
	}
	if p.Staffing != nil {
		t.Fatal("staffing indicators without declared staffing")
	}
}

func TestSnapshotJSON(t *testing.T) {
	b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).device("m1", "monitor", "g-1").device("v1", "ventilator", "g-1")
	b.site.Hospital.Staffing = &config.Staffing{Doctors: 1, Nurses: 3}
	e := b.engine()
	obs(t, e, "m1", 0, InUse)
	raw, err := json.Marshal(e.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsOf    time.Time `json:"as_of"`
		Devices []struct {
			ID       string     `json:"id"`
			State    string     `json:"state"`
			LastSeen *time.Time `json:"last_seen"`
		} `json:"devices"`
		Beds []struct {
			State  string   `json:"state"`
			Reason []string `json:"reason"`
		} `json:"beds"`
		Capacity struct {
			Hospital struct {
				BedsTotal    int `json:"beds_total"`
				BedsDegraded int `json:"beds_degraded"`
				Kinds        map[string]struct {
					Total int `json:"total"`
					InUse int `json:"in_use"`
				} `json:"kinds"`
				Verified bool `json:"verified"`
				Evidence struct {
					Missing  []string `json:"missing"`
					Coverage float64  `json:"coverage"`
				} `json:"evidence"`
			} `json:"hospital"`
		} `json:"capacity"`
		Policy struct {
			Staffing struct {
				Declared bool `json:"declared"`
			} `json:"staffing"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	h := doc.Capacity.Hospital
	if !doc.AsOf.Equal(t0) || doc.Devices[0].State != "in_use" || doc.Devices[1].LastSeen != nil ||
		doc.Beds[0].State != "degraded" || !slices.Equal(doc.Beds[0].Reason, []string{"ventilator v1 offline"}) ||
		h.BedsTotal != 1 || h.BedsDegraded != 1 || h.Kinds["monitor"].InUse != 1 || h.Verified ||
		!slices.Equal(h.Evidence.Missing, []string{"v1"}) || h.Evidence.Coverage != 0.5 || !doc.Policy.Staffing.Declared {
		t.Fatalf("snapshot JSON: %s", raw)
	}
}
