package main

import (
	"testing"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
)

// TestDemoScenarioMatchesDemoSite: every step of the shipped demo scenario
// names a device of the demo site and a state its profile can simulate.
func TestDemoScenarioMatchesDemoSite(t *testing.T) {
	site, err := config.Load("../../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := simulator.LoadScenario("../../configs/scenarios/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 10 {
		t.Fatalf("demo scenario has %d steps; want a real morning", len(steps))
	}
	devs := map[string]*config.Device{}
	for i := range site.Devices {
		devs[site.Devices[i].ID] = &site.Devices[i]
	}
	for i, s := range steps {
		d := devs[s.Device]
		if d == nil {
			t.Errorf("step %d: device %q is not in the demo site", i+1, s.Device)
			continue
		}
		if s.State == "offline" || s.State == "standby" {
			continue
		}
		if _, ok := site.Profiles[d.Profile].Simulate[s.State]; !ok {
			t.Errorf("step %d: profile %s of %s cannot simulate %s", i+1, d.Profile, s.Device, s.State)
		}
	}
}
