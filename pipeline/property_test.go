package pipeline

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

func snapshotsEqual(a, b Snapshot) bool { return reflect.DeepEqual(a, b) }

// event is one random input to the engine.
type event struct {
	op     int // 0 observe, 1 fail, 2 advance, 3 maintenance, 4 move
	dev    string
	to     string
	t      time.Time
	state  DeviceState
	serial string
	on     bool
}

func randomEvents(r *rand.Rand, site *config.Site, n int) []event {
	var places []string
	for _, u := range site.Units {
		places = append(places, u.Beds...)
	}
	for _, p := range site.Pools {
		places = append(places, p.ID)
	}
	now := t0
	out := make([]event, 0, n)
	for range n {
		now = now.Add(time.Duration(r.IntN(1500)) * time.Millisecond)
		if r.IntN(50) == 0 {
			now = now.Add(time.Duration(r.IntN(20)) * sec)
		}
		d := site.Devices[r.IntN(len(site.Devices))]
		ev := event{dev: d.ID, t: now}
		switch x := r.IntN(100); {
		case x < 70:
			ev.op = 0
			ev.state = []DeviceState{InUse, Standby, Standby, Fault, Maintenance}[r.IntN(5)]
			if d.Serial != "" && r.IntN(10) == 0 {
				ev.serial = "WRONG"
			}
			if r.IntN(20) == 0 { // a late observation
				ev.t = now.Add(-3 * sec)
			}
		case x < 82:
			ev.op = 1
		case x < 88:
			ev.op = 2
		case x < 93:
			ev.op, ev.on = 3, r.IntN(2) == 0
		default:
			ev.op, ev.to = 4, places[r.IntN(len(places))]
		}
		out = append(out, ev)
	}
	return out
}

func apply(e *Engine, ev event) {
	switch ev.op {
	case 0:
		_ = e.Observe(Observation{Device: ev.dev, Time: ev.t, Values: values(ev.state), Serial: ev.serial})
	case 1:
		_ = e.Observe(Observation{Device: ev.dev, Time: ev.t, Err: errors.New("timeout")})
	case 2:
		e.Advance(ev.t)
	case 3:
		_ = e.SetMaintenance(ev.dev, ev.on, ev.t, "prop")
	case 4:
		_ = e.Move(ev.dev, ev.to, ev.t, "prop")
	}
}

func TestEngineProperties(t *testing.T) {
	iterations := 60
	if testing.Short() {
		iterations = 30
	}
	// Counts of what the runs exercised, so the properties are not
	// vacuously true.
	var equipped, occupied, pooled, pending int
	for seed := range uint64(iterations) {
		r := rand.New(rand.NewPCG(seed, 0x1c0))
		site := randomSite(t, r)
		events := randomEvents(r, site, 300)
		run := func() ([]Snapshot, []Transition) {
			e, err := New(site, t0)
			if err != nil {
				t.Fatalf("seed %d: New: %v", seed, err)
			}
			var snaps []Snapshot
			var trs []Transition
			for i, ev := range events {
				apply(e, ev)
				trs = e.Transitions(trs)
				if i%15 == 14 || i == len(events)-1 {
					s := e.Snapshot()
					if err := checkInvariants(site, s); err != nil {
						t.Fatalf("seed %d event %d: %v", seed, i, err)
					}
					snaps = append(snaps, s)
					equipped += s.Capacity.Hospital.BedsEquipped
					occupied += s.Capacity.Hospital.BedsOccupied
					for _, r := range s.Readiness {
						pooled += len(r.Devices)
					}
					for _, b := range s.Beds {
						if b.Pending != nil {
							pending++
						}
					}
				}
			}
			return snaps, trs
		}
		s1, tr1 := run()
		s2, tr2 := run()
		if !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(tr1, tr2) {
			t.Fatalf("seed %d: same events gave different snapshots or transitions", seed)
		}
	}
	t.Logf("exercised: equipped %d occupied %d pooled %d pending %d", equipped, occupied, pooled, pending)
	if equipped == 0 || occupied == 0 || pooled == 0 || pending == 0 {
		t.Fatal("random sites never reached some bed states; the generator needs fixing")
	}
}

