package pipeline

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

// dayICU is a small simulated hospital: every device answers every second
// with the state the script gives it, unless the script silenced it.
type dayICU struct {
	t      *testing.T
	e      *Engine
	site   *config.Site
	state  map[string]DeviceState
	silent map[string]bool
	clock  int // seconds after t0 of the last tick
}

// newDayICU builds 40 beds in three units: general ICU (16 beds), a
// respiratory ICU (12, specialty) and a convertible ward (12, only the
// first 4 installed); 2 ECMO in the general ICU's store, 3 CRRT at beds,
// and 3 monitors + 3 ventilators in the hospital's central store.
func newDayICU(t *testing.T) *dayICU {
	b := newSiteBuilder(t, 15*time.Second).
		unit("gicu", config.ClassGeneral, 16).
		unit("ricu", config.ClassSpecialty, 12).
		unit("cicu", config.ClassConvertible, 12).
		pool("gicu-store", "gicu").pool("central", "")
	b.site.Units[1].Subtype = "RICU"
	b.site.Hospital.TotalBeds = 400
	for i := 1; i <= 16; i++ {
		b.device(fmt.Sprintf("mon-g%02d", i), "monitor", fmt.Sprintf("gicu-%d", i))
		b.device(fmt.Sprintf("vent-g%02d", i), "ventilator", fmt.Sprintf("gicu-%d", i))
	}
	for i := 1; i <= 12; i++ {
		b.device(fmt.Sprintf("mon-r%02d", i), "monitor", fmt.Sprintf("ricu-%d", i))
		b.device(fmt.Sprintf("vent-r%02d", i), "ventilator", fmt.Sprintf("ricu-%d", i))
	}
	for i := 1; i <= 4; i++ {
		b.device(fmt.Sprintf("mon-v%02d", i), "monitor", fmt.Sprintf("cicu-%d", i))
		b.device(fmt.Sprintf("vent-v%02d", i), "ventilator", fmt.Sprintf("cicu-%d", i))
	}
	for i := 1; i <= 3; i++ {
		b.device(fmt.Sprintf("mon-c%02d", i), "monitor", "central")
		b.device(fmt.Sprintf("vent-c%02d", i), "ventilator", "central")
	}
	b.device("ecmo-1", "ecmo", "gicu-store").device("ecmo-2", "ecmo", "gicu-store")
	b.device("crrt-1", "crrt", "gicu-1").device("crrt-2", "crrt", "gicu-2").device("crrt-3", "crrt", "ricu-1")
	d := &dayICU{t: t, e: b.engine(), site: b.site, state: map[string]DeviceState{}, silent: map[string]bool{}, clock: -1}
	for _, dev := range b.site.Devices {
		d.state[dev.ID] = Standby
	}
	return d
}

// runTo ticks every second up to and including second s.
func (d *dayICU) runTo(s int) {
	d.t.Helper()
	for d.clock < s {
		d.clock++
		for _, dev := range d.site.Devices {
			if !d.silent[dev.ID] {
				obs(d.t, d.e, dev.ID, time.Duration(d.clock)*sec, d.state[dev.ID])
			}
		}
	}
}

func (d *dayICU) set(s DeviceState, ids ...string) {
	for _, id := range ids {
		d.state[id] = s
	}
}

// counts are the hospital figures expected at one moment, written out by
// hand from the script, not computed.
type counts struct {
	equipped, occupied, available, degraded, ready int
	vent, mon                                      KindCount
	verified                                       bool
}

func (d *dayICU) expect(label string, want counts) Snapshot {
	d.t.Helper()
	s := d.e.Snapshot()
	h := s.Capacity.Hospital
	got := counts{h.BedsEquipped, h.BedsOccupied, h.BedsAvailable, h.BedsDegraded, h.ConvertibleReady,
		h.Kinds["ventilator"], h.Kinds["monitor"], h.Verified}
	if got != want {
		d.t.Fatalf("t=%ds %s:\n got %+v\nwant %+v", d.clock, label, got, want)
	}
	if h.BedsTotal != 40 {
		d.t.Fatalf("t=%ds: beds_total %d, want 40", d.clock, h.BedsTotal)
	}
	return s
}

