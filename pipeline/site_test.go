package pipeline

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

// Test sites are built in Go, never loaded from files: the engine's tests
// must not depend on config.Load.

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

const sec = time.Second

// testProfile is a profile with three boolean values: fault, service and
// running, whose rules say fault, maintenance and in_use.
func testProfile(tb testing.TB, kind string) *config.Profile {
	tb.Helper()
	reg := func(a int) *int { return &a }
	p := &config.Profile{
		Name: "test-" + kind,
		Kind: kind,
		Values: []config.Value{
			{Name: "fault", Table: config.TableCoil, Address: reg(0), Type: config.TypeBool},
			{Name: "service", Table: config.TableCoil, Address: reg(1), Type: config.TypeBool},
			{Name: "running", Table: config.TableCoil, Address: reg(2), Type: config.TypeBool},
		},
		State: config.StateRules{Fault: "fault", Maintenance: "service", InUse: "running"},
	}
	if err := p.Compile(); err != nil {
		tb.Fatalf("compile profile %s: %v", p.Name, err)
	}
	return p
}

// values are the samples testProfile derives each state from.
func values(s DeviceState) []rules.Sample {
	v := make([]rules.Sample, 3)
	switch s {
	case Fault:
		v[0].Num = 1
	case Maintenance:
		v[1].Num = 1
	case InUse:
		v[2].Num = 1
	}
	return v
}

// siteBuilder assembles a *config.Site in code.
type siteBuilder struct {
	tb   testing.TB
	site *config.Site
}

func newSiteBuilder(tb testing.TB, hold time.Duration) *siteBuilder {
	h := hold
	s := &config.Site{
		Hospital:   config.Hospital{ID: "h1", Name: "Test Hospital", Level: config.LevelTertiary, TotalBeds: 1000},
		TargetYear: 2025,
		Hold:       &h,
		Profiles:   map[string]*config.Profile{},
	}
	return &siteBuilder{tb: tb, site: s}
}

// unit adds a unit with beds prefix-1..prefix-n.
func (b *siteBuilder) unit(id, class string, n int, requires ...string) *siteBuilder {
	u := config.Unit{ID: id, Class: class, Requires: requires}
	for i := 1; i <= n; i++ {
		u.Beds = append(u.Beds, fmt.Sprintf("%s-%d", id, i))
	}
	b.site.Units = append(b.site.Units, u)
	return b
}

func (b *siteBuilder) pool(id, unit string) *siteBuilder {
	b.site.Pools = append(b.site.Pools, config.Pool{ID: id, Unit: unit})
	return b
}

// device adds a Modbus device polled every second (freshness 5s, 3
// failures).
func (b *siteBuilder) device(id, kind, where string) *siteBuilder {
	name := "test-" + kind
	if b.site.Profiles[name] == nil {
		b.site.Profiles[name] = testProfile(b.tb, kind)
	}
	b.site.Devices = append(b.site.Devices, config.Device{
		ID: id, Kind: kind, Profile: name, At: where,
		Modbus: &config.ModbusDevice{Address: "127.0.0.1:502", UnitID: 1, Interval: time.Second},
	})
	return b
}

// last returns the device added last, to tweak it.
func (b *siteBuilder) last() *config.Device { return &b.site.Devices[len(b.site.Devices)-1] }

func (b *siteBuilder) engine() *Engine {
	b.tb.Helper()
	e, err := New(b.site, t0)
	if err != nil {
		b.tb.Fatalf("New: %v", err)
	}
	return e
}

// obs feeds a valid observation of device id in state s at t0+d.
func obs(tb testing.TB, e *Engine, id string, d time.Duration, s DeviceState) {
	tb.Helper()
	if err := e.Observe(Observation{Device: id, Time: at(d), Values: values(s)}); err != nil {
		tb.Fatalf("Observe %s: %v", id, err)
	}
}

// failObs feeds a failed poll of device id at t0+d.
func failObs(tb testing.TB, e *Engine, id string, d time.Duration, msg string) {
	tb.Helper()
	if err := e.Observe(Observation{Device: id, Time: at(d), Err: errors.New(msg)}); err != nil {
		tb.Fatalf("Observe %s: %v", id, err)
	}
}

func devState(tb testing.TB, e *Engine, id string) DeviceState {
	tb.Helper()
	d, ok := e.Device(id)
	if !ok {
		tb.Fatalf("no device %s", id)
	}
	return d.State
}

func bedOf(tb testing.TB, s Snapshot, id string) BedStatus {
	tb.Helper()
	for _, b := range s.Beds {
		if b.ID == id {
			return b
		}
	}
	tb.Fatalf("no bed %s", id)
	return BedStatus{}
}

func unitCap(tb testing.TB, s Snapshot, id string) Capacity {
	tb.Helper()
	for _, c := range s.Capacity.Units {
		if c.Unit == id {
			return c
		}
	}
	tb.Fatalf("no unit %s", id)
	return Capacity{}
}

// randomSite generates a site with 1-5 units of random classes and
// requirements, random pools, and devices at beds and in pools.
func randomSite(tb testing.TB, r *rand.Rand) *config.Site {
	kinds := []string{"monitor", "ventilator", "ecmo", "crrt"}
	classes := []string{config.ClassGeneral, config.ClassSpecialty, config.ClassConvertible}
	b := newSiteBuilder(tb, time.Duration(r.IntN(4))*5*sec)
	var places []string
	for u := range 1 + r.IntN(5) {
		var req []string
		switch r.IntN(3) {
		case 1:
			req = []string{"monitor", "ventilator", "ventilator"}
		case 2:
			req = []string{"monitor"}
		}
		id := fmt.Sprintf("u%d", u)
		b.unit(id, classes[r.IntN(3)], 1+r.IntN(6), req...)
		places = append(places, b.site.Units[u].Beds...)
		if r.IntN(2) == 0 {
			b.pool(id+"-store", id)
			places = append(places, id+"-store")
		}
	}
	b.pool("central", "")
	places = append(places, "central")
	for i := range 5 + r.IntN(40) {
		b.device(fmt.Sprintf("d%02d", i), kinds[r.IntN(len(kinds))], places[r.IntN(len(places))])
		if r.IntN(5) == 0 {
			b.last().Serial = "S" + b.last().ID
		}
	}
	return b.site
}
