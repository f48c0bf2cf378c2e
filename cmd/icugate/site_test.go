package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
)

// tinySiteYAML is one bed with a monitor and a ventilator (serial
// @SERIAL@) at @MODBUS@, its outbox under @DIR@ and its API on @HTTP@.
const tinySiteYAML = `hospital:
  id: test-hospital
  name: Test Hospital
  level: tertiary
  total_beds: 10
  region: region-test
target_year: 2027
profiles_dir: @PROFILES@
hold: 0s
units:
  - id: icu
    class: general
    beds: [icu-01]
devices:
  - {id: mon-1, kind: monitor, profile: generic-monitor-modbus, at: icu-01, modbus: {address: "@MODBUS@", unit_id: 1, timeout: 1s}}
  - {id: vent-1, kind: ventilator, profile: generic-ventilator-modbus, at: icu-01, serial: "@SERIAL@", modbus: {address: "@MODBUS@", unit_id: 2, timeout: 1s}}
outbox:
  dir: @DIR@/outbox
http:
  listen: @HTTP@
`

// writeTinySite writes tinySiteYAML into dir and returns its path.
func writeTinySite(t *testing.T, dir, modbusAddr, httpAddr, serial string) string {
	t.Helper()
	profiles, err := filepath.Abs("../../configs/profiles")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("@PROFILES@", profiles, "@DIR@", dir, "@MODBUS@", modbusAddr,
		"@HTTP@", httpAddr, "@SERIAL@", serial).Replace(tinySiteYAML)
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSimulator serves the devices of the site file at path until the
// test ends.
func startSimulator(t *testing.T, path string) *simulator.Simulator {
	t.Helper()
	site, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(site, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// eventually polls cond every 10ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		<-tick.C
	}
}

// captureStderr runs fn with os.Stderr sent to a file, whose path fn gets
// to read it meanwhile, and returns what was written there. It swaps a
// process-wide variable: callers must not be parallel.
func captureStderr(t *testing.T, fn func(path string)) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stderr
	os.Stderr = f
	defer func() { os.Stderr = old }()
	fn(f.Name())
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
