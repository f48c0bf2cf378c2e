package gateway

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/pipeline"
)

// profilesWithRenamedMonitor copies the shipped profiles into a new
// directory and adds "other-monitor-modbus", the generic monitor under
// another name, so a device can change profile without changing kind.
func profilesWithRenamedMonitor(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := filepath.Glob("../configs/profiles/*.yaml")
	if err != nil || len(src) == 0 {
		t.Fatalf("no shipped profiles: %v", err)
	}
	for _, f := range src {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == "generic-monitor-modbus.yaml" {
			b = []byte(strings.Replace(string(b), "name: generic-monitor-modbus", "name: other-monitor-modbus", 1))
			if err := os.WriteFile(filepath.Join(dir, "other-monitor-modbus.yaml"), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// useProfiles points a small site at another profiles directory.
func useProfiles(dir string) func(string) string {
	return func(text string) string {
		i := strings.Index(text, "profiles_dir: ")
		j := i + strings.Index(text[i:], "\n")
		return text[:i] + "profiles_dir: " + dir + text[j:]
	}
}

// A reload that removes a device, adds one and gives one a new profile:
// the removed device is gone, the new one is not yet seen, the re-profiled
// one starts afresh, and every other device keeps its state, its last
// answer and its maintenance flag.
func TestReloadAddsRemovesAndReprofilesDevices(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir, profiles := t.TempDir(), profilesWithRenamedMonitor(t)
		site, path := smallSite(t, dir, useProfiles(profiles), "")
		h := startLoop(t, site, path, dir, loopOptions{})
		allStandby(t, h, site)
		before := h.sync(t)
		if err := h.g.SetMaintenance(context.Background(), "vent-1", true, "eng"); err != nil {
			t.Fatal(err)
		}

		writeSmallSite(t, dir, func(text string) string {
			text = useProfiles(profiles)(text)
			text = strings.Replace(text, "  - {id: vent-2,", "  - {id: vent-3,", 1)
			return strings.Replace(text, "{id: mon-1, kind: monitor, profile: generic-monitor-modbus", "{id: mon-1, kind: monitor, profile: other-monitor-modbus", 1)
		}, "")
		if err := h.g.Reload(context.Background()); err != nil {
			t.Fatalf("reload: %v", err)
		}
		s := h.g.Snapshot()
		ids := map[string]pipeline.DeviceStatus{}
		for _, d := range s.Devices {
			ids[d.ID] = d
		}
		if _, ok := ids["vent-2"]; ok {
			t.Error("vent-2, removed from the config, is still served")
		}
		if d, ok := ids["vent-3"]; !ok || d.LastSeen != nil {
			t.Errorf("vent-3, added, is %+v; want served and never seen", d)
		}
		if d := ids["mon-1"]; d.LastSeen != nil || d.State == pipeline.Standby {
			t.Errorf("mon-1 with a new profile kept its state %v (last seen %v); want a fresh start", d.State, d.LastSeen)
		}
		if d := ids["vent-1"]; d.State != pipeline.Maintenance || d.MaintenanceBy != "eng" {
			t.Errorf("vent-1 = %v by %q after the reload, want maintenance by eng", d.State, d.MaintenanceBy)
		}
		if d, old := ids["mon-2"], device(t, before, "mon-2"); d.State != pipeline.Standby || d.LastSeen == nil || !d.LastSeen.Equal(*old.LastSeen) {
			t.Errorf("mon-2 = %v, last seen %v after the reload; want standby, last seen %v", d.State, d.LastSeen, old.LastSeen)
		}
		if got := h.g.Site().Devices[0].Profile; got != "other-monitor-modbus" {
			t.Errorf("the config in force has mon-1's profile %q, want the new one", got)
		}
		if got := testCounter(h.g.m.reloads.WithLabelValues("applied")); got != 1 {
			t.Errorf("icugate_reloads_total{result=applied} = %v, want 1", got)
		}

		// Observations of the new device are taken under the new config.
		h.offer(t, pipeline.Observation{Device: "vent-3", Time: time.Now(), Values: sample(t, h.g.Site(), "vent-3", nil)})
		if d := device(t, h.sync(t), "vent-3"); d.State != pipeline.Standby {
			t.Errorf("vent-3 = %v after an idle answer, want standby", d.State)
		}
		if vals, _ := h.g.details.get("vent-3"); len(vals.Values) == 0 {
			t.Error("the device page of vent-3 shows no values")
		}
	})
}

// A config that fails its check is rejected as a whole: the running config
// and every device state stay, and the error says what is wrong and where.
func TestReloadRejectedKeepsConfigAndSaysWhy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"unknown profile", func(s string) string {
			return strings.Replace(s, "profile: generic-ventilator-modbus, at: icu-01", "profile: no-such-profile, at: icu-01", 1)
		}, "no-such-profile"},
		{"unknown bed", func(s string) string {
			return strings.Replace(s, "at: icu-02, modbus: {address: \"127.0.0.2:9\", unit_id: 1}", "at: icu-99, modbus: {address: \"127.0.0.2:9\", unit_id: 1}", 1)
		}, "icu-99"},
		{"broken yaml", func(s string) string { return s + "units: [\n" }, "site.yaml"},
		{"duplicate device", func(s string) string { return strings.Replace(s, "{id: vent-2,", "{id: vent-1,", 1) }, "vent-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				site, path := smallSite(t, dir, nil, "")
				h := startLoop(t, site, path, dir, loopOptions{})
				allStandby(t, h, site)
				before := h.sync(t)
				writeSmallSite(t, dir, tc.edit, "")
				err := h.g.Reload(context.Background())
				if !errors.Is(err, ErrReloadRejected) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Reload = %v; want ErrReloadRejected naming %q", err, tc.want)
				}
				if h.g.Site() != site {
					t.Error("a rejected reload replaced the config in force")
				}
				after := h.sync(t)
				if len(after.Devices) != len(before.Devices) {
					t.Fatalf("%d devices after a rejected reload, want %d", len(after.Devices), len(before.Devices))
				}
				for i := range before.Devices {
					if after.Devices[i].State != before.Devices[i].State {
						t.Errorf("%s changed from %v to %v on a rejected reload", before.Devices[i].ID, before.Devices[i].State, after.Devices[i].State)
					}
				}
				if got := testCounter(h.g.m.reloads.WithLabelValues("rejected")); got != 1 {
					t.Errorf("icugate_reloads_total{result=rejected} = %v, want 1", got)
				}
			})
		})
	}
}

