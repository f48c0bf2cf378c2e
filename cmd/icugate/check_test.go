package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
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
