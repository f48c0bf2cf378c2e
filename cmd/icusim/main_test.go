package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
	"github.com/icugate/icugate/simulator/mqttsim"
)

// TestMQTTBackendBehindControl: the MQTT simulator's devices are listed
// by the control API as mqtt devices at their topics, and state changes
// reach them; a device it does not simulate is ErrUnknownDevice, so that
// the control API asks the next backend.
func TestMQTTBackendBehindControl(t *testing.T) {
	site, err := config.Load("../../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := mqttsim.New(site, "tcp://127.0.0.1:1", mqttsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := mqttBackend{sim: sim}
	devs := b.Devices()
	if len(devs) == 0 {
		t.Fatal("the demo site's MQTT devices are not listed")
	}
	d := devs[0]
	if d.Transport != "mqtt" || d.Address == "" || d.State != simulator.StateStandby {
		t.Errorf("listed %+v; want transport mqtt, the topic as address, standby", d)
	}
	if err := b.SetState(d.ID, simulator.StateOffline); err != nil {
		t.Fatal(err)
	}
	if got := b.Devices()[0].State; got != simulator.StateOffline {
		t.Errorf("state after SetState: %s", got)
	}
	if err := b.SetState("no-such-device", simulator.StateFault); !errors.Is(err, simulator.ErrUnknownDevice) {
		t.Errorf("unknown device: %v; want ErrUnknownDevice", err)
	}
	if err := b.SetState(d.ID, "asleep"); err == nil || errors.Is(err, simulator.ErrUnknownDevice) {
		t.Errorf("bad state: %v; want a state error", err)
	}
	ctl := simulator.NewControl(b)
	if err := ctl.SetState(d.ID, simulator.StateStandby); err != nil {
		t.Errorf("control API to the MQTT backend: %v", err)
	}
	if !hasMQTT(site) {
		t.Error("hasMQTT of the demo site is false")
	}
	site.Devices = nil
	if hasMQTT(site) {
		t.Error("hasMQTT of a site without devices is true")
	}
}

// TestRunRefusesBadInvocations: the errors end icusim before it serves
// anything, with status 2 for usage and 1 for a bad config.
func TestRunRefusesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	badScenario := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badScenario, []byte("- after: 1s\n  device: x\n  state: sleeping\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noBroker := filepath.Join(dir, "site.yaml")
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"no site", nil, 2},
		{"unknown flag", []string{"-c", "x.yaml", "-loud"}, 2},
		{"missing site", []string{"-c", filepath.Join(dir, "missing.yaml")}, 1},
		{"bad scenario", []string{"-c", "../../configs/demo-site.yaml", "-scenario", badScenario, "-listen", "127.0.0.1:0"}, 1},
		{"missing scenario", []string{"-c", "../../configs/demo-site.yaml", "-scenario", filepath.Join(dir, "none.yaml")}, 1},
		{"site not a site", []string{"-c", noBroker}, 1},
	} {
		if c.name == "site not a site" {
			_ = os.WriteFile(noBroker, []byte("units: [\n"), 0o644)
		}
		if got := run(c.args); got != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.want)
		}
	}
}