// checkInvariants checks a snapshot against the rules of PRODUCT §5
// recomputed independently from the snapshot's own device list.
func checkInvariants(site *config.Site, s Snapshot) error {
	devs := map[string]DeviceStatus{}
	for _, d := range s.Devices {
		devs[d.ID] = d
		var sum float64
		for _, v := range []float64{d.Utilisation.Offline, d.Utilisation.Fault, d.Utilisation.Maintenance, d.Utilisation.InUse, d.Utilisation.Standby} {
			sum += v
		}
		if math.Abs(sum-s.AsOf.Sub(t0).Seconds()) > 1e-6 {
			return fmt.Errorf("device %s utilisation sums to %v, clock at %v", d.ID, sum, s.AsOf.Sub(t0))
		}
	}
	for _, c := range allCaps(s) {
		if c.BedsTotal != c.BedsEquipped+c.BedsDegraded || c.BedsEquipped != c.BedsOccupied+c.BedsAvailable {
			return fmt.Errorf("%s/%s: bed counts do not add up: %+v", c.Unit, c.Class, c)
		}
		for k, kc := range c.Kinds {
			if kc.Total != kc.InUse+kc.Standby+kc.Offline+kc.Fault+kc.Maintenance {
				return fmt.Errorf("%s/%s kind %s: %+v", c.Unit, c.Class, k, kc)
			}
		}
		if c.Verified != (c.Evidence.Fresh == c.Evidence.Configured) ||
			c.Evidence.Fresh+len(c.Evidence.Stale)+len(c.Evidence.Missing) != c.Evidence.Configured {
			return fmt.Errorf("%s/%s: evidence %+v", c.Unit, c.Class, c.Evidence)
		}
	}
	// No device at two beds; bed device lists agree with device places.
	placed := map[string]string{}
	unitOf := map[string]*config.Unit{}
	for i := range site.Units {
		for _, b := range site.Units[i].Beds {
			unitOf[b] = &site.Units[i]
		}
	}
	for _, b := range s.Beds {
		for _, id := range b.Devices {
			if prev, dup := placed[id]; dup {
				return fmt.Errorf("device %s at %s and %s", id, prev, b.ID)
			}
			placed[id] = b.ID
			if devs[id].At != b.ID {
				return fmt.Errorf("device %s listed at %s but says %s", id, b.ID, devs[id].At)
			}
		}
		if b.Pending == nil {
			if want := liveBedState(unitOf[b.ID], b, devs); want != b.State {
				return fmt.Errorf("bed %s held %s with nothing pending, devices say %s", b.ID, b.State, want)
			}
		}
	}
	// Class and unit sums equal the hospital totals.
	var sumBeds, sumEq, sumReady int
	for _, c := range s.Capacity.Classes {
		sumBeds += c.BedsTotal
		sumEq += c.BedsEquipped
		sumReady += c.ConvertibleReady
	}
	h := s.Capacity.Hospital
	if sumBeds != h.BedsTotal || sumEq != h.BedsEquipped || sumReady != h.ConvertibleReady {
		return fmt.Errorf("class sums %d/%d/%d differ from hospital %d/%d/%d", sumBeds, sumEq, sumReady, h.BedsTotal, h.BedsEquipped, h.ConvertibleReady)
	}
	kindSum := map[string]KindCount{}
	for _, c := range s.Capacity.Units {
		for k, v := range c.Kinds {
			kc := kindSum[k]
			kc.plus(v)
			kindSum[k] = kc
		}
	}
	for _, d := range s.Devices {
		if d.Unit == "" {
			kc := kindSum[d.Kind]
			kc.add(d.State, 1)
			kindSum[d.Kind] = kc
		}
	}
	if !reflect.DeepEqual(kindSum, h.Kinds) {
		return fmt.Errorf("unit kind sums + store %+v differ from hospital %+v", kindSum, h.Kinds)
	}
	// Readiness: no pool device counted twice; each is a standby pool device.
	used := map[string]bool{}
	conv := 0
	for _, r := range s.Readiness {
		for _, id := range r.Devices {
			if used[id] {
				return fmt.Errorf("pool device %s counted twice in readiness", id)
			}
			used[id] = true
			if d := devs[id]; d.AtType != "pool" || d.State != Standby {
				return fmt.Errorf("readiness uses %s (%s at %s %s)", id, d.State, d.AtType, d.At)
			}
		}
	}
	for _, b := range s.Beds {
		if b.Class == config.ClassConvertible {
			conv++
		}
	}
	if len(s.Readiness) != h.ConvertibleReady || h.ConvertibleReady > conv {
		return fmt.Errorf("ready %d, explained %d, convertible beds %d", h.ConvertibleReady, len(s.Readiness), conv)
	}
	return nil
}

func allCaps(s Snapshot) []Capacity {
	out := append([]Capacity{s.Capacity.Hospital}, s.Capacity.Classes...)
	return append(out, s.Capacity.Units...)
}

// liveBedState is the oracle of PRODUCT §5: equipped when every required
// kind has enough in_use/standby devices at the bed; occupied when an
// occupancy kind is in use.
func liveBedState(u *config.Unit, b BedStatus, devs map[string]DeviceStatus) BedState {
	need := map[string]int{}
	for _, k := range u.RequiredKinds() {
		need[k]++
	}
	for _, id := range b.Devices {
		if d := devs[id]; d.State == InUse || d.State == Standby {
			need[d.Kind]--
		}
	}
	for _, n := range need {
		if n > 0 {
			return Degraded
		}
	}
	for _, id := range b.Devices {
		d := devs[id]
		for _, k := range u.OccupancyKinds() {
			if d.Kind == k && d.State == InUse {
				return Occupied
			}
		}
	}
	return Available
}
