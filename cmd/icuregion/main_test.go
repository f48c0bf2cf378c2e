package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/report"
)

// signedFile writes a key pair and a signed report into a temp dir and
// returns the dir and the envelope's path.
func signedFile(t *testing.T) (string, string) {
	t.Helper()
	return signedFileOf(t, nil)
}

// signedFileOf is signedFile with the report changed by edit before it is
// signed.
func signedFileOf(t *testing.T, edit func(*report.Report)) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := report.GenerateKeyFiles(dir); err != nil {
		t.Fatal(err)
	}
	key, err := report.LoadPrivateKey(filepath.Join(dir, report.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ev := report.Evidence{Stale: []string{}, Missing: []string{}, Coverage: 1}
	// One general unit; the class rows and the totals are its sums.
	unit := report.Counts{Unit: "gicu", Class: "general", BedsTotal: 3, BedsEquipped: 2, BedsOccupied: 1, BedsAvailable: 1, BedsDegraded: 1,
		Devices: map[string]report.KindCount{"ventilator": {Total: 2, InUse: 1, Standby: 1}}, Verified: true, Evidence: ev}
	row := func(u, class string, c report.Counts) report.Counts { c.Unit, c.Class = u, class; return c }
	empty := report.Counts{Devices: map[string]report.KindCount{}, Verified: true, Evidence: ev}
	r := &report.Report{
		Schema: report.Schema, Hospital: report.Hospital{ID: "H001", Name: "First — 第一医院", Level: "tertiary", Region: "R01", TotalBeds: 100},
		GatewayID: "gw", Sequence: 12, AsOf: time.Date(2026, 3, 1, 8, 0, 0, 500, time.UTC), IntervalSeconds: 60,
		Measures: report.MeasuresEquipment, Totals: row("all", "all", unit),
		Classes: []report.Counts{row("all", "general", unit), row("all", "specialty", empty), row("all", "convertible", empty)},
		Units:   []report.Counts{unit},
		Policy:  report.Policy{Level: "tertiary", TargetYear: 2025}, Verified: true, Evidence: ev,
	}
	if edit != nil {
		edit(r)
	}
	env, err := report.Sign(r, key)
	if err != nil {
		t.Fatal(err)
	}
	// Stored pretty-printed, as a platform might keep it.
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, env, "", "  "); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestVerifyCommand(t *testing.T) {
	dir, path := signedFile(t)
	pub := filepath.Join(dir, report.PublicKeyFile)
	var out, errb bytes.Buffer
	if code := dispatch([]string{"verify", "-key", pub, "-report", path}, &out, &errb); code != 0 || !strings.Contains(out.String(), "hospital H001, sequence 12") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	data, _ := os.ReadFile(path)
	tampered := filepath.Join(dir, "tampered.json")
	os.WriteFile(tampered, bytes.Replace(data, []byte(`"beds_available": 1`), []byte(`"beds_available": 2`), 1), 0o644)
	out.Reset()
	errb.Reset()
	if code := dispatch([]string{"verify", "-key", pub, "-report", tampered}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "NOT VALID") {
		t.Fatalf("tampered report: exit %d: %s", code, errb.String())
	}
}

// A correctly signed report whose totals are not the sum of its rows is
// not valid: the aggregator would reject it, and verify says so.
func TestVerifyCommandInconsistentCounts(t *testing.T) {
	dir, path := signedFileOf(t, func(r *report.Report) {
		r.Totals.BedsTotal += 5
		r.Totals.BedsEquipped += 5
		r.Totals.BedsAvailable += 5
	})
	var out, errb bytes.Buffer
	code := dispatch([]string{"verify", "-key", filepath.Join(dir, report.PublicKeyFile), "-report", path}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "NOT VALID: valid signature") || !strings.Contains(errb.String(), "totals: beds_total 8, but the class rows sum to 3") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
}

// The recipe of docs/reporting.md: canonical bytes from icuregion canon,
// the signature from the envelope, and openssl to verify.
func TestCanonAndOpenSSLRecipe(t *testing.T) {
	dir, path := signedFile(t)
	var out, errb bytes.Buffer
	if code := dispatch([]string{"canon", path}, &out, &errb); code != 0 {
		t.Fatalf("canon exit %d: %s", code, errb.String())
	}
	data, _ := os.ReadFile(path)
	var env report.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	want, _ := report.Canonical(env.Report)
	if !bytes.Equal(out.Bytes(), want) || bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		t.Fatalf("canon printed %q", out.String())
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed; the recipe needs OpenSSL 3")
	}
	canonPath, sigPath := filepath.Join(dir, "report.canon"), filepath.Join(dir, "report.sig")
	sig, _ := base64.StdEncoding.DecodeString(env.Signature.Value)
	os.WriteFile(canonPath, out.Bytes(), 0o644)
	os.WriteFile(sigPath, sig, 0o644)
	cmd := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", filepath.Join(dir, report.PublicKeyFile), "-rawin", "-in", canonPath, "-sigfile", sigPath)
	res, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(res), "Signature Verified Successfully") {
		t.Fatalf("openssl: %v: %s", err, res)
	}
	os.WriteFile(canonPath, bytes.Replace(out.Bytes(), []byte(`"sequence":12`), []byte(`"sequence":13`), 1), 0o644)
	if res, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", filepath.Join(dir, report.PublicKeyFile), "-rawin", "-in", canonPath, "-sigfile", sigPath).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified altered bytes: %s", res)
	}
}

