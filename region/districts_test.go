package region

import (
	"math"
	"testing"
	"time"
)

// per is n beds per 100,000 of population, as a hand would write it.
func per(n, population float64) float64 { return n * 100000 / population }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// checkIndicators compares a district's (or the region's) figures with
// hand-computed ones.
func checkIndicators(t *testing.T, what string, in Indicators, icu, icuEq, conv, ready float64, met [4]bool) {
	t.Helper()
	got := [4]float64{in.ICUBedsPer100k, in.ICUBedsEquippedPer100k, in.ConvertiblePer100k, in.ConvertibleReadyPer100k}
	want := [4]float64{icu, icuEq, conv, ready}
	for i := range got {
		if !near(got[i], want[i]) {
			t.Errorf("%s: per 100k %v, want %v", what, got, want)
			break
		}
	}
	if gotMet := [4]bool{in.ICUMet, in.ICUEquippedMet, in.ConvertibleMet, in.ConvertibleReadyMet}; gotMet != met {
		t.Errorf("%s: met %v, want %v", what, gotMet, met)
	}
}

// The figures of the hand-computed region (parts_helpers_test.go): per
// district and for the region, per 100,000 people against the 2027
// targets (18 ICU, 12 convertible), with exact boundaries (a district at
// exactly 18.0 or 12.0 meets the target); tier shares of a two-part
// hospital on its merged counts; then the same while one part is silent
// (partial) and while both are (silent, gateway down).
func TestDistrictFiguresByHand(t *testing.T) {
	hr := newHandRegion(t, t.TempDir())
	cfg := twoDistricts(hr.keys, "")
	reg, err := LoadRegistry(hr.keys, cfg.Districts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	entry := func(gw *hospital, part string, asOf time.Time, b beds) Entry {
		return Entry{Report: gw.nextWith("R01", asOf, b), Part: part, AcceptedAt: asOf, Source: Live}
	}
	fresh := now.Add(-30 * time.Second)
	old := now.Add(-10 * time.Minute) // silent: 3 intervals of 60 s passed
	main := entry(hr.h002main, "main", fresh, bedsH002Main)
	east := entry(hr.h002east, "east", fresh, bedsH002East)
	others := []Entry{entry(hr.h001, "main", fresh, bedsH001), entry(hr.h003, "main", fresh, bedsH003)}

	// All parts report.
	v := Summarise(cfg, reg, append([]Entry{main, east}, others...), nil, now, "instance")
	if v.Indicators.Population != 550_000 || len(v.Districts) != 2 {
		t.Fatalf("population %d, %d districts", v.Indicators.Population, len(v.Districts))
	}
	d1, d2 := v.Districts[0], v.Districts[1]
	checkIndicators(t, "D01", d1.Indicators, per(98, 5e5), per(96, 5e5), per(63, 5e5), per(60, 5e5), [4]bool{true, true, true, true})
	if d1.Indicators.ConvertibleReadyPer100k != 12 || !d1.Indicators.Complete {
		t.Errorf("D01: ready per 100k %v (want exactly 12.0, the target), complete %v", d1.Indicators.ConvertibleReadyPer100k, d1.Indicators.Complete)
	}
	checkIndicators(t, "D02", d2.Indicators, 18, 12, 12, 12, [4]bool{true, false, true, true})
	if d2.Indicators.Complete || d2.Totals.Never != 1 || d2.Totals.Reporting != 1 {
		t.Errorf("D02 with a hospital that never reported: %+v", d2.Totals)
	}
	checkIndicators(t, "region", v.Indicators, per(107, 5.5e5), per(102, 5.5e5), per(69, 5.5e5), 12, [4]bool{true, true, true, true})
	if d1.Indicators.HospitalsMeetingConfigured != 2 || d1.Indicators.HospitalsMeetingEquipped != 1 ||
		d2.Indicators.HospitalsMeetingConfigured != 1 || d2.Indicators.HospitalsMeetingEquipped != 0 ||
		v.Indicators.HospitalsMeetingConfigured != 3 || v.Indicators.HospitalsMeetingEquipped != 1 {
		t.Errorf("hospitals meeting targets: D01 %d/%d D02 %d/%d region %d/%d", d1.Indicators.HospitalsMeetingConfigured, d1.Indicators.HospitalsMeetingEquipped,
			d2.Indicators.HospitalsMeetingConfigured, d2.Indicators.HospitalsMeetingEquipped, v.Indicators.HospitalsMeetingConfigured, v.Indicators.HospitalsMeetingEquipped)
	}
	h2 := hospitalOf(t, v, "H002")
	if h2.Status != StatusReporting || h2.Partial || len(h2.Parts) != 2 || h2.Totals.BedsTotal != 45+25+45 || h2.Report != nil {
		t.Fatalf("H002 merged: %+v", h2)
	}
	p := h2.Policy
	// 45, 25 and 45 of 1000 beds: exactly 4.5 %, 2.5 %, 4.5 %, which
	// neither part reaches alone.
	if p == nil || p.TargetsYear != 2027 || p.General.ConfiguredBeds != 45 || p.General.ConfiguredShare != 0.045 || !p.General.ConfiguredMet ||
		!p.Specialty.ConfiguredMet || !p.Convertible.ConfiguredMet || p.Convertible.Target != 0.045 || !h2.MeetsTargetsConfigured || !h2.MeetsTargetsEquipped {
		t.Fatalf("H002 shares on merged counts: %+v", p)
	}
	// Declared staffing summed over the parts: 36 doctors (0.8 per
	// general bed, met exactly), 130 nurses (< 3 per bed).
	if st := p.Staffing; st == nil || st.Doctors != 36 || st.Nurses != 130 || st.GeneralBeds != 45 || st.Declaring != 2 || !st.DoctorsMet || st.NursesMet {
		t.Fatalf("H002 staffing: %+v", p.Staffing)
	}
	if st := d1.Indicators.Staffing; st == nil || st.Declaring != 1 || st.Doctors != 36 || d2.Indicators.Staffing != nil {
		t.Fatalf("district staffing: D01 %+v, D02 %+v", d1.Indicators.Staffing, d2.Indicators.Staffing)
	}
	h1 := hospitalOf(t, v, "H001")
	if !h1.MeetsTargetsConfigured || h1.MeetsTargetsEquipped || h1.Policy.General.EquippedMet || h1.Report == nil || h1.Sequence != 1 {
		t.Fatalf("H001 (4.5 %% configured, 4 %% equipped general): %+v", h1)
	}
	if len(v.NotReporting) != 1 || v.NotReporting[0].Hospital != "H004" || v.NotReporting[0].Reason != ReasonNeverReported {
		t.Fatalf("not reporting: %+v", v.NotReporting)
	}

	// Part east silent, its gateway down: H002 partial, counted on main.
	east.Report.AsOf, east.AcceptedAt = old, old
	offline := []Presence{{Hospital: "H002", Part: "east", State: PresenceOffline, At: now}, {Hospital: "H002", Part: "main", State: PresenceOnline, At: now}}
	v = Summarise(cfg, reg, append([]Entry{main, east}, others...), offline, now, "instance")
	h2 = hospitalOf(t, v, "H002")
	if h2.Status != StatusPartial || !h2.Partial || len(h2.SilentParts) != 1 || h2.SilentParts[0] != "east" || h2.Parts[1].Reason != ReasonGatewayDown ||
		h2.Parts[1].SilentSince == nil || !h2.Parts[1].SilentSince.Equal(old.Add(3*time.Minute)) || h2.MeetsTargetsConfigured {
		t.Fatalf("H002 with east down: %+v", h2)
	}
	d1 = v.Districts[0]
	checkIndicators(t, "D01 partial", d1.Indicators, per(53, 5e5), per(51, 5e5), per(18, 5e5), per(15, 5e5), [4]bool{false, false, false, false})
	if d1.Totals.Partial != 1 || d1.Totals.Reporting != 1 || d1.Indicators.Complete {
		t.Errorf("D01 partial: %+v", d1.Totals)
	}
	if st := d1.Indicators.Staffing; st.Doctors != 16 || st.GeneralBeds != 20 || !st.NursesMet {
		t.Errorf("D01 staffing with east silent: %+v", st)
	}
	if len(v.NotReporting) != 2 || v.NotReporting[0].Hospital != "H002" || v.NotReporting[0].Status != StatusPartial || len(v.NotReporting[0].Parts) != 1 {
		t.Fatalf("not reporting: %+v", v.NotReporting)
	}

	// Both parts silent and down: H002 silent, gateway_down, out of D01.
	main.Report.AsOf = old
	offline[1].State = PresenceOffline
	v = Summarise(cfg, reg, append([]Entry{main, east}, others...), offline, now, "instance")
	h2 = hospitalOf(t, v, "H002")
	if h2.Status != StatusSilent || h2.Reason != ReasonGatewayDown || h2.Totals != nil || h2.Level != "tertiary" {
		t.Fatalf("H002 with both gateways down: %+v", h2)
	}
	checkIndicators(t, "D01 without H002", v.Districts[0].Indicators, per(28, 5e5), per(26, 5e5), per(18, 5e5), per(15, 5e5), [4]bool{false, false, false, false})
	// One gateway up but silent: no_report is the hospital's reason.
	offline[1].State = PresenceOnline
	v = Summarise(cfg, reg, append([]Entry{main, east}, others...), offline, now, "instance")
	if h2 = hospitalOf(t, v, "H002"); h2.Reason != ReasonNoReport || h2.Parts[0].Reason != ReasonNoReport || h2.Parts[1].Reason != ReasonGatewayDown {
		t.Fatalf("H002 with main up but silent: %+v", h2)
	}
}

// Parts whose reports disagree on the hospital (each part's site config
// states its own total_beds) are flagged; their beds still count, but no
// share is computed from a total nobody agrees on.
func TestPartsDisagreeingOnTheHospital(t *testing.T) {
	hr := newHandRegion(t, t.TempDir())
	cfg := twoDistricts(hr.keys, "")
	reg, err := LoadRegistry(hr.keys, cfg.Districts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	east := bedsH002East
	east.total = 800
	v := Summarise(cfg, reg, []Entry{
		{Report: hr.h002main.nextWith("R01", now, bedsH002Main), Part: "main"},
		{Report: hr.h002east.nextWith("R01", now, east), Part: "east"},
	}, nil, now, "instance")
	h2 := hospitalOf(t, v, "H002")
	if h2.Conflict == "" || h2.Policy != nil || h2.MeetsTargetsConfigured || h2.Totals.BedsTotal != 115 || v.Districts[0].Totals.ICUBeds != 70 {
		t.Fatalf("conflicting parts: %+v", h2)
	}
}

func hospitalOf(t *testing.T, v View, id string) HospitalView {
	t.Helper()
	for _, h := range v.Hospitals {
		if h.ID == id {
			return h
		}
	}
	t.Fatalf("no hospital %s in the view", id)
	return HospitalView{}
}

// Merge keeps the latest report of every part: the two gateways of one
// hospital, seen by two instances, both survive.
func TestMergeKeepsEveryPart(t *testing.T) {
	hr := newHandRegion(t, t.TempDir())
	now := time.Now()
	m1 := Entry{Report: hr.h002main.nextWith("R01", now, bedsH002Main), Part: "main"}
	m2 := Entry{Report: hr.h002main.nextWith("R01", now, bedsH002Main), Part: "main"}
	e1 := Entry{Report: hr.h002east.nextWith("R01", now, bedsH002East), Part: "east"}
	got := Merge([]Entry{m2}, []Entry{m1, e1})
	if len(got) != 2 {
		t.Fatalf("merged %d entries, want 2 parts", len(got))
	}
	for _, e := range got {
		if e.Part == "main" && e.Report.Sequence != 2 {
			t.Fatalf("kept main sequence %d", e.Report.Sequence)
		}
	}
}
