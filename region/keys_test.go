package region

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icugate/icugate/config"
)

var testDistricts = []District{{ID: "D01", Name: "Central", Population: 100}, {ID: "D02", Name: "North", Population: 100}}

// A registry with districts, a one-gateway hospital, a hospital rotating
// its key (listed twice) and a two-part hospital with a part rotating.
func TestRegistryPartsAndDistricts(t *testing.T) {
	dir := t.TempDir()
	g := func(id string) *hospital { return newGateway(t, id, config.LevelTertiary) }
	h1, h2old, h2new, main, east, eastNext := g("H001"), g("H002"), g("H002"), g("H003"), g("H003"), g("H003")
	indent := func(pem string) string { return strings.ReplaceAll(strings.TrimSpace(pem), "\n", "\n        ") }
	os.WriteFile(filepath.Join(dir, "east.pem"), []byte(publicPEM(t, east)), 0o644)
	yaml := `hospitals:
  - id: H001
    name: First
    district: D01
    public_key: |
        ` + indent(publicPEM(t, h1)) + `
  - id: H002
    district: D02
    public_key: |
        ` + indent(publicPEM(t, h2old)) + `
  - id: H002
    name: Second
    public_key: |
        ` + indent(publicPEM(t, h2new)) + `
  - id: H003
    name: Third
    district: D01
    parts:
      - id: main
        public_key: |
            ` + strings.ReplaceAll(indent(publicPEM(t, main)), "\n        ", "\n            ") + `
      - id: east
        name: East campus
        public_key_file: east.pem
        next_public_key: |
            ` + strings.ReplaceAll(indent(publicPEM(t, eastNext)), "\n        ", "\n            ") + `
`
	reg, err := ParseRegistry([]byte(yaml), filepath.Join(dir, "hospitals.yaml"), testDistricts)
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Hospitals(); len(got) != 3 || reg.Keys() != 6 {
		t.Fatalf("hospitals %v, %d keys", got, reg.Keys())
	}
	h, _ := reg.Hospital("H002")
	if h.Name != "Second" || h.District != "D02" || len(h.Parts) != 1 || h.Parts[0].ID != "main" {
		t.Fatalf("H002 rotating: %+v", h)
	}
	h, _ = reg.Hospital("H003")
	if len(h.Parts) != 2 || h.Parts[1].Name != "East campus" || !h.HasPart("east") || h.HasPart("west") {
		t.Fatalf("H003 parts: %+v", h)
	}
	for _, c := range []struct {
		gw             *hospital
		hospital, part string
	}{{h1, "H001", "main"}, {h2old, "H002", "main"}, {h2new, "H002", "main"}, {main, "H003", "main"}, {east, "H003", "east"}, {eastNext, "H003", "east"}} {
		hosp, part, _, ok := reg.Lookup(keyID(c.gw))
		if !ok || hosp != c.hospital || part != c.part {
			t.Errorf("key of %s/%s: %s/%s %v", c.hospital, c.part, hosp, part, ok)
		}
	}
}

