package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests import into a small hospital: two units, a store, the shipped
// profiles plus one that reads no serial, an inline monitor and ventilator
// in the site file, and device_files: [devices.yaml].

const testSite = `hospital: {id: h1, name: Test Hospital, level: tertiary, total_beds: 500}
units:
  - {id: gicu, class: general, beds: [gicu-01, gicu-02, gicu-03, gicu-04]}
  - {id: ricu, class: specialty, beds: [ricu-01, ricu-02]}
pools: [central-store]
profiles_dir: profiles
mqtt: {broker: "tcp://127.0.0.1:1883"}
device_files: [devices.yaml]
devices:
  - {id: inline-mon, kind: monitor, profile: generic-monitor-modbus, at: ricu-01, serial: INL-1, modbus: {address: "10.9.0.1:502", unit_id: 1}}
  - {id: inline-vent, kind: ventilator, profile: generic-ventilator-modbus, at: ricu-01, modbus: {address: "10.9.0.1:502", unit_id: 2}}
`

// plainMonitor reads no serial number.
const plainMonitor = `name: plain-monitor
kind: monitor
vendor: Acme
model: PM 1
values:
  - {name: status, table: input, address: 0}
state:
  in_use: status > 0
`

// testNow is the import time written in devices files.
var testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// writeTestSite writes the test site (with edit applied to its text) in a
// new directory and returns the site file's path. devices.yaml is written
// when devices is not "".
func writeTestSite(t testing.TB, edit func(string) string, devices string) string {
	t.Helper()
	dir := t.TempDir()
	prof := filepath.Join(dir, "profiles")
	if err := os.Mkdir(prof, 0o755); err != nil {
		t.Fatal(err)
	}
	shipped, err := filepath.Glob("../configs/profiles/*.yaml")
	if err != nil || len(shipped) == 0 {
		t.Fatalf("no shipped profiles: %v", err)
	}
	for _, f := range shipped {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(prof, filepath.Base(f)), string(b))
	}
	mustWrite(t, filepath.Join(prof, "plain-monitor.yaml"), plainMonitor)
	site := testSite
	if edit != nil {
		site = edit(site)
	}
	path := filepath.Join(dir, "site.yaml")
	mustWrite(t, path, site)
	if devices != "" {
		mustWrite(t, filepath.Join(dir, "devices.yaml"), devices)
	}
	return path
}

func mustWrite(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// header is icugate's own columns, as an export writes them.
const header = "asset_id,serial,kind,profile,location,protocol,address,unit_id,topic,pm_due\n"

// prepare imports csv (UTF-8 text) into the site at path.
func prepare(t testing.TB, site, csv string, m *Mapping) (*Plan, error) {
	t.Helper()
	return Prepare(Import{Site: site, Source: "devices.csv", Data: []byte(csv), Mapping: m, Now: testNow})
}

// problemLines is an import error as the lines the CLI prints.
func problemLines(t testing.TB, err error) []string {
	t.Helper()
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not *Problems", err, err)
	}
	out := make([]string, len(ps.List))
	for i, p := range ps.List {
		out[i] = p.String()
	}
	return out
}

// expectLines checks that got holds exactly want (in order), with $DIR
// standing for dir.
func expectLines(t testing.TB, dir string, got, want []string) {
	t.Helper()
	for i := range got {
		got[i] = strings.ReplaceAll(got[i], dir, "$DIR")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// generatedCSV is a CMMS export of n devices: alternately a monitor and a
// ventilator at the gicu beds and the store, ten devices on each
// converter address, a serial and a PM date each.
func generatedCSV(n int) string {
	var b strings.Builder
	b.WriteString(header)
	places := []string{"gicu-01", "gicu-02", "gicu-03", "gicu-04", "ricu-02", "central-store"}
	for i := range n {
		kind, prof := "monitor", "generic-monitor-modbus"
		if i%2 == 1 {
			kind, prof = "ventilator", "generic-ventilator-modbus"
		}
		fmt.Fprintf(&b, "A-%05d,SN%06d,%s,%s,%s,modbus-tcp,10.%d.%d.%d:502,%d,,2027-%02d-%02d\n",
			i, i, kind, prof, places[i%len(places)], 1+i/25000, (i/2500)%10, (i/10)%250, 1+i%10, 1+i%12, 1+i%28)
	}
	return b.String()
}
