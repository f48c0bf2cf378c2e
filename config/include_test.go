package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// siteWithFiles writes minimalSite plus extra site text, and each devices
// file (name relative to the site's directory -> content).
func siteWithFiles(t *testing.T, extra string, files map[string]string) string {
	t.Helper()
	path := writeSite(t, minimalSite+extra, nil)
	for name, text := range files {
		p := filepath.Join(filepath.Dir(path), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, text)
	}
	return path
}

func deviceIDs(s *Site) []string {
	var ids []string
	for _, d := range s.Devices {
		ids = append(ids, d.ID)
	}
	return ids
}

// Devices of the included files follow the inline ones, in the order of
// device_files, with defaults applied as to inline devices; each
// DeviceFile knows its resolved path and its devices.
func TestDeviceFilesAreMerged(t *testing.T) {
	t.Parallel()
	path := siteWithFiles(t, "device_files: [devices.yaml, sub/more.yaml]\n", map[string]string{
		"devices.yaml":  "# from the CMMS\ndevices:\n  - {id: m2, profile: mon, at: b1, modbus: {address: \"10.0.0.2:502\"}}\n  - {id: m3, profile: mon-mqtt, at: b1, mqtt: {}}\n",
		"sub/more.yaml": "devices:\n  - id: v2\n    profile: vent\n    at: b1\n    modbus: {address: \"10.0.0.1:502\", unit_id: 0}\n",
	})
	text, _ := os.ReadFile(path)
	writeFile(t, path, string(text)+"mqtt: {broker: \"tcp://127.0.0.1:1883\"}\n")
	s, err := Load(path)
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	if got, want := deviceIDs(s), []string{"m1", "v1", "m2", "m3", "v2"}; !slices.Equal(got, want) {
		t.Fatalf("devices %v, want %v", got, want)
	}
	dir := filepath.Dir(path)
	want := []DeviceFile{
		{Path: filepath.Join(dir, "devices.yaml"), Devices: []string{"m2", "m3"}},
		{Path: filepath.Join(dir, "sub", "more.yaml"), Devices: []string{"v2"}},
	}
	if len(s.DeviceFiles) != 2 || s.DeviceFiles[0].Path != want[0].Path || !slices.Equal(s.DeviceFiles[0].Devices, want[0].Devices) ||
		s.DeviceFiles[1].Path != want[1].Path || !slices.Equal(s.DeviceFiles[1].Devices, want[1].Devices) {
		t.Errorf("DeviceFiles = %+v, want %+v", s.DeviceFiles, want)
	}
	m2, m3, v2 := s.Devices[2], s.Devices[3], s.Devices[4]
	if m2.Kind != "monitor" || m2.Modbus.UnitID != DefaultUnitID || m2.Modbus.Interval != DefaultModbusInterval {
		t.Errorf("m2 defaults: %+v %+v", m2, m2.Modbus)
	}
	if m3.MQTT == nil || m3.MQTT.Topic != "devices/m3/status" {
		t.Errorf("m3: mqtt: {} in a devices file is the block with defaults, got %+v", m3.MQTT)
	}
	if v2.Modbus.UnitID != 0 {
		t.Errorf("v2: explicit unit_id 0 in a devices file became %d", v2.Modbus.UnitID)
	}
}

// A site whose only devices are in a file (no devices: key, or an empty
// one) loads, and a file with an empty list adds none.
func TestDeviceFilesWithoutInlineDevices(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"devices.yaml": "devices:\n  - {id: m1, profile: mon, at: b1, modbus: {address: \"10.0.0.1:502\"}}\n  - {id: v1, profile: vent, at: b1, modbus: {address: \"10.0.0.1:502\", unit_id: 2}}\n",
		"empty.yaml":   "devices: []\n",
	}
	head := "hospital: {id: h1, level: tertiary, total_beds: 100}\nunits: [{id: icu1, class: general, beds: [b1]}]\n"
	for name, site := range map[string]string{
		"no key":     head + "device_files: [devices.yaml, empty.yaml]\n",
		"null":       head + "devices:\ndevice_files: [empty.yaml, devices.yaml]\n",
		"empty list": head + "devices: []\ndevice_files: [devices.yaml]\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := writeSite(t, site, nil)
			for f, text := range files {
				writeFile(t, filepath.Join(filepath.Dir(path), f), text)
			}
			s, err := Load(path)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			if got := deviceIDs(s); !slices.Equal(got, []string{"m1", "v1"}) {
				t.Errorf("devices %v", got)
			}
		})
	}
}

