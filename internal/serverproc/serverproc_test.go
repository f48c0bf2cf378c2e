package serverproc

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// fakeTB records what Require tells a test. Like a real one, Skip and
// Fatal end the goroutine that calls them: call Require through
// inGoroutine.
type fakeTB struct {
	testing.TB
	skipped, fatal []any
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = append(f.skipped, args...); runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any) { f.fatal = append(f.fatal, args...); runtime.Goexit() }

// inGoroutine runs fn in a goroutine of its own and waits for it to end.
func inGoroutine(fn func()) {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	<-done
}

var errNotInstalled = errors.New("testd not found: run scripts/install-testd.sh")

// executable writes a file named name that the lookup accepts.
func executable(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRequireSkipsOrFailsUnderCI: with the binary missing a test is
// skipped, and under CI=true it fails, both with the harness's install
// hint; with the binary there, Require returns its path.
func TestRequireSkipsOrFailsUnderCI(t *testing.T) {
	t.Setenv("ICUGATE_CACHE", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	b := Binary{Name: "testd", NotInstalled: errNotInstalled}
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{}
		bin := "not returned"
		inGoroutine(func() { bin = b.Require(f) })
		if bin != "not returned" {
			t.Errorf("CI=%q: Require returned %q with nothing installed", ci, bin)
		}
		got, other := f.skipped, f.fatal
		if ci == "true" {
			got, other = f.fatal, f.skipped
		}
		if len(got) != 1 || !errors.Is(got[0].(error), errNotInstalled) || len(other) != 0 {
			t.Errorf("CI=%q: skipped %v, failed %v; want exactly one %s with the install hint",
				ci, f.skipped, f.fatal, map[string]string{"": "skip", "true": "failure"}[ci])
		}
	}
	want := executable(t, t.TempDir(), "testd")
	b.Paths = []string{want}
	f := &fakeTB{}
	var got string
	inGoroutine(func() { got = b.Require(f) })
	if got != want || len(f.skipped)+len(f.fatal) != 0 {
		t.Errorf("Require with testd installed = %q (skipped %v, failed %v), want %q", got, f.skipped, f.fatal, want)
	}
}

// TestBinaryLookupOrder: the tool cache comes before PATH (a pinned build
// wins over a system's), PATH before the fixed paths; the cache defaults
// to ~/.cache/icugate; a directory with the binary's name is not a binary.
func TestBinaryLookupOrder(t *testing.T) {
	cache, home, pathDir, fixedDir := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	inCache := executable(t, filepath.Join(cache, "bin"), "testd")
	inHome := executable(t, filepath.Join(home, ".cache", "icugate", "bin"), "testd")
	onPath := executable(t, pathDir, "testd")
	fixed := executable(t, fixedDir, "testd")
	b := Binary{Name: "testd", Paths: []string{filepath.Join(t.TempDir(), "absent"), fixed}}
	t.Setenv("HOME", home)
	t.Setenv("ICUGATE_CACHE", cache)
	t.Setenv("PATH", pathDir)
	steps := []struct {
		name, want string
		then       func() // takes away what this step found
	}{
		{"cache before PATH", inCache, func() { t.Setenv("ICUGATE_CACHE", "") }},
		{"default cache under HOME", inHome, func() { t.Setenv("HOME", t.TempDir()) }},
		{"PATH before fixed paths", onPath, func() { t.Setenv("PATH", t.TempDir()) }},
		{"fixed paths last", fixed, func() {
			b.Paths = nil
			dirs := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dirs, "bin", "testd"), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("ICUGATE_CACHE", dirs)
		}},
		{"a directory named testd is not a binary", "", func() {}},
	}
	for _, s := range steps {
		if got := b.Path(); got != s.want {
			t.Errorf("%s: Path() = %q, want %q", s.name, got, s.want)
		}
		s.then()
	}
}

// TestFreePorts: the ports are distinct and free to bind on loopback.
func TestFreePorts(t *testing.T) {
	t.Parallel()
	ports, err := FreePorts(3)
	if err != nil || len(ports) != 3 {
		t.Fatalf("FreePorts(3) = %v, %v", ports, err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d returned twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d is not free: %v", p, err)
			continue
		}
		l.Close()
	}
	if p, err := FreePort(); err != nil || p == 0 {
		t.Errorf("FreePort() = %d, %v", p, err)
	}
}
