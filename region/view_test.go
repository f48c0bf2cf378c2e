package region

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummariseTotalsAndIndicators(t *testing.T) {
	hs := newHospitals(t, 5)
	keys := writeKeys(t, t.TempDir(), hs)
	reg, err := LoadRegistry(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(keys, "")
	cfg.Population = 20_000
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var entries []Entry
	var want Totals
	for i, h := range hs[:4] {
		asOf := now.Add(-30 * time.Second)
		if i == 3 { // silent: last report 4 intervals ago
			asOf = now.Add(-4 * time.Minute)
		}
		r := h.next("R01", asOf)
		if i == 1 {
			r.Verified = false
		}
		entries = append(entries, Entry{Report: r, AcceptedAt: asOf, Source: Live})
		if i == 3 {
			continue
		}
		want.BedsTotal += r.Totals.BedsTotal
		want.BedsEquipped += r.Totals.BedsEquipped
		want.ConvertibleReady += r.Totals.ConvertibleReady
		want.ICUBeds += r.Classes[0].BedsTotal + r.Classes[1].BedsTotal
		want.ConvertibleBeds += r.Classes[2].BedsTotal
	}
	v := Summarise(cfg, reg, entries, nil, now, "instance")
	got := v.Totals
	if got.Hospitals != 5 || got.Reporting != 3 || got.Silent != 1 || got.Never != 1 || got.Unverified != 1 {
		t.Fatalf("statuses = %+v", got)
	}
	if got.BedsTotal != want.BedsTotal || got.BedsEquipped != want.BedsEquipped || got.ConvertibleReady != want.ConvertibleReady ||
		got.ICUBeds != want.ICUBeds || got.ConvertibleBeds != want.ConvertibleBeds {
		t.Fatalf("totals = %+v, want %+v", got, want)
	}
	in := v.Indicators
	if in.ICUBedsPer100k != float64(want.ICUBeds)*5 || in.ICUTargetPer100k != 15 || in.ConvertibleTarget != 10 {
		t.Fatalf("indicators = %+v", in)
	}
	if in.ICUMet != (want.ICUBeds*5 >= 15) || in.ConvertibleMet != (want.ConvertibleBeds*5 >= 10) {
		t.Fatalf("met flags = %+v for %d icu, %d convertible beds", in, want.ICUBeds, want.ConvertibleBeds)
	}
	if v.Hospitals[4].Status != StatusNever || v.Hospitals[3].Status != StatusSilent || v.Hospitals[0].Status != StatusReporting {
		t.Fatalf("statuses = %v %v %v", v.Hospitals[0].Status, v.Hospitals[3].Status, v.Hospitals[4].Status)
	}
}

// Hospitals are judged against the region's target year on their counts
// (not on the flags of their own reports, which used the gateway's year).
func TestRegionalTargetsAndHospitalsMeetingThem(t *testing.T) {
	hs := newHospitals(t, 2)
	keys := writeKeys(t, t.TempDir(), hs)
	reg, _ := LoadRegistry(keys, nil)
	cfg := testConfig(keys, "")
	cfg.TargetYear = 2027
	cfg.Population = 100_000
	now := time.Now()
	// 4.5 / 2.5 / 4.5 % of 400 beds configured; convertible equipped 4 %.
	meeting := hs[0].nextWith("R01", now, beds{level: "tertiary", total: 400, gen: 18, genEq: 18, spec: 10, specEq: 10, conv: 18, convEq: 16, ready: 16})
	// The report's own (2025) flags say met; 2027 targets say general 4 % is short.
	missing := hs[1].nextWith("R01", now, beds{level: "tertiary", total: 400, gen: 16, genEq: 16, spec: 10, specEq: 10, conv: 18, convEq: 18, ready: 18})
	missing.Policy.General.ConfiguredMet = true
	v := Summarise(cfg, reg, []Entry{{Report: meeting}, {Report: missing}}, nil, now, "instance")
	in := v.Indicators
	if in.ICUTargetPer100k != 18 || in.ConvertibleTarget != 12 {
		t.Fatalf("2027 targets = %v / %v", in.ICUTargetPer100k, in.ConvertibleTarget)
	}
	if in.HospitalsMeetingConfigured != 1 || in.HospitalsMeetingEquipped != 0 || in.ShareMeetingConfigured != 0.5 {
		t.Fatalf("hospitals meeting targets = %+v", in)
	}
	cfg.TargetYear = 2025 // 4 / 2 / 4 %: both meet, configured and equipped
	v = Summarise(cfg, reg, []Entry{{Report: meeting}, {Report: missing}}, nil, now, "instance")
	if in := v.Indicators; in.HospitalsMeetingConfigured != 2 || in.HospitalsMeetingEquipped != 2 || in.ICUTargetPer100k != 15 {
		t.Fatalf("2025: hospitals meeting targets = %+v", in)
	}
}

func TestMergeKeepsHighestSequence(t *testing.T) {
	hs := newHospitals(t, 2)
	now := time.Now()
	a1 := hs[0].next("R01", now)
	a2 := hs[0].next("R01", now)
	b1 := hs[1].next("R01", now)
	merged := Merge([]Entry{{Report: a2}}, []Entry{{Report: a1}, {Report: b1}})
	if len(merged) != 2 {
		t.Fatalf("merged %d entries", len(merged))
	}
	for _, e := range merged {
		if e.Report.Hospital.ID == hs[0].id && e.Report.Sequence != 2 {
			t.Fatalf("merge kept sequence %d", e.Report.Sequence)
		}
	}
}

func TestRegistryRejectsBadEntriesAndReloadKeepsOld(t *testing.T) {
	hs := newHospitals(t, 2)
	dir := t.TempDir()
	keys := writeKeys(t, dir, hs)
	cfg := testConfig(keys, "")
	r, err := New(cfg, Deps{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bad := "hospitals:\n  - id: H001\n    public_key_file: keys/nope.pem\n  - id: H/2\n    public_key: x\n  - id: H003\n"
	if err := os.WriteFile(keys, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	err = r.Reload()
	if err == nil {
		t.Fatal("reload accepted a broken keys file")
	}
	for _, want := range []string{"nope.pem", "H/2", "H003"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reload error does not name %q: %v", want, err)
		}
	}
	if got := r.keys.Load().Hospitals(); len(got) != 2 {
		t.Fatalf("old registry lost: %v", got)
	}
	// A good reload adds a hospital.
	more := append(hs, newHospitals(t, 3)[2])
	writeKeys(t, dir, more)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := r.keys.Load().Hospitals(); len(got) != 3 {
		t.Fatalf("after reload: %v", got)
	}
	if _, err := LoadRegistry(filepath.Join(dir, "absent.yaml"), nil); err == nil {
		t.Fatal("missing keys file accepted")
	}
}

func TestLoadConfigStrictAndDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "region.yaml")
	os.WriteFile(path, []byte("region: R01\npopulation: 5000000\nkeys_file: hospitals.yaml\nmqtt:\n  broker: tcp://127.0.0.1:1883\n  share_group: g1\n"), 0o644)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeysFile != filepath.Join(dir, "hospitals.yaml") || c.MQTT.ShareGroup != "g1" || c.Filters()[0] != "$share/g1/icu/v1/R01/+/capacity" || c.Filters()[1] != "$share/g1/icu/v1/R01/+/+/capacity" || c.MaxAge != DefaultMaxAge {
		t.Fatalf("config = %+v", c)
	}
	os.WriteFile(path, []byte("region: R01\npopulaton: 5\n"), 0o644)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("unknown key: %v", err)
	}
	os.WriteFile(path, []byte("region: R/1\n"), 0o644)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "population") || !strings.Contains(err.Error(), "keys_file") {
		t.Fatalf("invalid config: %v", err)
	}
}

