package pipeline

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

// bedEvent observes monitor m1 and ventilator v1 in states m and v at t0+d
// (Offline: no observation), then expects the bed in want.
type bedEvent struct {
	d      time.Duration
	m, v   DeviceState
	want   BedState
	reason []string // expected reason list, when set
}

func TestBedStateAndHold(t *testing.T) {
	S, I, F, O := Standby, InUse, Fault, Offline
	tests := []struct {
		name   string
		hold   time.Duration
		events []bedEvent
	}{
		{name: "hold zero is immediate", hold: 0, events: []bedEvent{
			{0, O, O, Degraded, []string{"monitor m1 offline", "ventilator v1 offline"}},
			{1 * sec, S, O, Degraded, []string{"ventilator v1 offline"}},
			{2 * sec, S, S, Available, []string{}},
			{3 * sec, S, I, Occupied, nil},
			{4 * sec, F, I, Degraded, []string{"monitor m1 fault"}},
		}},
		{name: "hold delays and flip-back cancels", hold: 15 * sec, events: []bedEvent{
			{0, S, S, Degraded, nil},
			{4 * sec, S, S, Degraded, nil},
			{8 * sec, S, S, Degraded, nil},
			{12 * sec, S, S, Degraded, nil},
			{14 * sec, S, S, Degraded, nil},
			{15 * sec, S, S, Available, nil},
			// The ventilator faults for 10s, less than the hold: no change.
			{18 * sec, S, F, Available, nil},
			{22 * sec, S, F, Available, nil},
			{26 * sec, S, F, Available, nil},
			{28 * sec, S, S, Available, nil},
			{32 * sec, S, S, Available, nil},
			{36 * sec, S, S, Available, nil},
			// In use for 15s: occupied exactly when the hold runs out.
			{40 * sec, S, I, Available, nil},
			{44 * sec, S, I, Available, nil},
			{48 * sec, S, I, Available, nil},
			{52 * sec, S, I, Available, nil},
			{54 * sec, S, I, Available, nil},
			{55 * sec, S, I, Occupied, nil},
		}},
		{name: "a different target restarts the hold", hold: 10 * sec, events: []bedEvent{
			{0, S, I, Degraded, nil},
			{5 * sec, S, S, Degraded, nil},
			{9 * sec, S, S, Degraded, nil},
			{10 * sec, S, S, Degraded, nil},
			{14 * sec, S, S, Degraded, nil},
			{15 * sec, S, S, Available, nil},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSiteBuilder(t, tc.hold).unit("g", config.ClassGeneral, 1).
				device("m1", "monitor", "g-1").device("v1", "ventilator", "g-1").engine()
			for i, ev := range tc.events {
				e.Advance(at(ev.d))
				if ev.m != Offline {
					obs(t, e, "m1", ev.d, ev.m)
				}
				if ev.v != Offline {
					obs(t, e, "v1", ev.d, ev.v)
				}
				b := bedOf(t, e.Snapshot(), "g-1")
				if b.State != ev.want {
					t.Fatalf("event %d at %v: bed %s, want %s (pending %+v)", i, ev.d, b.State, ev.want, b.Pending)
				}
				if ev.reason != nil && !reflect.DeepEqual(b.Reason, ev.reason) {
					t.Fatalf("event %d: reason %q, want %q", i, b.Reason, ev.reason)
				}
			}
		})
	}
}

func TestBedNeedsTwoOfAKind(t *testing.T) {
	b := newSiteBuilder(t, 0).unit("r", config.ClassSpecialty, 1, "monitor", "ventilator", "ventilator").
		device("m1", "monitor", "r-1").device("v1", "ventilator", "r-1").device("v2", "ventilator", "r-1")
	e := b.engine()
	obs(t, e, "m1", 0, Standby)
	obs(t, e, "v1", 0, Standby)
	if got := bedOf(t, e.Snapshot(), "r-1"); got.State != Degraded || !slices.Equal(got.Reason, []string{"ventilator v2 offline"}) {
		t.Fatalf("one of two ventilators: %s %q", got.State, got.Reason)
	}
	obs(t, e, "v2", sec, Standby)
	if got := bedOf(t, e.Snapshot(), "r-1"); got.State != Available {
		t.Fatalf("two ventilators: %s %q", got.State, got.Reason)
	}
	if err := e.Move("v2", "r-1", at(2*sec), "eng"); err != nil { // no-op
		t.Fatal(err)
	}
	b2 := newSiteBuilder(t, 0).unit("r", config.ClassSpecialty, 1, "monitor", "ventilator", "ventilator").
		device("m1", "monitor", "r-1").device("v1", "ventilator", "r-1")
	e2 := b2.engine()
	obs(t, e2, "m1", 0, Standby)
	obs(t, e2, "v1", 0, Standby)
	if got := bedOf(t, e2.Snapshot(), "r-1"); got.State != Degraded || !slices.Equal(got.Reason, []string{"missing 1 of 2 ventilator"}) {
		t.Fatalf("only one ventilator configured: %s %q", got.State, got.Reason)
	}
}

