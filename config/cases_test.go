package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The table tests of the rule families (validate_*_test.go, decode_test.go,
// defaults_test.go) share the helpers in this file: a row is a small YAML
// file with one mistake, and the problems Load or LoadProfile must report
// for it, each with its file, line and exact message.

// problem is one problem a row expects. file is the base name of the file
// the problem is in; "" means the file the row loads (site or profile).
// In msg, $DIR stands for the row's temporary directory, and a final "*"
// makes msg a prefix.
type problem struct {
	file string
	line int
	msg  string
}

// minimalSite is a valid site of five lines: the smallest that loads
// clean with the test profiles. Rows append their mistake from line 6 on.
const minimalSite = "hospital: {id: h1, level: tertiary, total_beds: 100}\n" + minimalRest

// minimalRest is minimalSite without its hospital line: four lines, for
// rows that write their own hospital block.
const minimalRest = `units: [{id: icu1, class: general, beds: [b1]}]
devices:
  - {id: m1, profile: mon, at: b1, modbus: {address: "10.0.0.1:502"}}
  - {id: v1, profile: vent, at: b1, modbus: {address: "10.0.0.1:502", unit_id: 2}}
`

// testProfiles are the valid profiles every row's profiles directory
// holds: Modbus and MQTT ones for a monitor and a ventilator, and a
// monitor that reads its serial number.
var testProfiles = map[string]string{
	"mon": `kind: monitor
values:
  - {name: status, table: input, address: 0}
state:
  in_use: status > 0
`,
	"vent": `kind: ventilator
values:
  - {name: status, table: holding, address: 0}
state:
  in_use: status > 0
`,
	"mon-mqtt": `kind: monitor
topic: devices/{id}/status
values:
  - {name: status, path: status}
state:
  in_use: status > 0
`,
	"vent-mqtt": `kind: ventilator
values:
  - {name: running, path: running, type: bool}
state:
  in_use: running
`,
	"mon-serial": `kind: monitor
values:
  - {name: status, table: input, address: 0}
  - {name: sn, table: input, address: 1, type: string, length: 4}
serial: sn
state:
  in_use: status > 0
`,
}

// writeSite writes site as site.yaml in a new temporary directory, with
// testProfiles and extra (name without .yaml -> content) under profiles/,
// and returns the site's path.
func writeSite(t *testing.T, site string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	profiles := filepath.Join(dir, "profiles")
	if err := os.Mkdir(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]string{testProfiles, extra} {
		for name, text := range m {
			writeFile(t, filepath.Join(profiles, name+".yaml"), text)
		}
	}
	path := filepath.Join(dir, "site.yaml")
	writeFile(t, path, site)
	return path
}

// writeProfile writes one profile file in a new temporary directory and
// returns its path.
func writeProfile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.yaml")
	writeFile(t, path, text)
	return path
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadClean loads a site that must have no problems.
func loadClean(t *testing.T, site string) *Site {
	t.Helper()
	s, err := Load(writeSite(t, site, nil))
	if err != nil {
		t.Fatalf("Load: want no problems, got:\n%v", err)
	}
	return s
}

// expectProblems checks that err lists exactly want (in any order), each
// at its file and line with its exact message. path is the file loaded.
func expectProblems(t *testing.T, path string, err error, want []problem) {
	t.Helper()
	if err == nil {
		if len(want) > 0 {
			t.Fatalf("no problems, want %d", len(want))
		}
		return
	}
	dir := filepath.Dir(path)
	got := problemsOf(t, err)
	type key struct {
		file string
		line int
		msg  string
	}
	var gotKeys, wantKeys []key
	for _, p := range got {
		file := filepath.Base(p.File)
		if p.File == path {
			file = ""
		}
		gotKeys = append(gotKeys, key{file, p.Line, strings.ReplaceAll(p.Message, dir, "$DIR")})
	}
	for _, w := range want {
		wantKeys = append(wantKeys, key(w))
	}
	// A message ending in "*" is a prefix: the rest is the expression
	// library's own wording.
	matches := func(w, g key) bool {
		if prefix, ok := strings.CutSuffix(w.msg, "*"); ok {
			return w.file == g.file && w.line == g.line && strings.HasPrefix(g.msg, prefix)
		}
		return w == g
	}
	for _, w := range wantKeys {
		if !slices.ContainsFunc(gotKeys, func(g key) bool { return matches(w, g) }) {
			t.Errorf("missing problem %s:%d: %s", orSite(w.file), w.line, w.msg)
		}
	}
	for _, g := range gotKeys {
		if !slices.ContainsFunc(wantKeys, func(w key) bool { return matches(w, g) }) {
			t.Errorf("unexpected problem %s:%d: %s", orSite(g.file), g.line, g.msg)
		}
	}
}

func orSite(file string) string {
	if file == "" {
		return "(loaded file)"
	}
	return file
}

// siteCase is one row of a site table: a site file, extra profiles, and
// the problems Load must report.
type siteCase struct {
	name     string
	site     string
	profiles map[string]string
	want     []problem
}

// runSiteCases loads each row's site and checks its problems.
func runSiteCases(t *testing.T, cases []siteCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := writeSite(t, c.site, c.profiles)
			_, err := Load(path)
			expectProblems(t, path, err, c.want)
		})
	}
}

// profileCase is one row of a profile table: a profile file and the
// problems LoadProfile must report.
type profileCase struct {
	name    string
	profile string
	want    []problem
}

func runProfileCases(t *testing.T, cases []profileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := writeProfile(t, c.profile)
			_, err := LoadProfile(path)
			expectProblems(t, path, err, c.want)
		})
	}
}

// TestTestProfilesAreValid keeps the helpers honest: the minimal site and
// every test profile load without problems.
func TestTestProfilesAreValid(t *testing.T) {
	t.Parallel()
	s := loadClean(t, minimalSite)
	if len(s.Devices) != 2 || len(s.Profiles) != 2 {
		t.Fatalf("minimal site: %s", s.Summary())
	}
	for name, text := range testProfiles {
		if _, err := LoadProfile(writeProfile(t, text)); err != nil {
			t.Errorf("profile %s: %v", name, err)
		}
	}
}
