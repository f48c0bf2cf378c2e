package config

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// want is one expected problem, written in a fixture as a trailing
// comment: "# want: [FILE:]LINE: message substring". FILE is the base name
// of another file (a profile); without it the problem is in the fixture.
type want struct {
	file string
	line int
	msg  string
}

func readWants(t *testing.T, path string) []want {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []want
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "# want: ")
		if !ok {
			continue
		}
		w := want{file: filepath.Base(path)}
		parts := strings.SplitN(rest, ": ", 2)
		if len(parts) != 2 {
			t.Fatalf("%s: bad want line %q", path, sc.Text())
		}
		loc := parts[0]
		if f, l, ok := strings.Cut(loc, ":"); ok {
			w.file, loc = f, l
		}
		if w.line, err = strconv.Atoi(loc); err != nil {
			t.Fatalf("%s: bad want line %q", path, sc.Text())
		}
		w.msg = parts[1]
		out = append(out, w)
	}
	return out
}

func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var probs *Problems
	if !errors.As(err, &probs) {
		t.Fatalf("Load error %v (%T) is not a *Problems", err, err)
	}
	return probs.List
}

// TestBrokenConfigs loads every fixture under testdata/broken (one mistake
// each, sometimes in the profile it uses) and checks that exactly the
// problems its "# want:" comments list are reported, at those lines.
func TestBrokenConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/broken/*.yaml")
	if len(files) < 30 {
		t.Fatalf("found %d broken fixtures, want at least 30", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			wants := readWants(t, f)
			if len(wants) == 0 {
				t.Fatal("fixture has no # want: lines")
			}
			site, err := Load(f)
			if err == nil {
				t.Fatalf("Load succeeded (%s), want problems", site.Summary())
			}
			got := problemsOf(t, err)
			for _, w := range wants {
				found := false
				for _, p := range got {
					if filepath.Base(p.File) == w.file && p.Line == w.line && strings.Contains(p.Message, w.msg) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("missing problem %s:%d: %s", w.file, w.line, w.msg)
				}
			}
			if len(got) != len(wants) {
				t.Errorf("got %d problems, want %d:\n%v", len(got), len(wants), err)
			}
		})
	}
}

// TestManyMistakes checks that one run reports every problem of a file
// with many mistakes, in the site and in a profile, sorted by file and line.
func TestManyMistakes(t *testing.T) {
	_, err := Load("testdata/many-mistakes.yaml")
	got := problemsOf(t, err)
	wants := readWants(t, "testdata/many-mistakes.yaml")
	if len(got) != len(wants) || len(wants) < 8 {
		t.Fatalf("got %d problems, want %d (at least 8):\n%v", len(got), len(wants), err)
	}
	for _, w := range wants {
		ok := false
		for _, p := range got {
			ok = ok || (filepath.Base(p.File) == w.file && p.Line == w.line && strings.Contains(p.Message, w.msg))
		}
		if !ok {
			t.Errorf("missing problem %s:%d: %s", w.file, w.line, w.msg)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(got) {
		t.Fatalf("Error() has %d lines, want one per problem (%d)", len(lines), len(got))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.File > b.File || (a.File == b.File && a.Line > b.Line) {
			t.Errorf("problems not sorted: %v before %v", a, b)
		}
	}
}

// TestShippedSites loads every site config shipped under configs/.
func TestShippedSites(t *testing.T) {
	files, _ := filepath.Glob("../configs/*.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d site configs under configs/, want at least 3", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			if len(s.Devices) == 0 || len(s.Units) == 0 {
				t.Errorf("site has no units or devices: %s", s.Summary())
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/nonexistent.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if _, err := LoadProfile("testdata/profiles/nonexistent.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadProfile err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadProfileProblems(t *testing.T) {
	_, err := LoadProfile("testdata/profiles/bad-rules.yaml")
	got := problemsOf(t, err)
	if len(got) != 5 || got[0].Line != 6 || !strings.HasSuffix(got[0].File, "bad-rules.yaml") {
		t.Fatalf("problems = %v", err)
	}
}

func TestProblemsError(t *testing.T) {
	var c collector
	c.add("b.yaml", 3, "three")
	c.add("a.yaml", 9, "nine")
	c.add("a.yaml", 2, "two")
	c.add("a.yaml", 2, "two") // duplicates are reported once
	c.add("a.yaml", 0, "whole file")
	want := "a.yaml: whole file\na.yaml:2: two\na.yaml:9: nine\nb.yaml:3: three"
	if got := c.err().Error(); got != want {
		t.Fatalf("Error() =\n%s\nwant\n%s", got, want)
	}
	var empty collector
	if empty.err() != nil {
		t.Fatal("no problems must give a nil error")
	}
}

// TestDefaults checks the defaults Load applies to a site that leaves
// them unset.
func TestDefaults(t *testing.T) {
	s, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dev := map[string]*Device{}
	for i := range s.Devices {
		dev[s.Devices[i].ID] = &s.Devices[i]
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"target_year", s.TargetYear, 2027},
		{"profiles_dir", s.ProfilesDir, filepath.Join("testdata", "profiles")},
		{"outbox.dir", s.Outbox.Dir, filepath.Join("testdata", "data", "outbox")},
		{"outbox.max_size", s.Outbox.MaxSize, ByteSize(256_000_000)},
		{"report.interval", s.Report.Interval, time.Minute},
		{"report.gateway_id", s.Report.GatewayID, "h1"},
		{"http.listen", s.HTTP.Listen, "127.0.0.1:8080"},
		{"mqtt.client_id", s.MQTT.ClientID, "icugate-h1"},
		{"mqtt.max_message_bytes", s.MQTT.MaxMessageBytes, 65536},
		{"log", s.Log, Log{Level: "info", Format: "text"}},
		{"hold", s.HoldTime(), 15 * time.Second},
		{"m1 unit_id", dev["m1"].Modbus.UnitID, 1},
		{"m1 interval", dev["m1"].Modbus.Interval, time.Second},
		{"m1 timeout", dev["m1"].Modbus.Timeout, time.Second},
		{"m1 max_conns", dev["m1"].Modbus.MaxConns, 1},
		{"e1 explicit unit_id 0", dev["e1"].Modbus.UnitID, 0},
		{"e1 rtu", *dev["e1"].Modbus.RTU, RTU{Device: "/dev/ttyUSB0", Baud: 19200, DataBits: 8, Parity: "E", StopBits: 1}},
		{"m2 kind from profile", dev["m2"].Kind, "monitor"},
		{"m2 topic from profile", dev["m2"].MQTT.Topic, "devices/m2/status"},
		{"m2 interval", dev["m2"].MQTT.Interval, 10 * time.Second},
		{"v2 explicit topic", dev["v2"].MQTT.Topic, "ward/v2"},
		{"v2 explicit interval", dev["v2"].MQTT.Interval, 5 * time.Second},
		{"profiles loaded", len(s.Profiles), 5},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	mon, vent := s.Profiles["mon"], s.Profiles["vent"]
	if mon.Values[0].Type != TypeUint16 || mon.Values[1].Type != TypeBool || mon.Values[0].Order != "" {
		t.Errorf("mon value defaults: %+v %+v", mon.Values[0], mon.Values[1])
	}
	if h := vent.Values[2]; h.Order != OrderABCD || *h.Scale != 1 || h.Line != 6 {
		t.Errorf("vent hours: order %q scale %v line %d", h.Order, *h.Scale, h.Line)
	}
	if *mon.MaxGap != 8 || s.Profiles["mon-mqtt"].MaxGap != nil {
		t.Errorf("max_gap: modbus %v, mqtt %v", *mon.MaxGap, s.Profiles["mon-mqtt"].MaxGap)
	}
	if _, _, inUse := mon.Rules.HasRule(); !inUse || mon.Index("connected") != 1 {
		t.Error("profile not compiled")
	}
	want := "hospital h1: 2 units (1 convertible, 1 general), 3 beds, 2 pools, 6 devices (1 ecmo, 2 monitor, 3 ventilator; 1 modbus-rtu, 1 modbus-rtu-over-tcp, 2 modbus-tcp, 2 mqtt), 5 profiles"
	if got := s.Summary(); got != want {
		t.Errorf("Summary() =\n%s\nwant\n%s", got, want)
	}
}

func TestPoolForms(t *testing.T) {
	s, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Pool{{ID: "store"}, {ID: "icu1-store", Unit: "icu1"}}
	if len(s.Pools) != 2 || s.Pools[0] != want[0] || s.Pools[1] != want[1] {
		t.Fatalf("pools = %+v, want %+v", s.Pools, want)
	}
}
