package pipeline

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/icugate/icugate/config"
)

// cloneSite copies the parts of a site the engine reads, so a test can
// edit the copy as a reloaded config file would differ.
func cloneSite(s *config.Site) *config.Site {
	c := *s
	c.Units = slices.Clone(s.Units)
	for i := range c.Units {
		c.Units[i].Beds = slices.Clone(s.Units[i].Beds)
	}
	c.Pools = slices.Clone(s.Pools)
	c.Devices = slices.Clone(s.Devices)
	return &c
}

func TestReconfigureKeepsState(t *testing.T) {
	b := newSiteBuilder(t, 10*sec).unit("g", config.ClassGeneral, 2).pool("store", "").
		device("m1", "monitor", "g-1").device("v1", "ventilator", "g-1").
		device("m2", "monitor", "g-2").device("v2", "ventilator", "store").device("x1", "crrt", "store")
	e := b.engine()
	for _, id := range []string{"m1", "v1", "m2", "v2", "x1"} {
		obs(t, e, id, 0, Standby)
	}
	obs(t, e, "v1", sec, InUse)
	obs(t, e, "m1", sec, Standby)
	if err := e.Move("v2", "g-2", at(2*sec), "eng"); err != nil {
		t.Fatal(err)
	}
	if err := e.SetMaintenance("m2", true, at(2*sec), "eng"); err != nil {
		t.Fatal(err)
	}
	e.Advance(at(3 * sec))
	before := e.Snapshot()
	e.Transitions(nil)

	// Same config: nothing changes.
	if err := e.Reconfigure(cloneSite(b.site), at(3*sec)); err != nil {
		t.Fatal(err)
	}
	if after := e.Snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("identical reload changed the snapshot:\n%+v\n%+v", before.Devices, after.Devices)
	}
	if tr := e.Transitions(nil); len(tr) != 0 {
		t.Fatalf("identical reload recorded %+v", tr)
	}

	// New config: x1 removed, v1 expects a serial it never reported, a new
	// bed g-3 with a new device; v2's config place is unchanged (store),
	// so its run-time move to g-2 persists.
	next := cloneSite(b.site)
	next.Devices = slices.DeleteFunc(next.Devices, func(d config.Device) bool { return d.ID == "x1" })
	next.Units[0].Beds = append(next.Units[0].Beds, "g-3")
	next.Devices = append(next.Devices, config.Device{ID: "m3", Kind: "monitor", Profile: "test-monitor", At: "g-3",
		Modbus: &config.ModbusDevice{Interval: sec}})
	next.Devices[1].Serial = "SN-V1"
	if err := e.Reconfigure(next, at(4*sec)); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Device("x1"); ok {
		t.Fatal("removed device still present")
	}
	if d, _ := e.Device("m3"); d.State != Offline || d.Cause != causeNeverSeen {
		t.Fatalf("new device %+v", d)
	}
	if d, _ := e.Device("v2"); d.At != "g-2" {
		t.Fatalf("run-time move lost: v2 at %s", d.At)
	}
	if d, _ := e.Device("m2"); d.State != Maintenance || d.MaintenanceBy != "eng" {
		t.Fatalf("maintenance flag lost: %+v", d)
	}
	v1, _ := e.Device("v1")
	if v1.Utilisation.InUse != 3 {
		t.Fatalf("v1 %+v", v1)
	}
	// v1 reported no serial, and the new config expects one: not trusted
	// until it says who it is; a wrong one faults too.
	if v1.State != Fault || !strings.Contains(v1.Cause, "reports no serial") {
		t.Fatalf("v1 without a serial after the config expects one: %s (%s)", v1.State, v1.Cause)
	}
	if err := e.Observe(Observation{Device: "v1", Time: at(5 * sec), Values: values(InUse), Serial: "OTHER"}); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Device("v1"); d.State != Fault {
		t.Fatalf("serial mismatch after reload: %s", d.State)
	}

	// The config moves v2 back to the store: the config wins.
	again := cloneSite(next)
	again.Devices[3].At = "g-1"
	if err := e.Reconfigure(again, at(6*sec)); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Device("v2"); d.At != "g-1" {
		t.Fatalf("config move ignored: v2 at %s", d.At)
	}
	var moved bool
	for _, tr := range e.Transitions(nil) {
		moved = moved || (tr.Type == TransitionMove && tr.ID == "v2" && tr.To == "g-1")
	}
	if !moved {
		t.Fatal("config move not recorded")
	}
}

func TestReconfigureRejectsBadSite(t *testing.T) {
	b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).device("m1", "monitor", "g-1")
	e := b.engine()
	obs(t, e, "m1", 0, InUse)
	before := e.Snapshot()
	bad := cloneSite(b.site)
	bad.Devices[0].At = "nowhere"
	if err := e.Reconfigure(bad, at(0)); err == nil {
		t.Fatal("bad site accepted")
	}
	if !reflect.DeepEqual(before, e.Snapshot()) {
		t.Fatal("rejected reload changed the engine")
	}
}

// TestReconfigureIdentityProperty: reloading an identical config midway
// through a random run changes nothing, then or later.
func TestReconfigureIdentityProperty(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 0x5e))
		site := randomSite(t, r)
		events := randomEvents(r, site, 200)
		plain, _ := New(site, t0)
		reloaded, _ := New(site, t0)
		for i, ev := range events {
			apply(plain, ev)
			apply(reloaded, ev)
			if i == 100 {
				if err := reloaded.Reconfigure(cloneSite(site), ev.t); err != nil {
					t.Fatal(err)
				}
			}
		}
		a, b := plain.Snapshot(), reloaded.Snapshot()
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: reload changed the outcome", seed)
		}
		if !reflect.DeepEqual(plain.Transitions(nil), reloaded.Transitions(nil)) {
			t.Fatalf("seed %d: reload changed the transitions", seed)
		}
	}
}