// Every problem of a device in an included file is reported in that file,
// at its line; a problem naming a device elsewhere names that file too.
func TestDeviceFileProblemsCarryTheirFileAndLine(t *testing.T) {
	t.Parallel()
	path := siteWithFiles(t, "device_files:\n  - devices.yaml\n  - missing.yaml\n  - devices.yaml\n  - site.yaml\n  - b.yaml\n", map[string]string{
		// line numbers of devices.yaml: 1 comment, 2 devices:, 3.. one device each
		"devices.yaml": `# imported
devices:
  - {id: m1, profile: mon, at: b1, modbus: {address: "10.0.0.9:502"}}
  - {id: m4, profile: mon, at: nowhere, modbus: {address: "10.0.0.1:502", unit_id: 2}}
  - {id: m5, profile: nosuch, at: b1, modbus: {address: "10.0.0.5:502"}}
  - id: m6
    profile: mon
    at: b1
    freshness: -1s
    modbus: {address: "10.0.0.6:502", unitid: 3}
  - {profile: mon, at: b1, modbus: {address: "10.0.0.7:502"}}
`,
		"b.yaml": "hospital: {id: x}\ndevices:\n  - {id: m4, profile: mon, at: b1, modbus: {address: \"10.0.0.8:502\"}}\n",
	})
	_, err := Load(path)
	expectProblems(t, path, err, []problem{
		{"", 8, "device file $DIR/missing.yaml not found (paths are relative to the site file's directory)"},
		{"", 9, "device file $DIR/devices.yaml is already listed (line 7)"},
		{"", 10, "device file $DIR/site.yaml is the site file itself: name a file that holds only devices:"},
		{"devices.yaml", 3, `duplicate device id "m1" (first at $DIR/site.yaml:4)`},
		{"devices.yaml", 4, `device m4: at "nowhere" is neither a bed nor a pool`},
		{"devices.yaml", 4, "device m4: 10.0.0.1:502 unit_id 2 is already device v1 ($DIR/site.yaml:5): give each device on a shared address its own unit_id"},
		{"devices.yaml", 5, `device m5: profile "nosuch" not found: no file $DIR/profiles/nosuch.yaml`},
		{"devices.yaml", 9, "devices[3].freshness must not be negative (got -1s)"},
		{"devices.yaml", 10, `unknown key "unitid" (in modbus block); check its spelling and indentation`},
		{"devices.yaml", 11, "device 5 has no id"},
		{"b.yaml", 1, `unknown key "hospital" (a devices file holds only devices:); check its spelling and indentation`},
		{"b.yaml", 3, `duplicate device id "m4" (first at $DIR/devices.yaml:4)`},
	})
}

// A devices file that is not YAML is reported in itself, and the site's
// other devices are still checked.
func TestDeviceFileSyntaxError(t *testing.T) {
	t.Parallel()
	path := siteWithFiles(t, "device_files: [devices.yaml]\n", map[string]string{
		"devices.yaml": "devices:\n  - {id: m2, profile: mon\n",
	})
	_, err := Load(path)
	got := problemsOf(t, err)
	if len(got) != 1 || filepath.Base(got[0].File) != "devices.yaml" || !strings.HasPrefix(got[0].Message, "invalid YAML") {
		t.Fatalf("problems:\n%v", err)
	}
}

// device_files that is not a list of paths is reported at its line.
func TestDeviceFilesShape(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, msg string }{
		{"device_files: devices.yaml\n", "cannot use str \"devices...\" here: want a list"},
		{"device_files: [{path: a.yaml}]\n", "a device file is a path such as devices.yaml"},
		{"device_files: [\"\"]\n", "device_files[0] is empty: name a devices file such as devices.yaml"},
	} {
		path := writeSite(t, minimalSite+c.text, nil)
		_, err := Load(path)
		expectProblems(t, path, err, []problem{{"", 6, c.msg}})
	}
}