// Every problem of a keys file is reported at once, each naming the file,
// the line and the entry; a registry with any is refused whole.
func TestRegistryProblemsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	a, b := newGateway(t, "A", ""), newGateway(t, "B", "")
	os.WriteFile(filepath.Join(dir, "a.pem"), []byte(publicPEM(t, a)), 0o644)
	os.WriteFile(filepath.Join(dir, "b.pem"), []byte(publicPEM(t, b)), 0o644)
	os.WriteFile(filepath.Join(dir, "huge.pem"), make([]byte, maxKeyFile+1), 0o644)
	cases := []struct {
		name, yaml string
		districts  []District
		want       []string
	}{
		{"unknown district", "hospitals:\n  - id: H1\n    district: D09\n    public_key_file: a.pem\n", testDistricts,
			[]string{"hospitals.yaml:3: hospitals[0].district: hospital H1: district \"D09\" is not one of the region's districts (D01, D02)"}},
		{"no district", "hospitals:\n  - id: H1\n    public_key_file: a.pem\n", testDistricts,
			[]string{"hospitals.yaml:2: hospitals[0]: hospital H1 names no district"}},
		{"district without districts", "hospitals:\n  - id: H1\n    district: D01\n    public_key_file: a.pem\n", nil,
			[]string{"hospitals.yaml:3: hospitals[0].district: hospital H1: district \"D01\", but the region config lists no districts"}},
		{"duplicate part ids", "hospitals:\n  - id: H1\n    district: D01\n    parts:\n      - id: east\n        public_key_file: a.pem\n      - id: east\n        public_key_file: b.pem\n", testDistricts,
			[]string{"hospitals.yaml:7: hospitals[0].parts[1].id: hospital H1: duplicate part id \"east\""}},
		{"one key for two parts", "hospitals:\n  - id: H1\n    district: D01\n    parts:\n      - id: main\n        public_key_file: a.pem\n      - id: east\n        public_key_file: a.pem\n", testDistricts,
			[]string{"hospitals.yaml:8: hospitals[0].parts[1].public_key_file: H1 part east: key", "already registered for H1 part main"}},
		{"a part key registered to another hospital", "hospitals:\n  - id: H1\n    district: D01\n    public_key_file: a.pem\n  - id: H2\n    district: D01\n    parts:\n      - id: east\n        public_key_file: a.pem\n", testDistricts,
			[]string{"hospitals.yaml:9: hospitals[1].parts[0].public_key_file: H2 part east: key", "already registered for H1 part main"}},
		{"parts and a hospital key", "hospitals:\n  - id: H1\n    district: D01\n    public_key_file: a.pem\n    parts:\n      - id: east\n        public_key_file: b.pem\n", testDistricts,
			[]string{"hospitals.yaml:2: hospitals[0]: hospital H1 lists parts and a key of its own"}},
		{"parted hospital listed twice", "hospitals:\n  - id: H1\n    district: D01\n    parts:\n      - id: east\n        public_key_file: a.pem\n  - id: H1\n    public_key_file: b.pem\n", testDistricts,
			[]string{"hospitals.yaml:7: hospitals[1].id: hospital H1 is already hospitals[0]"}},
		{"empty parts", "hospitals:\n  - id: H1\n    district: D01\n    parts: []\n", testDistricts,
			[]string{"hospitals.yaml:4: hospitals[0].parts: hospital H1 lists no parts"}},
		{"bad part id", "hospitals:\n  - id: H1\n    district: D01\n    parts:\n      - id: east/1\n        public_key_file: a.pem\n      - id: main\n        public_key_file: b.pem\n", testDistricts,
			[]string{"hospitals.yaml:5: hospitals[0].parts[0].id: part id \"east/1\""}},
		{"conflicting districts while rotating", "hospitals:\n  - id: H1\n    district: D01\n    public_key_file: a.pem\n  - id: H1\n    district: D02\n    public_key_file: b.pem\n", testDistricts,
			[]string{"hospitals.yaml:6: hospitals[1].district: hospital H1: district D02, but hospitals[0] puts it in D01"}},
		{"part without key", "hospitals:\n  - id: H1\n    district: D01\n    parts:\n      - id: east\n", testDistricts,
			[]string{"hospitals.yaml:5: hospitals[0].parts[0]: H1 part east: no public_key or public_key_file"}},
		{"huge key file", "hospitals:\n  - id: H1\n    district: D01\n    public_key_file: huge.pem\n", testDistricts,
			[]string{"hospitals.yaml:4: hospitals[0].public_key_file: H1:", "not a public key"}},
		{"unknown field", "hospitals:\n  - id: H1\n    parts:\n      - id: east\n        key: x\n", testDistricts,
			[]string{"line 5: field key not found"}},
		{"several at once", "hospitals:\n  - id: H1\n    district: D09\n    public_key_file: a.pem\n  - id: H2\n    district: D01\n    public_key_file: absent.pem\n", testDistricts,
			[]string{"hospitals.yaml:3:", "hospitals.yaml:7: hospitals[1].public_key_file: H2:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg, err := ParseRegistry([]byte(c.yaml), filepath.Join(dir, "hospitals.yaml"), c.districts)
			if err == nil {
				t.Fatalf("accepted: %v", reg.Hospitals())
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// Districts in region.yaml: the region's population is their sum, or a
// cross-check that must equal it; problems name file and line.
func TestConfigDistricts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "region.yaml")
	base := "region: R01\nkeys_file: hospitals.yaml\nmqtt:\n  broker: tcp://127.0.0.1:1883\n"
	os.WriteFile(path, []byte(base+"districts:\n  - {id: D01, name: A, population: 300000}\n  - {id: D02, name: B, population: 200000}\n"), 0o644)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Population != 500_000 || len(c.Districts) != 2 {
		t.Fatalf("population %d", c.Population)
	}
	os.WriteFile(path, []byte(base+"population: 500000\ndistricts:\n  - {id: D01, name: A, population: 300000}\n  - {id: D02, name: B, population: 200000}\n"), 0o644)
	if _, err := LoadConfig(path); err != nil {
		t.Fatalf("matching cross-check: %v", err)
	}
	bad := base + "population: 600000\ndistricts:\n  - {id: D01, name: A, population: 300000}\n  - {id: D01, name: B, population: 0}\n  - {id: D/3, population: 5}\n"
	os.WriteFile(path, []byte(bad), 0o644)
	_, err = LoadConfig(path)
	for _, w := range []string{
		"region.yaml:5: population: 600000, but the districts' populations sum to 300005",
		"region.yaml:8: districts[1].id: district D01 is already districts[0]",
		"region.yaml:8: districts[1].population: district D01: population 0",
		"region.yaml:9: districts[2].id: district id \"D/3\"",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q:\n%v", w, err)
		}
	}
}
