package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/icugate/icugate/config"
)

// demoWithDeviceFile writes the demo site (configs/demo-site.yaml: every
// transport, several unit ids per address, MQTT topics from profile
// patterns) with its devices moved to devices.yaml, and returns the
// site's path and the demo as it loads.
func demoWithDeviceFile(t *testing.T) (string, *config.Site) {
	t.Helper()
	demo, err := config.Load("../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := filepath.Abs("../configs/profiles")
	if err != nil {
		t.Fatal(err)
	}
	var site, devices strings.Builder
	devices.WriteString("devices:\n")
	inDevices := false
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if line != "" && line[0] != ' ' && line[0] != '#' {
			inDevices = line == "devices:\n"
		}
		switch {
		case inDevices && strings.HasPrefix(line, "  - {id:"):
			devices.WriteString(line)
		case inDevices && strings.HasPrefix(line, "  #"):
		case line == "devices:\n":
			site.WriteString("device_files: [devices.yaml]\n")
		case line == "profiles_dir: profiles\n":
			site.WriteString("profiles_dir: " + profiles + "\n")
		default:
			site.WriteString(line)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "site.yaml")
	mustWrite(t, path, site.String())
	mustWrite(t, filepath.Join(dir, "devices.yaml"), devices.String())
	return path, demo
}

// Export, then import what it wrote: nothing changes, and the site loads
// with exactly the devices it had, in UTF-8 and in GBK.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	for _, enc := range []Encoding{EncodingUTF8, EncodingGBK} {
		t.Run(string(enc), func(t *testing.T) {
			t.Parallel()
			path, demo := demoWithDeviceFile(t)
			before, err := config.Load(path)
			if err != nil {
				t.Fatalf("Load with devices.yaml:\n%v", err)
			}
			if !reflect.DeepEqual(before.Devices, demo.Devices) {
				t.Fatal("the demo's devices moved to a devices file load differently")
			}
			var csv bytes.Buffer
			if err := Export(&csv, before.Devices, enc); err != nil {
				t.Fatal(err)
			}
			plan, err := Prepare(Import{Site: path, Source: "export.csv", Data: csv.Bytes(), Now: testNow})
			if err != nil {
				t.Fatalf("Prepare:\n%v", err)
			}
			if !plan.Diff.Empty() || plan.Diff.Unchanged != len(demo.Devices) {
				var out bytes.Buffer
				plan.Diff.Write(&out, nil)
				t.Fatalf("diff after a round trip:\n%s", out.String())
			}
			if _, err := plan.Write(); err != nil {
				t.Fatal(err)
			}
			after, err := config.Load(path)
			if err != nil {
				t.Fatalf("Load after import:\n%v", err)
			}
			if !reflect.DeepEqual(after.Devices, demo.Devices) {
				t.Error("devices differ after export and import")
			}
		})
	}
}

// Settings most devices leave at their defaults survive a round trip; an
// export has their columns only when some device sets them.
func TestRoundTripOfSettings(t *testing.T) {
	t.Parallel()
	devices := "devices:\n" +
		"  - {id: R-1, kind: ecmo, profile: generic-ecmo-modbus, at: gicu-01, freshness: 30s, failures: 5, modbus: {rtu: {device: /dev/ttyUSB0, baud: 9600, parity: N, stop_bits: 2, data_bits: 7}, unit_id: 3, interval: 2s, timeout: 1500ms}}\n" +
		"  - {id: T-1, kind: monitor, profile: generic-monitor-modbus, at: gicu-01, modbus: {address: \"10.0.0.1:1502\", unit_id: 0, max_conns: 2, close_after_poll: true}}\n" +
		"  - {id: T-2, kind: monitor, profile: generic-monitor-modbus, at: gicu-02, modbus: {address: \"10.0.0.1:1502\", unit_id: 7, max_conns: 2, close_after_poll: true}}\n" +
		"  - {id: Q-1, kind: ventilator, profile: generic-ventilator-mqtt, at: central-store, pm_due: 2027-01-31, mqtt: {topic: \"ward/7/vent 1\", interval: 30s}}\n"
	site := writeTestSite(t, nil, devices)
	before, err := config.Load(site)
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	if err := Export(&csv, before.Devices, EncodingUTF8); err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(strings.TrimPrefix(csv.String(), "\uFEFF"), "\r\n")
	if want := strings.TrimSuffix(header, "\n") + ",interval,timeout,max_conns,close_after_poll,freshness,failures,baud,data_bits,parity,stop_bits"; head != want {
		t.Errorf("export header\n%s\nwant\n%s", head, want)
	}
	// The inline devices are in the site file, not in devices.yaml:
	// import only devices.yaml's.
	lines := strings.Split(csv.String(), "\r\n")
	data := strings.Join(append(lines[:1], lines[3:]...), "\r\n")
	plan, err := Prepare(Import{Site: site, Source: "export.csv", Data: []byte(data), Now: testNow})
	if err != nil {
		t.Fatalf("Prepare:\n%v", err)
	}
	if !plan.Diff.Empty() {
		var out bytes.Buffer
		plan.Diff.Write(&out, nil)
		t.Fatalf("diff:\n%s", out.String())
	}
	if _, err := plan.Write(); err != nil {
		t.Fatal(err)
	}
	after, err := config.Load(site)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after.Devices, before.Devices) {
		t.Errorf("devices differ:\n%+v\n%+v", after.Devices, before.Devices)
	}
}

// 2,000 rows import and the site loads with them.
func TestImportTwoThousandRows(t *testing.T) {
	t.Parallel()
	site := writeTestSite(t, nil, "devices: []\n")
	plan, err := prepare(t, site, generatedCSV(2000), nil)
	if err != nil {
		t.Fatalf("Prepare:\n%v", err)
	}
	if len(plan.Diff.Added) != 2000 || plan.Rows[1999] != 2001 {
		t.Fatalf("added %d, last row %d", len(plan.Diff.Added), plan.Rows[1999])
	}
	if _, err := plan.Write(); err != nil {
		t.Fatal(err)
	}
	s, err := config.Load(site)
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	if len(s.Devices) != 2002 || s.DeviceFiles[0].Devices[1999] != "A-01999" {
		t.Errorf("%d devices", len(s.Devices))
	}
}

// 10,000 rows with a mistake in every other row: every one is reported,
// in row order, and nothing is written.
func TestEveryProblemOfTenThousandRows(t *testing.T) {
	t.Parallel()
	site := writeTestSite(t, nil, "devices: []\n")
	csv := generatedCSV(10000)
	lines := strings.Split(csv, "\n")
	for i := 1; i < len(lines)-1; i += 2 {
		lines[i] = strings.Replace(lines[i], ",gicu-0", ",gicu-9", 1)
		lines[i] = strings.Replace(lines[i], ",central-store,", ",nowhere,", 1)
		lines[i] = strings.Replace(lines[i], ",ricu-02,", ",nowhere,", 1)
	}
	_, err := prepare(t, site, strings.Join(lines, "\n"), nil)
	got := problemLines(t, err)
	if len(got) != 5000 {
		t.Fatalf("%d problems, want 5000", len(got))
	}
	if !strings.HasPrefix(got[0], `devices.csv row 2, column "location": bed or pool "gicu-91" does not exist`) ||
		!strings.HasPrefix(got[4999], `devices.csv row 10000, column "location"`) {
		t.Errorf("first %s\nlast %s", got[0], got[4999])
	}
	if data, _ := os.ReadFile(filepath.Join(filepath.Dir(site), "devices.yaml")); string(data) != "devices: []\n" {
		t.Error("devices file changed")
	}
}
