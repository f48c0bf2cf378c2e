package modbus_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/simulator"
)

// TestShippedProfilesEndToEnd serves every shipped Modbus profile from the
// simulator in each of its simulated states, reads it with the driver, and
// checks the decoded values equal the profile's simulate map and the state
// rules derive that state: encode and decode agree on real profiles.
func TestShippedProfilesEndToEnd(t *testing.T) {
	files, _ := filepath.Glob("../../configs/profiles/*.yaml")
	n := 0
	for _, f := range files {
		p, err := config.LoadProfile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if p.Transport() != "modbus" {
			continue
		}
		n++
		t.Run(p.Name, func(t *testing.T) {
			site := &config.Site{Profiles: map[string]*config.Profile{p.Name: p}, Devices: []config.Device{{
				ID: "d1", Kind: p.Kind, Profile: p.Name, Serial: "12345678",
				Modbus: &config.ModbusDevice{Address: freeAddr(t), UnitID: 3, Timeout: time.Second},
			}}}
			sim := startSim(t, site, simulator.Options{})
			for state := range p.Simulate {
				must(t, sim.SetState("d1", state))
				r, err := modbus.ReadOnce(context.Background(), &site.Devices[0], p)
				if err != nil {
					t.Fatalf("state %s: %v", state, err)
				}
				want, err := p.SimulatedSamples(state)
				must(t, err)
				for i, v := range p.Values {
					if v.Name == p.Serial {
						continue
					}
					tol := 1e-9
					if v.Scale != nil {
						tol = math.Abs(*v.Scale) / 2
					}
					if v.Type == config.TypeFloat32 {
						tol = math.Max(tol, math.Abs(want[i].Num)*1e-6)
					}
					if math.Abs(r.Samples[i].Num-want[i].Num) > tol || r.Samples[i].Str != want[i].Str {
						t.Errorf("state %s value %s: got %+v, want %+v", state, v.Name, r.Samples[i], want[i])
					}
					if !r.Values[i].InRange {
						t.Errorf("state %s value %s = %v out of its range %v", state, v.Name, r.Samples[i].Num, v.Range)
					}
				}
				if p.Serial != "" && r.Serial != "12345678" {
					t.Errorf("serial %q, want 12345678", r.Serial)
				}
				c, err := p.Rules.Derive(r.Samples)
				must(t, err)
				got := "standby"
				switch {
				case c.Fault:
					got = "fault"
				case c.Maintenance:
					got = "maintenance"
				case c.InUse:
					got = "in_use"
				}
				if got != state {
					t.Errorf("simulated %s, rules derive %s (%+v)", state, got, c)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no shipped modbus profiles found under configs/profiles")
	}
}
