package inventory

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testMapping = `
columns:
  asset_id: [卡片编号]
  location: [使用科室床位]
kinds:
  呼吸机（有创）: ventilator
  输液泵: skip
profiles:
  - {vendor: 迈瑞, model: SV300, profile: generic-ventilator-modbus}
  - {vendor: Acme, model: "*", profile: plain-monitor}
locations:
  ICU-A 1床: gicu-01
  设备库: central-store
skip_status: [已调拨]
defaults:
  protocol: modbus-tcp
  interval: 2s
modbus_port: 1502
`

// A hospital's mapping file: its own headers, kinds, vendor and model to
// profile, locations, statuses to skip, defaults and port.
func TestMappingFile(t *testing.T) {
	t.Parallel()
	m, err := ParseMapping("mapping.yaml", []byte(testMapping))
	if err != nil {
		t.Fatal(err)
	}
	site := writeTestSite(t, nil, "")
	csv := "卡片编号,设备类型,厂家,型号,序列号,使用科室床位,IP地址,站号,设备状态\n" +
		"K-1,呼吸机（有创）,迈瑞,SV300,S1,ICU-A 1床,10.0.0.1,1,在用\n" +
		"K-2,输液泵,BD,Alaris,S2,ICU-A 1床,,,在用\n" +
		"K-3,监护仪,Acme,PM 2,S3,设备库,10.0.0.3,1,在用\n" +
		"K-4,监护仪,Acme,PM 1,S4,设备库,10.0.0.4,1,已调拨\n" +
		"K-5,监护仪,Acme,PM 1,S5,设备库,10.0.0.5,1,报废\n"
	plan, err := prepare(t, site, csv, m)
	if err != nil {
		t.Fatalf("Prepare:\n%v", err)
	}
	var got []string
	for _, d := range plan.Devices {
		got = append(got, d.ID+" "+d.Profile+" "+d.At+" "+d.Modbus.Address+" "+d.Modbus.Interval.String()+" serial:"+d.Serial)
	}
	want := []string{
		"K-1 generic-ventilator-modbus gicu-01 10.0.0.1:1502 2s serial:S1",
		// plain-monitor reads no serial: the serial is checked, not kept
		"K-3 plain-monitor central-store 10.0.0.3:1502 2s serial:",
		// K-5: 报废 is no longer skipped, as skip_status replaces the default
		"K-5 plain-monitor central-store 10.0.0.5:1502 2s serial:",
	}
	if !slices.Equal(got, want) {
		t.Errorf("devices:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if plan.Skipped["kind 输液泵"] != 1 || plan.Skipped["status 已调拨"] != 1 || plan.UnreadSerials["plain-monitor"] != 2 {
		t.Errorf("skipped %v, unread serials %v", plan.Skipped, plan.UnreadSerials)
	}
}

// Mistakes in a mapping file are reported at their lines, all at once.
func TestMappingFileProblems(t *testing.T) {
	t.Parallel()
	text := `columns:
  asset: [卡片编号]
kinds: {a: b}
profiles:
  - {vendor: X, profile: p}
defaults:
  asset_id: A
modbus_port: 99999
locaions: {}
`
	_, err := ParseMapping("m.yaml", []byte(text))
	got := problemLines(t, err)
	want := []string{
		`m.yaml:2: columns: unknown field "asset": want one of address, asset_id, baud, close_after_poll, data_bits, failures, freshness, interval, kind, location, max_conns, model, parity, pm_due, profile, protocol, serial, status, stop_bits, timeout, topic, unit_id, vendor`,
		`m.yaml:5: profiles[0]: give vendor, model (or "*") and profile`,
		`m.yaml:7: defaults: "asset_id" cannot have a default: want one of the fields but asset_id`,
		`m.yaml:8: modbus_port: want a port 1..65535`,
		`m.yaml:9: unknown key "locaions"; check its spelling and indentation`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// update rewrites golden files: go test ./inventory -run TestShippedSamples -update
var update = flag.Bool("update", false, "rewrite configs/inventory/devices.yaml from the sample export")

// The shipped sample mapping parses, both sample exports import into the
// sample site with it, and configs/inventory/devices.yaml is what the
// English one gives.
func TestShippedSamples(t *testing.T) {
	t.Parallel()
	m, err := LoadMapping("../configs/inventory/mapping.yaml")
	if err != nil {
		t.Fatalf("mapping.yaml:\n%v", err)
	}
	for _, f := range []string{"cmms-export.csv", "cmms-export-zh.csv"} {
		data, err := os.ReadFile(filepath.Join("../configs/inventory", f))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		site := filepath.Join(dir, "site.yaml")
		text, err := os.ReadFile("../configs/inventory/site.yaml")
		if err != nil {
			t.Fatal(err)
		}
		profiles, _ := filepath.Abs("../configs/profiles")
		mustWrite(t, site, strings.Replace(string(text), "profiles_dir: ../profiles", "profiles_dir: "+profiles, 1))
		plan, err := Prepare(Import{Site: site, Source: f, Data: data, Mapping: m, Now: testNow})
		if err != nil {
			t.Fatalf("%s:\n%v", f, err)
		}
		if len(plan.Devices) != 16 || plan.Skipped["status 报废"]+plan.Skipped["status Scrapped"] != 1 {
			t.Errorf("%s: %d devices, skipped %v", f, len(plan.Devices), plan.Skipped)
		}
		if f != "cmms-export.csv" {
			continue
		}
		golden := "../configs/inventory/devices.yaml"
		if *update {
			if err := os.WriteFile(golden, plan.Content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if want, err := os.ReadFile(golden); err != nil || string(want) != string(plan.Content) {
			t.Errorf("%s is not what importing %s gives (go test ./inventory -run TestShippedSamples -update):\n%s", golden, f, plan.Content)
		}
	}
}
