package config

import (
	"path/filepath"
	"testing"

	"github.com/icugate/icugate/rules"
)

// TestShippedProfilesSimulate checks that every profile shipped under
// configs/profiles loads cleanly and that its simulate values for each
// state make its own state rules derive exactly that state, so icusim
// serves what it claims to.
func TestShippedProfilesSimulate(t *testing.T) {
	files, err := filepath.Glob("../configs/profiles/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped profiles found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := LoadProfile(f)
			if err != nil {
				t.Fatalf("LoadProfile: %v", err)
			}
			for _, state := range simStates {
				samples, err := p.SimulatedSamples(state)
				if err != nil {
					t.Fatalf("%s: %v", state, err)
				}
				c, err := p.Rules.Derive(samples)
				if err != nil {
					t.Fatalf("%s: Derive: %v", state, err)
				}
				want := rules.Condition{Fault: state == "fault", Maintenance: state == "maintenance", InUse: state == "in_use"}
				if c != want {
					t.Errorf("simulate.%s derives %+v, want %+v", state, c, want)
				}
			}
			if len(p.Telemetry) == 0 {
				t.Error("profile lists no telemetry")
			}
			for _, name := range p.Telemetry {
				if v := p.Values[p.Index(name)]; v.Clinical {
					t.Errorf("telemetry lists clinical value %s: shipped profiles collect operational values only", name)
				}
			}
		})
	}
}
