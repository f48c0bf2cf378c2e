package gateway

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/mqtt"
	"github.com/icugate/icugate/pipeline"
)

const (
	group1 = "modbus modbus-tcp 127.0.0.1:9"
	group2 = "modbus modbus-tcp 127.0.0.2:9"
)

// fingerprints returns each group's fingerprint by key.
func fingerprints(t *testing.T, site *config.Site) map[string]string {
	t.Helper()
	gs, err := groupsOf(site, mqtt.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range gs {
		out[g.key] = g.fingerprint
	}
	return out
}

// A site splits into one group per Modbus endpoint, sorted, plus one MQTT
// group when a broker is configured.
func TestGroupsOf(t *testing.T) {
	t.Parallel()
	site, _ := smallSite(t, t.TempDir(), nil, "")
	fp := fingerprints(t, site)
	keys := make([]string, 0, len(fp))
	for k := range fp {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{group1, group2}; !slices.Equal(keys, want) {
		t.Errorf("groups %q, want %q", keys, want)
	}

	withBroker, _ := smallSite(t, t.TempDir(), nil, "mqtt:\n  broker: tcp://127.0.0.1:9\n")
	if _, ok := fingerprints(t, withBroker)["mqtt"]; !ok {
		t.Error("a site with a broker has no mqtt group (reports are published on it)")
	}
}

// Which config changes restart which driver group: a device's place is no
// connection setting; its address, unit, interval and profile are, and so
// are the hospital and the broker (they name topics and client ids).
func TestFingerprintChangesOnlyWithConnectionSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(string) string
		extra   string
		changed []string // groups whose fingerprint changes
	}{
		{"nothing", nil, "", nil},
		{"a device moves to another bed", func(s string) string {
			return strings.Replace(s, "{id: vent-1, kind: ventilator, profile: generic-ventilator-modbus, at: icu-01", "{id: vent-1, kind: ventilator, profile: generic-ventilator-modbus, at: icu-02", 1)
		}, "", nil},
		{"a unit gets another name", func(s string) string {
			return strings.Replace(s, "  - id: icu\n", "  - id: icu\n    name: Renamed\n", 1)
		}, "", nil},
		{"a device's unit id", func(s string) string {
			return strings.Replace(s, `"127.0.0.1:9", unit_id: 2`, `"127.0.0.1:9", unit_id: 3`, 1)
		}, "", []string{group1}},
		{"a device's interval", func(s string) string {
			return strings.Replace(s, `"127.0.0.2:9", unit_id: 1}`, `"127.0.0.2:9", unit_id: 1, interval: 5s}`, 1)
		}, "", []string{group2}},
		{"a device's expected serial", func(s string) string {
			return strings.Replace(s, "{id: vent-1, kind: ventilator,", "{id: vent-1, serial: \"42\", kind: ventilator,", 1)
		}, "", []string{group1}},
		{"the hospital", func(s string) string { return strings.Replace(s, "id: test-hospital", "id: other-hospital", 1) }, "", []string{group1, group2}},
	}
	base, _ := smallSite(t, t.TempDir(), nil, "")
	before := fingerprints(t, base)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			site, _ := smallSite(t, t.TempDir(), tc.edit, tc.extra)
			after := fingerprints(t, site)
			var changed []string
			for k, fp := range before {
				if after[k] != fp {
					changed = append(changed, k)
				}
			}
			slices.Sort(changed)
			if !slices.Equal(changed, tc.changed) {
				t.Errorf("groups restarted %q, want %q", changed, tc.changed)
			}
		})
	}

	// A change inside a profile restarts the groups that use it.
	site, _ := smallSite(t, t.TempDir(), nil, "")
	p := *site.Profiles["generic-ventilator-modbus"]
	p.Model = "V-600"
	site.Profiles["generic-ventilator-modbus"] = &p
	after := fingerprints(t, site)
	if after[group1] == before[group1] || after[group2] == before[group2] {
		t.Error("a changed ventilator profile restarts neither group using it")
	}
}

// discardIntake takes every observation and forgets it.
type discardIntake struct{}

func (discardIntake) Offer(ctx context.Context, _ pipeline.Observation) error { return ctx.Err() }

// A reload restarts only the groups whose fingerprint changed, stops the
// groups that are gone, and a restarted group registers its metrics again
// (its old ones were unregistered). stop ends them all.
func TestDriverSetRestartsOnlyChangedGroups(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	ds := &driverSet{log: slog.New(slog.DiscardHandler), reg: reg, in: discardIntake{}, base: ctx}
	defer ds.stop()
	running := func() map[string]*runningGroup {
		ds.mu.Lock()
		defer ds.mu.Unlock()
		return maps.Clone(ds.groups)
	}
	site, _ := smallSite(t, t.TempDir(), nil, "")
	if err := ds.apply(site); err != nil {
		t.Fatal(err)
	}
	first := running()
	if len(first) != 2 {
		t.Fatalf("%d groups running, want 2", len(first))
	}

	changed, _ := smallSite(t, t.TempDir(), func(s string) string {
		return strings.Replace(s, `"127.0.0.1:9", unit_id: 2`, `"127.0.0.1:9", unit_id: 3`, 1)
	}, "")
	if err := ds.apply(changed); err != nil {
		t.Fatalf("apply after a change: %v (did the restarted group register its metrics twice?)", err)
	}
	second := running()
	if second[group1] == first[group1] {
		t.Error("the group whose device changed was not restarted")
	}
	if second[group2] != first[group2] {
		t.Error("the group nothing changed in was restarted")
	}
	select {
	case <-first[group1].done:
	default:
		t.Error("the replaced group is still running")
	}

	// The second endpoint's devices go: its group stops.
	gone, _ := smallSite(t, t.TempDir(), func(s string) string {
		var keep []string
		for l := range strings.Lines(s) {
			if !strings.Contains(l, "127.0.0.2:9") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "")
	}, "")
	if err := ds.apply(gone); err != nil {
		t.Fatal(err)
	}
	third := running()
	if _, ok := third[group2]; ok || len(third) != 1 {
		t.Errorf("groups %v after the second endpoint's devices went, want only %s", keys(third), group1)
	}
	select {
	case <-second[group2].done:
	default:
		t.Error("the removed group is still running")
	}
	if ds.mqttDriver() != nil {
		t.Error("an MQTT driver without a broker configured")
	}

	ds.stop()
	if n := len(running()); n != 0 {
		t.Errorf("%d groups after stop", n)
	}
	for _, rg := range third {
		select {
		case <-rg.done:
		default:
			t.Error("a group still runs after stop")
		}
	}
}

func keys(m map[string]*runningGroup) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// trackingRegisterer forgets what it unregistered, refuses what its
// registry refuses, and does nothing without a registry.
func TestTrackingRegisterer(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	tr := &trackingRegisterer{reg: reg}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "icugate_test_total", Help: "test"})
	tr.MustRegister(c)
	if err := tr.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "icugate_test_total", Help: "test"})); err == nil {
		t.Error("a duplicate registration succeeded")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustRegister of a duplicate did not panic")
			}
		}()
		tr.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "icugate_test_total", Help: "test"}))
	}()
	tr.unregisterAll()
	if err := reg.Register(c); err != nil {
		t.Errorf("after unregisterAll the counter cannot be registered again: %v", err)
	}
	if !tr.Unregister(c) {
		t.Error("Unregister of a registered counter reported false")
	}
	var none *trackingRegisterer
	none.unregisterAll()
	(&trackingRegisterer{}).unregisterAll()
}