func TestCheckCommand(t *testing.T) {
	dir, _ := signedFile(t)
	os.WriteFile(filepath.Join(dir, "hospitals.yaml"), []byte("hospitals:\n  - id: H001\n    public_key_file: "+report.PublicKeyFile+"\n"), 0o644)
	cfg := filepath.Join(dir, "region.yaml")
	os.WriteFile(cfg, []byte("region: R01\npopulation: 1000000\nkeys_file: hospitals.yaml\nmqtt:\n  broker: tcp://127.0.0.1:1883\n"), 0o644)
	var out, errb bytes.Buffer
	if code := dispatch([]string{"check", "-c", cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), "1 hospitals registered") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "history: none (no influxdb block)") {
		t.Errorf("check without influxdb: %s", out.String())
	}
	withInflux := "region: R01\npopulation: 1000000\nkeys_file: hospitals.yaml\nmqtt:\n  broker: tcp://127.0.0.1:1883\ninfluxdb:\n  url: http://127.0.0.1:8086\n  bucket: icu/autogen\n"
	os.WriteFile(cfg, []byte(withInflux), 0o644)
	out.Reset()
	if code := dispatch([]string{"check", "-c", cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), "history: influxdb http://127.0.0.1:8086, bucket icu/autogen") {
		t.Errorf("check with influxdb: exit %d: %s %s", code, out.String(), errb.String())
	}
	os.WriteFile(cfg, []byte(withInflux+"  token_file: absent-token\n"), 0o644)
	errb.Reset()
	if code := dispatch([]string{"check", "-c", cfg}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "influxdb: influxdb token_file") {
		t.Errorf("check with an absent token file: exit %d: %s", code, errb.String())
	}
	os.WriteFile(cfg, []byte("region: R01\nbogus: 1\n"), 0o644)
	if code := dispatch([]string{"check", "-c", cfg}, &out, &errb); code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
}

// check validates districts, parts and alert receivers and prints every
// problem as file:line; the shipped sample passes.
func TestCheckCommandDistrictsAndParts(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"check", "-c", filepath.Join("..", "..", "configs", "region", "region.yaml")}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "2 districts, population 5000000, 1 hospitals registered (1 gateways, 1 keys)") || !strings.Contains(out.String(), "district D01 Central City: population 3200000, 1 hospitals") {
		t.Fatalf("sample: exit %d: %s %s", code, out.String(), errb.String())
	}
	dir, _ := signedFile(t)
	keys := "hospitals:\n  - id: H001\n    district: D01\n    parts:\n      - id: east\n        public_key_file: " + report.PublicKeyFile + "\n      - id: east\n        public_key_file: " + report.PublicKeyFile + "\n  - id: H002\n    district: D07\n    public_key_file: " + report.PublicKeyFile + "\n"
	os.WriteFile(filepath.Join(dir, "hospitals.yaml"), []byte(keys), 0o644)
	cfg := filepath.Join(dir, "region.yaml")
	os.WriteFile(cfg, []byte("region: R01\nkeys_file: hospitals.yaml\nmqtt:\n  broker: tcp://127.0.0.1:1883\ndistricts:\n  - {id: D01, name: A, population: 1000}\nalerts:\n  receivers:\n    - {name: hook, type: webhook, url: 'http://127.0.0.1:9/x', secret_file: absent}\n"), 0o644)
	out.Reset()
	errb.Reset()
	code := dispatch([]string{"check", "-c", cfg}, &out, &errb)
	for _, want := range []string{"hospitals.yaml:7: hospitals[0].parts[1].id: hospital H001: duplicate part id \"east\"", "hospitals.yaml:10: hospitals[1].district: hospital H002: district \"D07\"", "receiver hook: secret_file"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("check does not say %q:\n%s", want, errb.String())
		}
	}
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
}
