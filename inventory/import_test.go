package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icugate/icugate/config"
)

// A good export becomes a devices file that the site loads with, the
// devices in export order after the inline ones, and Write puts it where
// the site reads it.
func TestImportWritesADevicesFileTheSiteLoads(t *testing.T) {
	t.Parallel()
	site := writeTestSite(t, nil, "")
	csv := header +
		"V-001,SV-1,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.1:502,1,,2027-03-31\n" +
		"M-001,MN-1,monitor,generic-monitor-modbus,gicu-01,,10.0.0.1,2,,\n" +
		"M-002,MN-2,monitor,generic-monitor-mqtt,gicu-02,mqtt,,,,\n" +
		"E-001,EC-1,ecmo,generic-ecmo-modbus,central-store,modbus-rtu,/dev/ttyUSB0,3,,\n" +
		"C-001,CR-1,crrt,generic-crrt-modbus,gicu-03,modbus-rtu-over-tcp,10.0.0.9:4001,1,,2026/12/1\n"
	plan, err := prepare(t, site, csv, nil)
	if err != nil {
		t.Fatalf("Prepare:\n%v", err)
	}
	if !plan.Included || plan.Target != filepath.Join(filepath.Dir(site), "devices.yaml") {
		t.Errorf("target %s included %v", plan.Target, plan.Included)
	}
	if _, err := plan.Write(); err != nil {
		t.Fatal(err)
	}
	s, err := config.Load(site)
	if err != nil {
		t.Fatalf("Load after import:\n%v", err)
	}
	var ids []string
	for _, d := range s.Devices {
		ids = append(ids, d.ID)
	}
	if got := strings.Join(ids, " "); got != "inline-mon inline-vent V-001 M-001 M-002 E-001 C-001" {
		t.Fatalf("devices %s", got)
	}
	byID := map[string]config.Device{}
	for _, d := range s.Devices {
		byID[d.ID] = d
	}
	checks := []struct{ name, got, want string }{
		{"V-001 pm_due", byID["V-001"].PMDue, "2027-03-31"},
		{"M-001 default port", byID["M-001"].Modbus.Address, "10.0.0.1:502"},
		{"M-001 serial", byID["M-001"].Serial, "MN-1"},
		{"M-002 topic from profile", byID["M-002"].MQTT.Topic, "devices/M-002/status"},
		{"E-001 rtu", byID["E-001"].Modbus.RTU.Device, "/dev/ttyUSB0"},
		{"C-001 converter", byID["C-001"].Modbus.RTUOverTCP, "10.0.0.9:4001"},
		{"C-001 date form", byID["C-001"].PMDue, "2026-12-01"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	data, _ := os.ReadFile(plan.Target)
	if !bytes.HasPrefix(data, []byte("# Devices imported by icugate import from devices.csv, 2026-03-01 10:00 UTC.\n# 5 devices from 5 rows (UTF-8, comma-separated).\n")) {
		t.Errorf("devices file header:\n%s", data)
	}
}

// The dry run's diff: added, removed and changed devices, changes field by
// field as old → new, rows named.
func TestDryRunDiff(t *testing.T) {
	t.Parallel()
	current := "devices:\n" +
		"  - {id: A-1, kind: monitor, profile: generic-monitor-modbus, at: gicu-01, serial: S1, modbus: {address: \"10.0.0.1:502\", unit_id: 1}}\n" +
		"  - {id: A-2, kind: ventilator, profile: generic-ventilator-modbus, at: gicu-01, modbus: {address: \"10.0.0.1:502\", unit_id: 2}}\n" +
		"  - {id: A-3, kind: monitor, profile: generic-monitor-modbus, at: gicu-02, pm_due: 2026-12-01, modbus: {address: \"10.0.0.2:502\", unit_id: 1}}\n"
	site := writeTestSite(t, nil, current)
	csv := header +
		"A-1,S1,monitor,generic-monitor-modbus,gicu-01,modbus-tcp,10.0.0.1:502,1,,\n" +
		"A-3,,monitor,generic-monitor-modbus,gicu-03,modbus-tcp,10.0.0.2:502,1,,2027-06-01\n" +
		"A-4,S4,ventilator,generic-ventilator-mqtt,gicu-03,mqtt,,,,\n"
	plan, err := prepare(t, site, csv, nil)
	if err != nil {
		t.Fatalf("Prepare:\n%v", err)
	}
	var out bytes.Buffer
	if err := plan.Diff.Write(&out, plan.RowsByID()); err != nil {
		t.Fatal(err)
	}
	want := `1 added, 1 removed, 1 changed, 3 unchanged
+ A-4 (row 4): ventilator generic-ventilator-mqtt at gicu-03, mqtt devices/A-4/status, serial S4
- A-2: ventilator generic-ventilator-modbus at gicu-01, modbus-tcp 10.0.0.1:502 unit 2
~ A-3 (row 3): location gicu-02 → gicu-03; pm_due 2026-12-01 → 2027-06-01
`
	if out.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", out.String(), want)
	}
	// A dry run writes nothing.
	if data, _ := os.ReadFile(plan.Target); string(data) != current {
		t.Error("Prepare changed the devices file")
	}
}
