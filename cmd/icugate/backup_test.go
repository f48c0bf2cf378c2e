package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/icugate/icugate/store"
)

// backupSiteYAML is a site as a hospital keeps it: profiles and a devices
// file beside the site file, API tokens in a secret file. @HTTP@ is its
// listen address.
const backupSiteYAML = `hospital: {id: backup-hospital, name: Backup Hospital, level: tertiary, total_beds: 10, region: region-test}
target_year: 2027
profiles_dir: profiles
hold: 0s
units:
  - id: icu
    class: general
    beds: [icu-01]
device_files: [devices.yaml]
outbox:
  dir: data/outbox
http:
  listen: @HTTP@
  token_file: tokens
`

const backupDevicesYAML = `devices:
  - {id: mon-1, kind: monitor, profile: generic-monitor-modbus, at: icu-01, modbus: {address: "127.0.0.1:9", unit_id: 1, timeout: 1s}}
  - {id: vent-1, kind: ventilator, profile: generic-ventilator-modbus, at: icu-01, modbus: {address: "127.0.0.1:9", unit_id: 2, timeout: 1s}}
`

// Tokens of backupSite's token file.
const (
	testAdminToken  = "admin-secret-0123456789"
	testViewerToken = "viewer-secret-0123456789"
)

// backupSite writes backupSiteYAML and its files into a new directory and
// returns the site file's path; its data directory is DIR/data.
func backupSite(t *testing.T, httpAddr string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o750))
		must(t, os.WriteFile(p, []byte(text), mode))
	}
	write("site.yaml", strings.ReplaceAll(backupSiteYAML, "@HTTP@", httpAddr), 0o640)
	write("devices.yaml", backupDevicesYAML, 0o640)
	write("tokens", "ward viewer "+testViewerToken+"\nit admin "+testAdminToken+"\n", 0o600)
	for _, p := range []string{"generic-monitor-modbus.yaml", "generic-ventilator-modbus.yaml", "generic-crrt-modbus.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../configs/profiles", p))
		must(t, err)
		write(filepath.Join("profiles", p), string(b), 0o640)
	}
	return filepath.Join(dir, "site.yaml")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fillStore writes records into the store at path (no gateway running).
func fillStore(t *testing.T, path string, at string) {
	t.Helper()
	s, err := store.Open(path)
	must(t, err)
	defer s.Close()
	must(t, s.SetAssignment("vent-1", store.Assignment{At: at, By: "biomed"}))
	must(t, s.Audit(store.AuditEntry{Who: "biomed", Action: "assignment", Device: "vent-1", Detail: "at=" + at, Status: 200, Result: "ok"}))
}

func assignment(t *testing.T, path string) string {
	t.Helper()
	s, err := store.Open(path)
	must(t, err)
	defer s.Close()
	a, err := s.Assignments()
	must(t, err)
	return a["vent-1"].At
}

// readArchive returns the entries of a backup by name.
func readArchive(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(zr)
	out := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		b, err := io.ReadAll(tr)
		must(t, err)
		out[hdr.Name] = b
	}
}