func TestSampleConfigLoads(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "configs", "region", "region.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := LoadRegistry(c.KeysFile, c.Districts)
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "R01" || len(reg.Hospitals()) != 1 || len(c.Districts) != 2 || c.Population != 5_000_000 || c.Alerts != nil {
		t.Fatalf("sample config: region %s, hospitals %v, districts %v", c.Region, reg.Hospitals(), c.Districts)
	}
	// The commented examples, uncommented, load too: a two-part hospital
	// and the alerts block (with its secret file).
	dir := t.TempDir()
	keys, _ := os.ReadFile(c.KeysFile)
	hr := newHandRegion(t, dir)
	os.WriteFile(filepath.Join(dir, "keys", "H002.pub.pem"), []byte(publicPEM(t, hr.h002main)), 0o644)
	os.WriteFile(filepath.Join(dir, "keys", "H002-east.pub.pem"), []byte(publicPEM(t, hr.h002east)), 0o644)
	reg, err = ParseRegistry([]byte(uncomment(string(keys))), filepath.Join(dir, "hospitals.yaml"), c.Districts)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := reg.Hospital("H002"); !ok || len(h.Parts) != 2 || h.District != "D02" || reg.Keys() != 3 {
		t.Fatalf("uncommented sample keys: %+v", h)
	}
	region, _ := os.ReadFile(filepath.Join("..", "configs", "region", "region.yaml"))
	secret := filepath.Join(dir, "webhook-secret")
	os.WriteFile(secret, []byte("k"), 0o600)
	full := strings.ReplaceAll(uncomment(string(region)), "/etc/icuregion/webhook-secret", secret)
	full = strings.Join(slices.DeleteFunc(strings.Split(full, "\n"), func(l string) bool {
		// The commented mqtt and influxdb options need files this test
		// does not make.
		return strings.Contains(l, "_file:") && !strings.Contains(l, secret) && !strings.Contains(l, "keys_file")
	}), "\n")
	c, err = ParseConfig([]byte(full), filepath.Join(dir, "region.yaml"))
	if err != nil {
		t.Fatalf("uncommented sample: %v", err)
	}
	if c.Alerts == nil || len(c.Alerts.Receivers) != 2 || c.Alerts.For != 2*time.Minute || !c.Alerts.resolved() {
		t.Fatalf("uncommented alerts: %+v", c.Alerts)
	}
	if err := CheckReceivers(c); err != nil {
		t.Fatal(err)
	}
}

var yamlKey = regexp.MustCompile(`^[a-z_]+:( |$)`)

// uncomment removes "# " from lines that are commented YAML (keys and list
// items), keeping the commentary.
func uncomment(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		indent := l[:len(l)-len(trimmed)]
		rest, ok := strings.CutPrefix(trimmed, "# ")
		if !ok {
			continue
		}
		if yamlKey.MatchString(strings.TrimPrefix(strings.TrimLeft(rest, " "), "- ")) {
			lines[i] = indent + rest
		}
	}
	return strings.Join(lines, "\n")
}

// Run stops its goroutines when it fails after starting them.
func TestRunFailsCleanlyOnBadCredentials(t *testing.T) {
	hs := newHospitals(t, 1)
	dir := t.TempDir()
	cfg := testConfig(writeKeys(t, dir, hs), "")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.MQTT.PasswordFile = filepath.Join(dir, "absent-password")
	r, err := New(cfg, Deps{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "absent-password") {
		t.Fatalf("Run = %v, want an error naming the password file", err)
	}
}