// Maintenance flags and run-time moves are stored before they apply: they
// survive a reload (a device moved at run time stays where it was put) and
// a restart (restored from the store); a stored move to a place the new
// config no longer has is dropped, not fatal.
func TestMaintenanceAndAssignmentsSurviveReloadAndRestart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		ctx := context.Background()
		if err := h.g.SetMaintenance(ctx, "vent-1", true, "eng"); err != nil {
			t.Fatal(err)
		}
		if err := h.g.SetMaintenance(ctx, "mon-1", true, "eng"); err != nil {
			t.Fatal(err)
		}
		if err := h.g.SetMaintenance(ctx, "mon-1", false, "eng"); err != nil {
			t.Fatal(err)
		}
		if err := h.g.Move(ctx, "mon-2", "central-store", "nurse"); err != nil {
			t.Fatal(err)
		}
		if err := h.g.Move(ctx, "mon-2", "nowhere", "nurse"); !errors.Is(err, pipeline.ErrUnknown) {
			t.Errorf("a move to an unknown place: %v, want pipeline.ErrUnknown", err)
		}
		if err := h.g.Move(ctx, "ghost", "icu-01", "nurse"); !errors.Is(err, pipeline.ErrUnknown) {
			t.Errorf("a move of an unknown device: %v, want pipeline.ErrUnknown", err)
		}
		check := func(when string, s pipeline.Snapshot) {
			t.Helper()
			if d := device(t, s, "vent-1"); d.State != pipeline.Maintenance || d.MaintenanceBy != "eng" {
				t.Errorf("%s: vent-1 = %v by %q, want maintenance by eng", when, d.State, d.MaintenanceBy)
			}
			if d := device(t, s, "mon-1"); d.State == pipeline.Maintenance {
				t.Errorf("%s: mon-1 in maintenance, though the flag was cleared", when)
			}
			if d := device(t, s, "mon-2"); d.At != "central-store" {
				t.Errorf("%s: mon-2 at %q, want central-store", when, d.At)
			}
		}
		check("before the reload", h.g.Snapshot())

		// A reload of a config that changed something else.
		writeSmallSite(t, dir, func(s string) string { return strings.Replace(s, "total_beds: 100", "total_beds: 120", 1) }, "")
		if err := h.g.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		check("after the reload", h.g.Snapshot())
		h.stop()

		h2 := startLoop(t, h.g.Site(), path, dir, loopOptions{})
		check("after a restart", h2.sync(t))
		h2.stop()

		// A restart with a config that no longer has the central store.
		site3, path3 := smallSite(t, dir, func(s string) string { return strings.Replace(s, "  - central-store\n", "  - spare-room\n", 1) }, "")
		h3 := startLoop(t, site3, path3, dir, loopOptions{})
		s3 := h3.sync(t)
		if d := device(t, s3, "mon-2"); d.At != "icu-02" {
			t.Errorf("mon-2 at %q after its stored place went away, want its configured icu-02", d.At)
		}
		if d := device(t, s3, "vent-1"); d.State != pipeline.Maintenance {
			t.Errorf("vent-1 = %v after a restart with a new config, want maintenance", d.State)
		}
	})
}
