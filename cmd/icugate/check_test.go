package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/icugate/icugate/report"
)

func TestCheckValidSite(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runCheck([]string{"-c", "../../configs/example-site.yaml"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "ok: hospital city-central: 3 units") || errOut.Len() != 0 {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

// TestCheckReportsEveryProblem runs check on a file with many mistakes and
// expects each as file:line: message on stderr, and exit status 1.
func TestCheckReportsEveryProblem(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runCheck([]string{"-c", "../../config/testdata/many-mistakes.yaml"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	located := regexp.MustCompile(`^\S+\.yaml:\d+: \S`)
	n := 0
	for _, l := range lines {
		if located.MatchString(l) {
			n++
		}
	}
	if n < 10 {
		t.Fatalf("got %d file:line: problems, want at least 10:\n%s", n, errOut.String())
	}
	if !strings.Contains(errOut.String(), "many-mistakes.yaml:17: device m1: unit_id 300 outside 0..247") {
		t.Errorf("unit_id problem missing:\n%s", errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want empty", out.String())
	}
}

// TestCheckReferencedFiles checks that check fails, with file:line of the
// field, on the files a valid site names: a signing key others can read, a
// key the gateway cannot parse, a token file that is not there; and passes
// once they are right.
func TestCheckReferencedFiles(t *testing.T) {
	dir := t.TempDir()
	profiles, err := filepath.Abs("../../config/testdata/profiles")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := report.GenerateKeyFiles(dir); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, report.PrivateKeyFile)
	token := filepath.Join(dir, "api-token")
	site := filepath.Join(dir, "site.yaml")
	writeText(t, site, `hospital: {id: h1, level: tertiary, total_beds: 100}
units: [{id: icu1, class: general, beds: [b1]}]
devices:
  - {id: m1, profile: mon, at: b1, modbus: {address: "10.0.0.1:502"}}
  - {id: v1, profile: vent, at: b1, modbus: {address: "10.0.0.1:502", unit_id: 2}}
profiles_dir: `+profiles+`
report: {key_file: `+report.PrivateKeyFile+`}
http: {token_file: api-token}
`, 0o644)
	run := func() (int, string, string) {
		var out, errOut bytes.Buffer
		code := runCheck([]string{"-c", site}, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run()
	want := site + ":7: report.key_file: " + key + " has mode 0644, which lets group or others read a secret; run chmod 600 " + key + "\n" +
		site + ":8: http.token_file: no file " + token + "; create it or correct the path (relative paths are relative to the site file)\n" +
		site + ": 2 problem(s)\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("key 0644, no token: exit %d, stdout %q, stderr:\n%s\nwant exit 1, stderr:\n%s", code, out, errOut, want)
	}

	writeText(t, key, "not a key\n", 0o600)
	writeText(t, token, "0123456789abcdef0123456789abcdef\n", 0o600)
	code, _, errOut = run()
	want = site + ":7: report.key_file: " + key + `: no PEM "PRIVATE KEY" block (make one with icugate keygen)` + "\n"
	if code != 1 || !strings.HasPrefix(errOut, want) {
		t.Fatalf("bad key: exit %d, stderr:\n%s\nwant exit 1, stderr starting:\n%s", code, errOut, want)
	}

	for _, f := range []string{key, filepath.Join(dir, report.PublicKeyFile)} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := report.GenerateKeyFiles(dir); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut = run(); code != 0 || !strings.Contains(out, ": ok: ") || errOut != "" {
		t.Fatalf("all good: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

// writeText writes a file of the given mode (whatever the umask).
func writeText(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestCheckMissingFileAndBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runCheck([]string{"-c", "does-not-exist.yaml"}, &out, &errOut); code != 1 {
		t.Fatalf("missing file: exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "does-not-exist.yaml") {
		t.Errorf("stderr %q does not name the file", errOut.String())
	}
	if code := runCheck([]string{"-x"}, &out, &errOut); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
	if code := runCheck([]string{"-c", "a.yaml", "extra"}, &out, &errOut); code != 2 {
		t.Fatalf("extra argument: exit %d, want 2", code)
	}
}

// TestCommandTable checks that every subcommand the package doc lists is
// in the table once, with a summary and code.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		if seen[c.name] {
			t.Errorf("command %q listed twice", c.name)
		}
		seen[c.name] = true
		if c.summary == "" || c.run == nil {
			t.Errorf("command %q has no summary or no code", c.name)
		}
	}
	for _, name := range []string{"run", "check", "probe", "keygen", "health", "version"} {
		if _, ok := lookup(name); !ok {
			t.Errorf("command %q missing", name)
		}
	}
	if _, ok := lookup("nosuch"); ok {
		t.Error("lookup found a command that does not exist")
	}
}