func TestOccupancyKinds(t *testing.T) {
	b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).
		device("m1", "monitor", "g-1").device("v1", "ventilator", "g-1").device("c1", "crrt", "g-1")
	e := b.engine()
	obs(t, e, "m1", 0, Standby)
	obs(t, e, "v1", 0, Standby)
	obs(t, e, "c1", 0, InUse) // crrt is not an occupancy kind by default
	if got := bedOf(t, e.Snapshot(), "g-1").State; got != Available {
		t.Fatalf("crrt in use: bed %s, want available", got)
	}
	obs(t, e, "m1", sec, InUse)
	if got := bedOf(t, e.Snapshot(), "g-1").State; got != Occupied {
		t.Fatalf("monitor in use: bed %s, want occupied", got)
	}
}

func TestMoveBetweenBedsAndPools(t *testing.T) {
	b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 2).unit("c", config.ClassConvertible, 1).
		pool("store", "").
		device("m1", "monitor", "g-1").device("v1", "ventilator", "g-1").
		device("m2", "monitor", "g-2").device("v2", "ventilator", "store")
	e := b.engine()
	for _, id := range []string{"m1", "v1", "m2", "v2"} {
		obs(t, e, id, 0, Standby)
	}
	e.Transitions(nil)
	s := e.Snapshot()
	if bedOf(t, s, "g-1").State != Available || bedOf(t, s, "g-2").State != Degraded {
		t.Fatal("initial bed states wrong")
	}
	if err := e.Move("v1", "g-2", at(sec), "alice"); err != nil {
		t.Fatal(err)
	}
	s = e.Snapshot()
	if bedOf(t, s, "g-1").State != Degraded || bedOf(t, s, "g-2").State != Available {
		t.Fatalf("after move: g-1 %s g-2 %s", bedOf(t, s, "g-1").State, bedOf(t, s, "g-2").State)
	}
	if got := bedOf(t, s, "g-1").Reason; !slices.Equal(got, []string{"missing ventilator"}) {
		t.Fatalf("g-1 reason %q", got)
	}
	if got := bedOf(t, s, "g-2").Devices; !slices.Equal(got, []string{"v1", "m2"}) && !slices.Equal(got, []string{"m2", "v1"}) {
		t.Fatalf("g-2 devices %q", got)
	}
	tr := e.Transitions(nil)
	if len(tr) == 0 || tr[0].Type != TransitionMove || tr[0].From != "g-1" || tr[0].To != "g-2" ||
		tr[0].Cause != "moved to bed g-2 by alice" {
		t.Fatalf("move transition %+v", tr)
	}
	// Pool device to the convertible bed, then its unit changes.
	if err := e.Move("v2", "c-1", at(2*sec), "bob"); err != nil {
		t.Fatal(err)
	}
	ds, _ := e.Device("v2")
	if ds.Unit != "c" || ds.At != "c-1" || ds.AtType != "bed" {
		t.Fatalf("moved device %+v", ds)
	}
	if got := unitCap(t, e.Snapshot(), "c").Kinds["ventilator"]; got.Total != 1 || got.Standby != 1 {
		t.Fatalf("unit c ventilators %+v", got)
	}
	// Utilisation follows the unit the device was in at the time.
	e.Advance(at(4 * sec))
	s = e.Snapshot()
	if u := s.Utilisation.ByUnit["c"]; u.Standby != 2 {
		t.Fatalf("unit c standby time %v, want 2", u.Standby)
	}
	if !strings.Contains(e.Transitions(nil)[0].Cause, "bob") {
		t.Fatal("move cause does not name who")
	}
}
