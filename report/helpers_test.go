package report

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// testProfile has three boolean values: fault, service and running.
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

func values(s pipeline.DeviceState) []rules.Sample {
	v := make([]rules.Sample, 3)
	switch s {
	case pipeline.Fault:
		v[0].Num = 1
	case pipeline.Maintenance:
		v[1].Num = 1
	case pipeline.InUse:
		v[2].Num = 1
	}
	return v
}

// testSite is a tertiary hospital of 200 beds: a general unit of 4 beds, a
// specialty CCU of 2, a convertible unit of 3 whose beds are empty, and a
// central store with 2 monitors and 2 ventilators; hold time zero.
func testSite(tb testing.TB, staffing bool) *config.Site {
	tb.Helper()
	hold := time.Duration(0)
	s := &config.Site{
		Hospital:   config.Hospital{ID: "H001", Name: "First Hospital", Level: config.LevelTertiary, TotalBeds: 200, Region: "R01"},
		TargetYear: 2025,
		Hold:       &hold,
		Report:     config.Report{Interval: time.Minute, GatewayID: "gw-H001"},
		Profiles:   map[string]*config.Profile{"test-monitor": testProfile(tb, "monitor"), "test-ventilator": testProfile(tb, "ventilator")},
		Units: []config.Unit{
			{ID: "gicu", Class: config.ClassGeneral, Beds: []string{"g1", "g2", "g3", "g4"}},
			{ID: "ccu", Class: config.ClassSpecialty, Subtype: "CCU", Beds: []string{"c1", "c2"}},
			{ID: "conv", Class: config.ClassConvertible, Beds: []string{"v1", "v2", "v3"}},
		},
		Pools: []config.Pool{{ID: "store"}},
	}
	if staffing {
		s.Hospital.Staffing = &config.Staffing{Doctors: 4, Nurses: 10}
	}
	add := func(id, kind, at string) {
		s.Devices = append(s.Devices, config.Device{
			ID: id, Kind: kind, Profile: "test-" + kind, At: at,
			Modbus: &config.ModbusDevice{Address: "127.0.0.1:502", UnitID: 1, Interval: time.Second},
		})
	}
	for _, b := range []string{"g1", "g2", "g3", "g4", "c1", "c2"} {
		add("mon-"+b, "monitor", b)
		add("vent-"+b, "ventilator", b)
	}
	for i := 1; i <= 2; i++ {
		add(fmt.Sprintf("mon-s%d", i), "monitor", "store")
		add(fmt.Sprintf("vent-s%d", i), "ventilator", "store")
	}
	return s
}

// engineAt feeds every device of site at t0+d with the state states gives
// it (default standby) and returns the engine advanced to t0+d.
func engineAt(tb testing.TB, site *config.Site, d time.Duration, states map[string]pipeline.DeviceState) *pipeline.Engine {
	tb.Helper()
	e, err := pipeline.New(site, t0)
	if err != nil {
		tb.Fatalf("pipeline.New: %v", err)
	}
	feed(tb, e, site, d, states)
	return e
}

func feed(tb testing.TB, e *pipeline.Engine, site *config.Site, d time.Duration, states map[string]pipeline.DeviceState) {
	tb.Helper()
	for _, dev := range site.Devices {
		st, ok := states[dev.ID]
		if !ok {
			st = pipeline.Standby
		}
		if st == pipeline.Offline {
			continue
		}
		if err := e.Observe(pipeline.Observation{Device: dev.ID, Time: t0.Add(d), Values: values(st)}); err != nil {
			tb.Fatalf("Observe %s: %v", dev.ID, err)
		}
	}
	e.Advance(t0.Add(d))
}

func newKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
