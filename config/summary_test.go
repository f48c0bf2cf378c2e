package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSummary covers Site.Summary's counts, plurals and empty tallies.
func TestSummary(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		site Site
		want string
	}{
		{"empty", Site{}, "hospital : 0 units (none), 0 beds, 0 pools, 0 devices (none; none), 0 profiles"},
		{"one of each", Site{
			Hospital: Hospital{ID: "h1"},
			Units:    []Unit{{ID: "u", Class: ClassSpecialty, Beds: []string{"b1"}}},
			Pools:    []Pool{{ID: "p"}},
			Devices:  []Device{{ID: "d", Kind: "ecmo", MQTT: &MQTTDevice{}}},
			Profiles: map[string]*Profile{"x": {}},
		}, "hospital h1: 1 unit (1 specialty), 1 bed, 1 pool, 1 device (1 ecmo; 1 mqtt), 1 profile"},
		{"sorted tallies", Site{
			Hospital: Hospital{ID: "h2"},
			Units:    []Unit{{Class: ClassGeneral, Beds: []string{"a", "b"}}, {Class: ClassConvertible}, {Class: ClassGeneral}},
			Devices: []Device{
				{Kind: "ventilator", Modbus: &ModbusDevice{RTU: &RTU{}}},
				{Kind: "monitor", Modbus: &ModbusDevice{Address: "a:1"}},
				{Kind: "monitor", Modbus: &ModbusDevice{RTUOverTCP: "c:1"}},
			},
		}, "hospital h2: 3 units (1 convertible, 2 general), 2 beds, 0 pools, 3 devices (2 monitor, 1 ventilator; 1 modbus-rtu, 1 modbus-rtu-over-tcp, 1 modbus-tcp), 0 profiles"},
	} {
		if got := c.site.Summary(); got != c.want {
			t.Errorf("%s: Summary() =\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

// TestHasPlace covers Site.HasPlace: beds of any unit and pools are
// places; units, devices and near misses are not.
func TestHasPlace(t *testing.T) {
	t.Parallel()
	s := loadClean(t, deviceBase)
	s.Units = append(s.Units, Unit{ID: "icu2", Beds: []string{"b7"}})
	for id, want := range map[string]bool{"b1": true, "b7": true, "store": true, "icu1": false, "m1": false, "B1": false, "": false} {
		if got := s.HasPlace(id); got != want {
			t.Errorf("HasPlace(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestProblemString covers Problem.String and Problems.Error.
func TestProblemString(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p    Problem
		want string
	}{
		{Problem{"site.yaml", 12, "bad"}, "site.yaml:12: bad"},
		{Problem{"site.yaml", 0, "whole file"}, "site.yaml: whole file"},
		{Problem{"/etc/icugate/profiles/x.yaml", 1, "a: b"}, "/etc/icugate/profiles/x.yaml:1: a: b"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%+v: String() = %q, want %q", c.p, got, c.want)
		}
	}
	if got := (&Problems{}).Error(); got != "" {
		t.Errorf("no problems: Error() = %q", got)
	}
}

// TestProblemsSortedAcrossFiles: problems in the site and in profiles come
// back sorted by file path, then line, with one line of Error() each.
func TestProblemsSortedAcrossFiles(t *testing.T) {
	t.Parallel()
	path := writeSite(t, minimalSite+"log: {level: loud}\nhold: -1s\n", map[string]string{
		"mon":  "kind: monitor\nmax_gap: -1\nvalues:\n  - {name: status, table: input, address: 0}\n",
		"vent": "kind: ventilator\nvalues:\n  - {name: status, table: holding, address: 70000}\n",
	})
	_, err := Load(path)
	got := problemsOf(t, err)
	var lines []string
	for _, p := range got {
		lines = append(lines, fmt.Sprintf("%s:%d", filepath.Base(p.File), p.Line))
	}
	// Sorted by path: profiles/mon.yaml, profiles/vent.yaml, site.yaml.
	want := "mon.yaml:2 vent.yaml:3 site.yaml:6 site.yaml:7"
	if strings.Join(lines, " ") != want {
		t.Fatalf("problems at %v, want %s:\n%v", lines, want, err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(got) {
		t.Errorf("Error() has %d lines for %d problems", n, len(got))
	}
}

// TestShippedProfilesThroughLoad extends TestShippedSites and
// TestShippedProfilesSimulate: every profile under configs/profiles is
// used by one device of a site that Load accepts, on the transport the
// profile reads, with the kind taken from the profile.
func TestShippedProfilesThroughLoad(t *testing.T) {
	t.Parallel()
	profiles, err := filepath.Abs("../configs/profiles")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(profiles, "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("found %d shipped profiles, want at least 4", len(files))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hospital: {id: h1, level: tertiary, total_beds: 100}\nprofiles_dir: %q\nmqtt: {broker: \"tcp://127.0.0.1:1883\"}\n", profiles)
	b.WriteString("units: [{id: icu1, class: general, beds: [b1]}]\npools: [store]\ndevices:\n")
	for i, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		p, err := LoadProfile(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		transport := fmt.Sprintf("modbus: {address: \"10.0.0.%d:502\"}", i+1)
		if p.Transport() == "mqtt" {
			transport = fmt.Sprintf("mqtt: {topic: ward/d%d}", i)
		}
		fmt.Fprintf(&b, "  - {id: d%d, profile: %s, at: store, %s}\n", i, name, transport)
	}
	path := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatalf("a site using every shipped profile:\n%v\n%s", err, b.String())
	}
	if len(s.Profiles) != len(files) {
		t.Errorf("%d profiles loaded, want %d", len(s.Profiles), len(files))
	}
	for _, d := range s.Devices {
		if p := s.Profiles[d.Profile]; d.Kind == "" || d.Kind != p.Kind {
			t.Errorf("device %s: kind %q, profile %s describes %q", d.ID, d.Kind, d.Profile, p.Kind)
		}
	}
}

// TestShippedSitesUseShippedProfiles: the shipped sites load with every
// device's profile found under configs/profiles, and none is unused.
func TestShippedSitesUseShippedProfiles(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../configs/*.yaml")
	used := map[string]bool{}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			t.Fatalf("%s:\n%v", f, err)
		}
		for name, p := range s.Profiles {
			used[name] = true
			if filepath.Dir(p.File) != filepath.Join("..", "configs", "profiles") {
				t.Errorf("%s: profile %s from %s, want configs/profiles", f, name, p.File)
			}
		}
	}
	shipped, _ := filepath.Glob("../configs/profiles/*.yaml")
	for _, f := range shipped {
		if name := strings.TrimSuffix(filepath.Base(f), ".yaml"); !used[name] {
			t.Errorf("profile %s is shipped but no shipped site uses it", name)
		}
	}
}
