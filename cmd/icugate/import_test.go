package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var importNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// inventorySite copies configs/inventory (the sample site, its mapping and
// exports) into a new directory, the profiles directory made absolute,
// and returns the directory. withDevices keeps the committed devices.yaml.
func inventorySite(t *testing.T, withDevices bool) string {
	t.Helper()
	dir := t.TempDir()
	profiles, err := filepath.Abs("../../configs/profiles")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../configs/inventory/*")
	for _, f := range files {
		name := filepath.Base(f)
		if name == "devices.yaml" && !withDevices {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if name == "site.yaml" {
			b = bytes.Replace(b, []byte("profiles_dir: ../profiles"), []byte("profiles_dir: "+profiles), 1)
		}
		writeText(t, filepath.Join(dir, name), string(b), 0o644)
	}
	return dir
}

func importArgs(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := runImport(args, &out, &errOut, importNow)
	return code, out.String(), errOut.String()
}

// The workflow of docs/inventory.md: a dry run shows every device to be
// added and writes nothing; the import writes the file and says how to
// apply it; importing the same export again changes nothing; check passes.
func TestImportWorkflow(t *testing.T) {
	t.Parallel()
	dir := inventorySite(t, false)
	site, csv, mapping := filepath.Join(dir, "site.yaml"), filepath.Join(dir, "cmms-export.csv"), filepath.Join(dir, "mapping.yaml")
	devices := filepath.Join(dir, "devices.yaml")

	code, out, errOut := importArgs("-c", site, "-map", mapping, csv, "-dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		csv + ": 18 rows read (UTF-8, comma-separated), header at row 1\n",
		"  skipped: 1 row kind Infusion Pump, 1 row status Scrapped\n",
		"  columns not read: Description, Department, Cost\n",
		"does not exist yet",
		": 16 added, 0 removed, 0 changed, 0 unchanged\n",
		"+ BME-100231 (row 2): ventilator generic-ventilator-modbus at icu-01, modbus-tcp 10.20.1.11:502 unit 1, serial V5-20231\n",
		"dry run: nothing written; run without -dry-run to write " + devices + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(devices); !os.IsNotExist(err) {
		t.Fatal("the dry run wrote the devices file")
	}

	code, out, errOut = importArgs("-c", site, "-map", mapping, csv)
	if code != 0 || !strings.Contains(out, "wrote "+devices+": 16 devices\n") || !strings.Contains(out, "apply it: systemctl reload icugate") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	want, _ := os.ReadFile("../../configs/inventory/devices.yaml")
	if got, _ := os.ReadFile(devices); string(got) != string(want) {
		t.Errorf("devices.yaml differs from configs/inventory/devices.yaml:\n%s", got)
	}

	code, out, _ = importArgs("-c", site, "-map", mapping, csv)
	if code != 0 || !strings.Contains(out, "nothing changes: "+devices+" is left as it is") {
		t.Errorf("second import: exit %d\n%s", code, out)
	}
	var checkOut, checkErr bytes.Buffer
	if code := runCheck([]string{"-c", site}, &checkOut, &checkErr); code != 0 {
		t.Errorf("check after import: exit %d\n%s", code, checkErr.String())
	}
}

// A change in the CMMS: the dry run shows it field by field, the import
// keeps the previous file as .bak.
func TestImportChangesKeepABackup(t *testing.T) {
	t.Parallel()
	dir := inventorySite(t, true)
	site, mapping := filepath.Join(dir, "site.yaml"), filepath.Join(dir, "mapping.yaml")
	text, _ := os.ReadFile(filepath.Join(dir, "cmms-export.csv"))
	changed := strings.Replace(string(text), "M3-88125,icu-05,10.20.1.13,1,2026-12-31", "M3-88125,icu-06,10.20.1.13,1,2027-06-30", 1)
	lines := strings.Split(changed, "\n")
	changed = strings.Join(append(lines[:16], lines[17:]...), "\n") // row 17, BME-100261, removed
	csv := filepath.Join(dir, "changed.csv")
	writeText(t, csv, changed, 0o644)

	code, out, errOut := importArgs("-dry-run", "-c", site, "-map", mapping, csv)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		": 0 added, 1 removed, 1 changed, 14 unchanged\n",
		"- BME-100261: crrt generic-crrt-modbus at central-store, modbus-tcp 10.20.1.41:502 unit 1, serial R20-1102\n",
		"~ BME-100239 (row 10): location icu-05 → icu-06; pm_due 2026-12-31 → 2027-06-30\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "devices.yaml"))
	if code, out, errOut := importArgs("-c", site, "-map", mapping, csv); code != 0 || !strings.Contains(out, "(the previous file is "+filepath.Join(dir, "devices.yaml.bak")+")") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if bak, _ := os.ReadFile(filepath.Join(dir, "devices.yaml.bak")); string(bak) != string(before) {
		t.Error("devices.yaml.bak is not the previous file")
	}
}

// Problems are printed one per line with a count, exit 1, nothing written;
// usage mistakes exit 2; a site without device_files is told the line.
func TestImportProblemsAndUsage(t *testing.T) {
	t.Parallel()
	dir := inventorySite(t, true)
	site := filepath.Join(dir, "site.yaml")
	before, _ := os.ReadFile(filepath.Join(dir, "devices.yaml"))
	bad := filepath.Join(dir, "bad.csv")
	writeText(t, bad, "asset_id,profile,location,address,unit_id\nA-1,generic-monitor-modbus,icu-09,10.0.0.1,1\nA-1,generic-monitor-modbus,icu-01,10.0.0.1,300\n", 0o644)
	code, out, errOut := importArgs("-c", site, bad)
	want := bad + ` row 2, column "location": bed or pool "icu-09" does not exist in ` + site + ` (it has central-store, icu-01, icu-02, icu-03, icu-04, icu-05, icu-06, icu-store, … (2 more)); map CMMS locations under locations: in the mapping file
` + bad + ` row 3, column "asset_id": asset id A-1: duplicate of row 2
` + bad + ` row 3, column "unit_id": unit id 300 outside 0..247 (modbus-tcp)
` + bad + `: 3 problem(s); nothing was written
`
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d\nstdout %q\nstderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "devices.yaml")); string(after) != string(before) {
		t.Error("devices.yaml changed")
	}

	for _, args := range [][]string{
		{"-c", site},
		{"-c", site, bad, "other.csv"},
		{"-c", site, "-encoding", "latin1", bad},
		{"-nosuch", bad},
	} {
		if code, _, _ := importArgs(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := importArgs("-c", site, filepath.Join(dir, "missing.csv")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing export: exit %d %s", code, errOut)
	}

	noFiles := filepath.Join(dir, "plain.yaml")
	text, _ := os.ReadFile(site)
	writeText(t, noFiles, strings.Replace(string(text), "device_files: [devices.yaml]", "", 1), 0o644)
	code, _, errOut = importArgs("-c", noFiles, "-map", filepath.Join(dir, "mapping.yaml"), filepath.Join(dir, "cmms-export.csv"))
	if code != 2 || !strings.Contains(errOut, "has no device_files: add the line\n    device_files: [devices.yaml]\n") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

// icugate export writes what icugate import reads back unchanged, in
// UTF-8 (with a BOM) and GBK.
func TestExportThenImport(t *testing.T) {
	t.Parallel()
	dir := inventorySite(t, true)
	site := filepath.Join(dir, "site.yaml")
	for _, enc := range []string{"utf-8", "gbk"} {
		csv := filepath.Join(dir, "export-"+enc+".csv")
		var out, errOut bytes.Buffer
		if code := runExport([]string{"-c", site, "-o", csv, "-encoding", enc}, &out, &errOut); code != 0 || errOut.String() != "wrote 16 devices to "+csv+"\n" {
			t.Fatalf("export: exit %d %s", code, errOut.String())
		}
		code, stdout, stderr := importArgs("-c", site, "-dry-run", csv)
		if code != 0 || !strings.Contains(stdout, ": 0 added, 0 removed, 0 changed, 16 unchanged\n") {
			t.Errorf("%s: exit %d\n%s%s", enc, code, stdout, stderr)
		}
	}
	var out, errOut bytes.Buffer
	if code := runExport([]string{"-c", site}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "\uFEFFasset_id,serial,kind,profile,location,protocol,address,unit_id,topic,pm_due\r\nBME-100231,V5-20231,") {
		t.Errorf("export to stdout: exit %d\n%q", code, out.String())
	}
	if code := runExport([]string{"-c", site, "-encoding", "auto"}, &out, &errOut); code != 2 {
		t.Errorf("-encoding auto: exit %d", code)
	}
}