// LoadWithDeviceFile checks content in place of a listed file, or as an
// extra file when the site lists none; nothing on disk changes.
func TestLoadWithDeviceFile(t *testing.T) {
	t.Parallel()
	path := siteWithFiles(t, "device_files: [devices.yaml]\n", map[string]string{
		"devices.yaml": "devices:\n  - {id: m2, profile: mon, at: b1, modbus: {address: \"10.0.0.2:502\"}}\n",
	})
	dir := filepath.Dir(path)
	target := filepath.Join(dir, "devices.yaml")
	s, err := LoadWithDeviceFile(path, dir+"/./devices.yaml", []byte("devices:\n  - {id: m3, profile: mon, at: b1, modbus: {address: \"10.0.0.3:502\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := deviceIDs(s); !slices.Equal(got, []string{"m1", "v1", "m3"}) || len(s.DeviceFiles) != 1 {
		t.Fatalf("devices %v, files %+v", got, s.DeviceFiles)
	}
	_, err = LoadWithDeviceFile(path, target, []byte("devices:\n  - {id: m1, profile: mon, at: b9, modbus: {address: \"10.0.0.3:502\"}}\n"))
	expectProblems(t, path, err, []problem{
		{"devices.yaml", 2, `duplicate device id "m1" (first at $DIR/site.yaml:4)`},
		{"devices.yaml", 2, `device m1: at "b9" is neither a bed nor a pool`},
	})
	other := filepath.Join(dir, "new.yaml")
	s, err = LoadWithDeviceFile(path, other, []byte("devices:\n  - {id: m4, profile: mon, at: b1, modbus: {address: \"10.0.0.4:502\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := deviceIDs(s); !slices.Equal(got, []string{"m1", "v1", "m2", "m4"}) || s.DeviceFiles[1].Path != other {
		t.Fatalf("devices %v, files %+v", got, s.DeviceFiles)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("LoadWithDeviceFile wrote %s", other)
	}
}

// The gateway reloads (SIGHUP, POST /api/v1/reload, icugate reload) by
// calling Load on the site file again (gateway.Reload), so a changed
// devices file is what the next Load returns; a broken one is rejected
// with its problems and the running config stays.
func TestChangedDeviceFileIsWhatTheNextLoadSees(t *testing.T) {
	t.Parallel()
	path := siteWithFiles(t, "device_files: [devices.yaml]\n", map[string]string{
		"devices.yaml": "devices:\n  - {id: m2, profile: mon, at: b1, modbus: {address: \"10.0.0.2:502\"}}\n",
	})
	devices := filepath.Join(filepath.Dir(path), "devices.yaml")
	if s, err := Load(path); err != nil || !slices.Equal(deviceIDs(s), []string{"m1", "v1", "m2"}) {
		t.Fatalf("first load: %v", err)
	}
	writeFile(t, devices, "devices:\n  - {id: m3, profile: mon, at: b1, modbus: {address: \"10.0.0.3:502\"}}\n")
	if s, err := Load(path); err != nil || !slices.Equal(deviceIDs(s), []string{"m1", "v1", "m3"}) {
		t.Fatalf("second load: %v", err)
	}
	writeFile(t, devices, "devices:\n  - {id: m3, profile: mon, at: b7, modbus: {address: \"10.0.0.3:502\"}}\n")
	_, err := Load(path)
	expectProblems(t, path, err, []problem{{"devices.yaml", 2, `device m3: at "b7" is neither a bed nor a pool`}})
}

// The inventory sample site (configs/inventory) loads with the devices
// file icugate import wrote for it.
func TestShippedInventorySite(t *testing.T) {
	t.Parallel()
	s, err := Load("../configs/inventory/site.yaml")
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	if len(s.DeviceFiles) != 1 || len(s.DeviceFiles[0].Devices) != len(s.Devices) || len(s.Devices) == 0 {
		t.Errorf("devices %d, files %+v", len(s.Devices), s.DeviceFiles)
	}
}
