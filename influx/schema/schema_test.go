package schema

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/influx"
	"github.com/icugate/icugate/outbox"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func line(t *testing.T, p influx.Point) string {
	t.Helper()
	b, err := influx.Encode(p)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// The line protocol below is the schema users' dashboards and queries read
// (PRODUCT §6): a change here breaks them, so it is spelled out in full.
func TestDevicePoint(t *testing.T) {
	t.Parallel()
	seen := t0.Add(-3 * time.Second)
	for _, tc := range []struct {
		name string
		d    pipeline.DeviceStatus
		want string
	}{
		{"at a bed, in use", pipeline.DeviceStatus{ID: "vent-01", Kind: "ventilator", Unit: "micu", At: "micu-01", AtType: "bed", State: pipeline.InUse, LastSeen: &seen, Cause: "in_use rule true"},
			`device_state,bed=micu-01,device=vent-01,hospital=h1,kind=ventilator,unit=micu state="in_use",online=true,in_use=true,fault=false,seconds_since_seen=3,cause="in_use rule true" 1796378400000000000`},
		{"in the hospital store, never seen", pipeline.DeviceStatus{ID: "ecmo-1", Kind: "ecmo", At: "store", AtType: "pool", State: pipeline.Offline},
			`device_state,bed=pool,device=ecmo-1,hospital=h1,kind=ecmo,unit=hospital state="offline",online=false,in_use=false,fault=false,seconds_since_seen=-1,cause="" 1796378400000000000`},
	} {
		if got := line(t, Device("h1", &tc.d, t0)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// A last-seen time after the point's time (clock step) is 0, not negative.
	future := t0.Add(time.Second)
	p := Device("h1", &pipeline.DeviceStatus{ID: "v", Kind: "ventilator", At: "b1", AtType: "bed", State: pipeline.Standby, LastSeen: &future}, t0)
	if got := line(t, p); !strings.Contains(got, "seconds_since_seen=0,") {
		t.Errorf("future last seen: %s", got)
	}
}

func TestBedPoint(t *testing.T) {
	t.Parallel()
	b := pipeline.BedStatus{ID: "micu-02", Unit: "micu", Class: "general", State: pipeline.Degraded, Reason: []string{"ventilator offline", "monitor missing"}}
	want := `bed_state,bed=micu-02,class=general,hospital=h1,unit=micu state="degraded",equipped=false,occupied=false,reason="ventilator offline; monitor missing" 1796378400000000000`
	if got := line(t, Bed("h1", &b, t0)); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	b.State = pipeline.Occupied
	if got := line(t, Bed("h1", &b, t0)); !strings.Contains(got, "equipped=true,occupied=true") {
		t.Errorf("occupied bed: %s", got)
	}
}

func TestCapacityPoints(t *testing.T) {
	t.Parallel()
	c := pipeline.CapacityReport{
		Hospital: pipeline.Capacity{Unit: "all", Class: "all", BedsTotal: 10, BedsEquipped: 8, BedsOccupied: 5, BedsAvailable: 3, BedsDegraded: 2, ConvertibleReady: 1, Verified: true,
			Kinds: map[string]pipeline.KindCount{"ventilator": {Total: 9, InUse: 5, Standby: 2, Offline: 1, Fault: 1}}, Evidence: pipeline.Evidence{Coverage: 0.9}},
		Classes: []pipeline.Capacity{{Unit: "all", Class: "general"}},
		Units:   []pipeline.Capacity{{Unit: "micu", Class: "general"}, {Unit: "cicu", Class: "specialty"}},
	}
	ps := Capacity("h1", &c, t0)
	if len(ps) != 4 {
		t.Fatalf("%d points, want hospital + 1 class + 2 units", len(ps))
	}
	want := `icu_capacity,class=all,hospital=h1,unit=all beds_total=10i,beds_equipped=8i,beds_occupied=5i,beds_available=3i,beds_degraded=2i,convertible_ready=1i,verified=true,coverage=0.9,ventilator_total=9i,ventilator_in_use=5i,ventilator_standby=2i,ventilator_offline=1i,ventilator_fault=1i,ventilator_maintenance=0i 1796378400000000000`
	if got := line(t, ps[0]); got != want {
		t.Errorf("hospital:\n got %s\nwant %s", got, want)
	}
	for i, tag := range []string{"class=general,hospital=h1,unit=all", "class=general,hospital=h1,unit=micu", "class=specialty,hospital=h1,unit=cicu"} {
		if got := line(t, ps[i+1]); !strings.HasPrefix(got, "icu_capacity,"+tag+" ") {
			t.Errorf("point %d: %s, want tags %s", i+1, got, tag)
		}
	}
	for _, p := range ps {
		if p.Class != influx.State {
			t.Errorf("capacity point of class %v, want state (never shed)", p.Class)
		}
	}
}

func TestTelemetryPoint(t *testing.T) {
	t.Parallel()
	prof := &config.Profile{Name: "p", Values: []config.Value{
		{Name: "peep", Type: config.TypeFloat32},
		{Name: "spo2", Type: config.TypeUint16, Clinical: true},
		{Name: "serial", Type: config.TypeString},
		{Name: "status"},
	}, Telemetry: []string{"peep", "spo2", "serial", "missing"}}
	if err := prof.Compile(); err != nil {
		t.Fatal(err)
	}
	d := &pipeline.DeviceStatus{ID: "vent-01", Kind: "ventilator", Unit: "micu", At: "micu-01", AtType: "bed"}
	o := &pipeline.Observation{Device: "vent-01", Time: t0, Values: []rules.Sample{{Num: 5.5}, {Num: 97}, {Str: "SN 1"}, {Num: 3}}}
	site := &config.Site{}
	site.Hospital.ID = "h1"

	p, ok := Telemetry(site, prof, d, o)
	want := `device_telemetry,bed=micu-01,device=vent-01,hospital=h1,kind=ventilator,unit=micu peep=5.5,serial_text="SN 1" 1796378400000000000`
	if got := line(t, p); !ok || got != want {
		t.Errorf("clinical off:\n got %s (ok %v)\nwant %s", got, ok, want)
	}
	if p.Class != influx.Telemetry {
		t.Errorf("class %v, want telemetry (shed first)", p.Class)
	}
	site.Clinical = true
	if p, _ := Telemetry(site, prof, d, o); !strings.Contains(line(t, p), "spo2=97") {
		t.Errorf("clinical on: spo2 missing from %s", line(t, p))
	}
	// Non-finite numbers are left out; nothing left means no point.
	o.Values = []rules.Sample{{Num: math.NaN()}, {Num: math.Inf(1)}, {}, {}}
	prof.Telemetry = []string{"peep", "spo2"}
	if _, ok := Telemetry(site, prof, d, o); ok {
		t.Error("a point with only non-finite values was written")
	}
}

func TestGatewayPoint(t *testing.T) {
	t.Parallel()
	bare := line(t, Gateway("h1", GatewayHealth{Observations: 10, FailedObservations: 1, Transitions: 2, IntakeDepth: 3, EventsDropped: 4}, t0))
	want := `gateway,hospital=h1 observations=10i,failed_observations=1i,transitions=2i,intake_depth=3i,events_dropped=4i 1796378400000000000`
	if bare != want {
		t.Errorf("no outputs:\n got %s\nwant %s", bare, want)
	}
	full := line(t, Gateway("h1", GatewayHealth{
		Outbox: &outbox.Stats{StatePoints: 2, TelemetryPoints: 3, Bytes: 100, Lag: 2 * time.Second, Dropped: 1, OverBudget: true},
		Writer: &influx.Status{State: "held", Written: 7, LastWrite: t0.Add(-5 * time.Second)},
	}, t0))
	for _, f := range []string{"outbox_points=5i", "outbox_bytes=100i", "outbox_lag_seconds=2", "outbox_dropped=1i", "outbox_over_budget=true", `writer_state="held"`, "points_written=7i", "write_lag_seconds=5"} {
		if !strings.Contains(full, f) {
			t.Errorf("with outputs: %s lacks %s", full, f)
		}
	}
}