func ids(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

func TestDayInTheICU(t *testing.T) {
	d := newDayICU(t)
	kc := func(total, inUse, standby, offline, fault, maint int) KindCount {
		return KindCount{Total: total, InUse: inUse, Standby: standby, Offline: offline, Fault: fault, Maintenance: maint}
	}

	// 08:00:00, gateway starts: nothing seen yet.
	s := d.expect("start", counts{0, 0, 0, 40, 0, kc(35, 0, 0, 35, 0, 0), kc(35, 0, 0, 35, 0, 0), false})
	if n := len(s.Capacity.Hospital.Evidence.Missing); n != 75 {
		t.Fatalf("missing %d devices, want all 75", n)
	}

	// Every device answers standby from t=0; beds wait for the 15s hold.
	// Convertible: cicu-1..4 are installed (ready via installed), the
	// central store equips 3 more.
	d.runTo(14)
	d.expect("before hold", counts{0, 0, 0, 40, 7, kc(35, 0, 35, 0, 0, 0), kc(35, 0, 35, 0, 0, 0), true})
	d.runTo(15)
	d.expect("hold done", counts{32, 0, 32, 8, 7, kc(35, 0, 35, 0, 0, 0), kc(35, 0, 35, 0, 0, 0), true})

	// t=20 admissions: gicu-1..10 ventilated and monitored, ricu-1..5
	// monitored; ECMO and one CRRT start.
	d.runTo(19)
	d.set(InUse, ids("vent-g", 1, 10)...)
	d.set(InUse, ids("mon-g", 1, 10)...)
	d.set(InUse, ids("mon-r", 1, 5)...)
	d.set(InUse, "ecmo-1", "crrt-1")
	d.runTo(34)
	s = d.expect("admitted, held", counts{32, 0, 32, 8, 7, kc(35, 10, 25, 0, 0, 0), kc(35, 15, 20, 0, 0, 0), true})
	if got := unitCap(t, s, "gicu").Kinds["ecmo"]; got != kc(2, 1, 1, 0, 0, 0) {
		t.Fatalf("gicu ecmo %+v", got)
	}
	if got := s.Capacity.Hospital.Kinds["crrt"]; got != kc(3, 1, 2, 0, 0, 0) {
		t.Fatalf("hospital crrt %+v", got)
	}
	d.runTo(35)
	d.expect("admitted", counts{32, 15, 17, 8, 7, kc(35, 10, 25, 0, 0, 0), kc(35, 15, 20, 0, 0, 0), true})

	// t=40 vent-g03 faults: counted at once, the bed degrades after 15s.
	d.runTo(39)
	d.set(Fault, "vent-g03")
	d.runTo(54)
	d.expect("vent fault, held", counts{32, 15, 17, 8, 7, kc(35, 9, 25, 0, 1, 0), kc(35, 15, 20, 0, 0, 0), true})
	d.runTo(55)
	s = d.expect("vent fault", counts{31, 14, 17, 9, 7, kc(35, 9, 25, 0, 1, 0), kc(35, 15, 20, 0, 0, 0), true})
	if b := bedOf(t, s, "gicu-3"); !slices.Equal(b.Reason, []string{"ventilator vent-g03 fault"}) {
		t.Fatalf("gicu-3 reason %q", b.Reason)
	}
	if g := unitCap(t, s, "gicu"); g.BedsOccupied != 9 || g.BedsAvailable != 6 || g.BedsDegraded != 1 {
		t.Fatalf("gicu %+v", g)
	}

	// mon-r08 answers at t=60 for the last time: offline at 65 (5s window).
	d.runTo(60)
	d.silent["mon-r08"] = true
	d.runTo(64)
	d.expect("monitor silent, still fresh", counts{31, 14, 17, 9, 7, kc(35, 9, 25, 0, 1, 0), kc(35, 15, 20, 0, 0, 0), true})
	d.e.Transitions(nil)
	d.runTo(65)
	s = d.expect("monitor offline", counts{31, 14, 17, 9, 7, kc(35, 9, 25, 0, 1, 0), kc(35, 15, 19, 1, 0, 0), false})
	ev := s.Capacity.Hospital.Evidence
	if !slices.Equal(ev.Stale, []string{"mon-r08"}) || len(ev.Missing) != 0 || ev.Fresh != 74 || ev.Configured != 75 {
		t.Fatalf("evidence %+v", ev)
	}
	if !unitCap(t, s, "gicu").Verified || unitCap(t, s, "ricu").Verified {
		t.Fatal("gicu must stay verified, ricu must not")
	}
	tr := d.e.Transitions(nil)
	if len(tr) != 1 || tr[0].ID != "mon-r08" || tr[0].To != "offline" || tr[0].Cause != "no valid answer for 5s" ||
		!tr[0].Time.Equal(at(65*sec)) {
		t.Fatalf("transitions at 65s: %+v", tr)
	}
	d.runTo(79)
	d.expect("monitor offline, held", counts{31, 14, 17, 9, 7, kc(35, 9, 25, 0, 1, 0), kc(35, 15, 19, 1, 0, 0), false})
	d.runTo(80)
	s = d.expect("ricu-8 degraded", counts{30, 14, 16, 10, 7, kc(35, 9, 25, 0, 1, 0), kc(35, 15, 19, 1, 0, 0), false})
	if b := bedOf(t, s, "ricu-8"); !slices.Equal(b.Reason, []string{"monitor mon-r08 offline"}) {
		t.Fatalf("ricu-8 reason %q", b.Reason)
	}

	// t=90 biomed moves a central ventilator and monitor to cicu-5: the
	// bed is ready via its own devices, the store equips two more; the
	// ready count stays 7 (nothing counted twice).
	d.runTo(89)
	for _, id := range []string{"vent-c01", "mon-c01"} {
		if err := d.e.Move(id, "cicu-5", at(90*sec), "biomed"); err != nil {
			t.Fatal(err)
		}
	}
	d.runTo(104)
	s = d.expect("moved, held", counts{30, 14, 16, 10, 7, kc(35, 9, 25, 0, 1, 0), kc(35, 15, 19, 1, 0, 0), false})
	if c := unitCap(t, s, "cicu"); c.Kinds["ventilator"] != kc(5, 0, 5, 0, 0, 0) || c.ConvertibleReady != 7 {
		t.Fatalf("cicu %+v", c)
	}
	d.runTo(105)
	d.expect("cicu-5 equipped", counts{31, 14, 17, 9, 7, kc(35, 9, 25, 0, 1, 0), kc(35, 15, 19, 1, 0, 0), false})

	// t=110 engineer takes vent-g03 (faulted) and vent-c02 (store) out of
	// service: the store now equips one convertible bed only.
	d.runTo(109)
	for _, id := range []string{"vent-g03", "vent-c02"} {
		if err := d.e.SetMaintenance(id, true, at(110*sec), "eng-li"); err != nil {
			t.Fatal(err)
		}
	}
	d.runTo(110)
	d.expect("maintenance on", counts{31, 14, 17, 9, 6, kc(35, 9, 24, 0, 0, 2), kc(35, 15, 19, 1, 0, 0), false})
	// t=120 repaired (reports standby, flag still set); t=130 flag off.
	d.runTo(119)
	d.set(Standby, "vent-g03")
	d.runTo(129)
	d.expect("repaired, flag on", counts{31, 14, 17, 9, 6, kc(35, 9, 24, 0, 0, 2), kc(35, 15, 19, 1, 0, 0), false})
	if err := d.e.SetMaintenance("vent-g03", false, at(130*sec), "eng-li"); err != nil {
		t.Fatal(err)
	}
	d.runTo(144)
	d.expect("flag off, held", counts{31, 14, 17, 9, 6, kc(35, 9, 25, 0, 0, 1), kc(35, 15, 19, 1, 0, 0), false})
	// Its patient is still monitored (mon-g03 in use): back as occupied.
	d.runTo(145)
	d.expect("gicu-3 back", counts{32, 15, 17, 8, 6, kc(35, 9, 25, 0, 0, 1), kc(35, 15, 19, 1, 0, 0), false})

	// t=150 mon-r08 answers again; gicu-1's patient is extubated and
	// discharged.
	d.runTo(149)
	d.silent["mon-r08"] = false
	d.set(Standby, "vent-g01", "mon-g01")
	d.runTo(164)
	d.expect("discharge, held", counts{32, 15, 17, 8, 6, kc(35, 8, 26, 0, 0, 1), kc(35, 14, 21, 0, 0, 0), true})
	d.runTo(165)
	s = d.expect("end of script", counts{33, 14, 19, 7, 6, kc(35, 8, 26, 0, 0, 1), kc(35, 14, 21, 0, 0, 0), true})

	// Utilisation: vent-g01 ran 20s..150s; vent-g03 standby 0-20 and
	// 130-165, in use 20-40, fault 40-110, maintenance 110-130.
	v1, _ := d.e.Device("vent-g01")
	if v1.Utilisation != (Utilisation{InUse: 130, Standby: 35}) {
		t.Fatalf("vent-g01 utilisation %+v", v1.Utilisation)
	}
	v3, _ := d.e.Device("vent-g03")
	if v3.Utilisation != (Utilisation{Standby: 55, InUse: 20, Fault: 70, Maintenance: 20}) {
		t.Fatalf("vent-g03 utilisation %+v", v3.Utilisation)
	}
	// Policy: 400 beds, tertiary 2025: general 16 (4%) met, specialty 12
	// (3%) met, convertible 12 (3%) not met, ICU 28 (7%) met; equipped
	// convertible 5.
	p := s.Policy
	if !p.General.ConfiguredMet || !p.Specialty.ConfiguredMet || p.Convertible.ConfiguredMet || !p.ICU.ConfiguredMet ||
		p.Convertible.EquippedBeds != 5 || p.ICUBeds != 28 || !p.General.EquippedMet {
		t.Fatalf("policy %+v", p)
	}
}