// run runs a subcommand and returns its exit status, stdout and stderr.
func run(fn func(args []string, stdout, stderr io.Writer) int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := fn(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestBackupStoppedAndRestore backs up a data directory no gateway runs
// on, checks what the archive holds, changes the store, and restores: the
// store is the backup's again, the replaced one kept, the config written
// into a new directory; a second restore is refused while the kept copy
// is there.
func TestBackupStoppedAndRestore(t *testing.T) {
	t.Parallel()
	site := backupSite(t, "127.0.0.1:9")
	dir := filepath.Dir(site)
	data := filepath.Join(dir, "data")
	state := filepath.Join(data, "state.db")
	fillStore(t, state, "icu-01")
	out := filepath.Join(t.TempDir(), "backup.tar.gz")

	code, stdout, stderr := run(runBackup, "-c", site, "-o", out)
	if code != 0 || !strings.Contains(stdout, "from the stopped data directory") || !strings.Contains(stdout, "1 secret(s) left out") {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	entries := readArchive(t, out)
	var names []string
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	want := "config/devices.yaml config/profiles/generic-monitor-modbus.yaml config/profiles/generic-ventilator-modbus.yaml config/site.yaml manifest.json state.db"
	if strings.Join(names, " ") != want {
		t.Errorf("archive holds %q\nwant %q (no token file, no unused profile)", names, want)
	}
	var m manifest
	must(t, json.Unmarshal(entries[manifestName], &m))
	if m.Layout != backupLayout || m.Hospital != "backup-hospital" || m.StateFormat != store.Format || m.Via != "file" ||
		m.Version != version || len(m.Files) != 5 || m.Files[0].Name != stateName || len(m.LeftOut) != 1 || m.Created.IsZero() {
		t.Errorf("manifest = %+v", m)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode: %v, %v; want 0600", fi.Mode(), err)
	}

	fillStore(t, state, "central-store") // the change after the backup
	conf := filepath.Join(t.TempDir(), "etc")
	code, stdout, stderr = run(runRestore, "-data", data, "-i", out, "-config-dir", conf)
	if code != 0 || !strings.Contains(stdout, "restored state.db") {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := assignment(t, state); got != "icu-01" {
		t.Errorf("restored store: vent-1 at %q, want icu-01 (as backed up)", got)
	}
	if got := assignment(t, state+store.BeforeRestore); got != "central-store" {
		t.Errorf("kept store: vent-1 at %q, want central-store (the replaced one)", got)
	}
	for _, f := range []string{"site.yaml", "devices.yaml", "profiles/generic-monitor-modbus.yaml"} {
		orig, _ := os.ReadFile(filepath.Join(dir, f))
		got, err := os.ReadFile(filepath.Join(conf, f))
		if err != nil || !bytes.Equal(orig, got) {
			t.Errorf("restored %s: %v (equal %v)", f, err, bytes.Equal(orig, got))
		}
	}

	before, _ := os.ReadFile(state)
	code, _, stderr = run(runRestore, "-data", data, "-i", out)
	if code != 1 || !strings.Contains(stderr, "earlier restore") || !strings.Contains(stderr, "nothing was changed") {
		t.Errorf("second restore: exit %d, %s; want a refusal naming the kept copy", code, stderr)
	}
	if after, _ := os.ReadFile(state); !bytes.Equal(before, after) {
		t.Error("refused restore changed state.db")
	}
}

// TestBackupWithSecrets: -with-secrets includes the token file, marked.
func TestBackupWithSecrets(t *testing.T) {
	t.Parallel()
	site := backupSite(t, "127.0.0.1:9")
	fillStore(t, filepath.Join(filepath.Dir(site), "data", "state.db"), "icu-01")
	out := filepath.Join(t.TempDir(), "backup.tar.gz")
	if code, stdout, stderr := run(runBackup, "-c", site, "-o", out, "-with-secrets"); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	entries := readArchive(t, out)
	if !strings.Contains(string(entries["config/tokens"]), testAdminToken) {
		t.Error("token file not in a -with-secrets backup")
	}
	var m manifest
	must(t, json.Unmarshal(entries[manifestName], &m))
	for _, f := range m.Files {
		if f.Name == "config/tokens" && (!f.Secret || f.Mode != "0600") {
			t.Errorf("token file in the manifest: %+v; want secret, mode 0600", f)
		}
	}
	if !m.WithSecrets || len(m.LeftOut) != 0 {
		t.Errorf("manifest = %+v", m)
	}
}

func TestBackupRefuses(t *testing.T) {
	t.Parallel()
	site := backupSite(t, "127.0.0.1:9")
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no -o", []string{"-c", site}, 2, "-o BACKUP.tar.gz is required"},
		{"no state.db", []string{"-c", site, "-o", out}, 1, "no state.db in"},
		{"site with problems", []string{"-c", filepath.Join(t.TempDir(), "absent.yaml"), "-o", out}, 1, "nothing written"},
	}
	for _, tt := range tests {
		code, _, stderr := run(runBackup, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, %s; want %d with %q", tt.name, code, stderr, tt.code, tt.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed backup left %s", out)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".icugate-backup-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestBackupURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ listen, want string }{
		{"", "http://127.0.0.1:8080/api/v1/backup"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/api/v1/backup"},
		{":9000", "http://127.0.0.1:9000/api/v1/backup"},
		{"[::]:9000", "http://[::1]:9000/api/v1/backup"},
		{"10.1.2.3:8443", "http://10.1.2.3:8443/api/v1/backup"},
		{"icugate.local:80", "http://icugate.local:80/api/v1/backup"},
	} {
		site := loadSite(t, "127.0.0.1:9")
		site.HTTP.Listen = tt.listen
		if got := backupURL(site); got != tt.want {
			t.Errorf("listen %q: %s, want %s", tt.listen, got, tt.want)
		}
	}
}

// TestBackupFilesOutsideSiteDir: files the site names outside its
// directory are kept by their absolute path and restored under
// -config-dir/outside, with a note saying where they came from.
func TestBackupFilesOutsideSiteDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	site := writeTinySite(t, dir, "127.0.0.1:9", "127.0.0.1:9", "4242") // profiles_dir: ../../configs/profiles, absolute
	fillStore(t, filepath.Join(dir, "state.db"), "icu-01")
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	if code, stdout, stderr := run(runBackup, "-c", site, "-o", out); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	profile, err := filepath.Abs("../../configs/profiles/generic-monitor-modbus.yaml")
	must(t, err)
	name := outsidePrefix + strings.TrimPrefix(profile, "/")
	if _, ok := readArchive(t, out)[name]; !ok {
		t.Fatalf("archive lacks %s", name)
	}
	conf := filepath.Join(t.TempDir(), "etc")
	code, stdout, stderr := run(runRestore, "-data", filepath.Join(t.TempDir(), "data"), "-i", out, "-config-dir", conf)
	if code != 0 || !strings.Contains(stdout, "was outside the site's directory, at "+profile) {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(conf, "outside", profile)); err != nil {
		t.Errorf("outside file not restored: %v", err)
	}
}
