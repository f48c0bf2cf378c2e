package config

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesASocket: a socket is refused before it is opened, named
// as what it is (load.go readFile and kindOf).
func TestLoadRefusesASocket(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "sock") // short: socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.yaml")
	ln, err := net.Listen("unix", path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot make a unix socket (CI=true): %v", err)
		}
		t.Skipf("cannot make a unix socket here: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	_, err = Load(path)
	if want := "config: read site " + path + ": a socket, not a regular file; is this the right file?"; err == nil || err.Error() != want {
		t.Fatalf("Load(socket) = %v, want %q", err, want)
	}
	if _, err := LoadProfile(path); err == nil || !strings.HasPrefix(err.Error(), "config: read profile "+path+": a socket") {
		t.Fatalf("LoadProfile(socket) = %v", err)
	}
}

// TestProfilesDirIsAFile: when profiles_dir names a file, each profile's
// problem carries the os error, at the line of the device that names it.
func TestProfilesDirIsAFile(t *testing.T) {
	t.Parallel()
	site := strings.NewReplacer("id: m1,", "id: m1, kind: monitor,", "id: v1,", "id: v1, kind: ventilator,").Replace(minimalSite)
	path := writeSite(t, site+"profiles_dir: site.yaml\n", nil)
	_, err := Load(path)
	expectProblems(t, path, err, []problem{
		{"", 4, `device m1: profile "mon": stat $DIR/site.yaml/mon.yaml: not a directory`},
		{"", 5, `device v1: profile "vent": stat $DIR/site.yaml/vent.yaml: not a directory`},
	})
}

// TestMissingProfileCascade: a device that takes its kind from a profile
// that is missing has no kind, so its unit is also reported as never
// equippable ("the site has no monitor"), though the site has one.
func TestMissingProfileCascade(t *testing.T) {
	t.Parallel()
	path := writeSite(t, strings.Replace(minimalSite, "profile: mon,", "profile: monitor-x,", 1), nil)
	_, err := Load(path)
	expectProblems(t, path, err, []problem{
		{"", 4, `device m1: profile "monitor-x" not found: no file $DIR/profiles/monitor-x.yaml`},
	})
}

// TestProfilesDirRelativeAndAbsolute: a relative profiles_dir is taken
// from the site file's directory, an absolute one as it is.
func TestProfilesDirRelativeAndAbsolute(t *testing.T) {
	t.Parallel()
	path := writeSite(t, minimalSite, nil)
	dir := filepath.Dir(path)
	if err := os.Rename(filepath.Join(dir, "profiles"), filepath.Join(dir, "vendor")); err != nil {
		t.Fatal(err)
	}
	for _, pd := range []string{"vendor", "./vendor/", filepath.Join(dir, "vendor")} {
		writeFile(t, path, minimalSite+"profiles_dir: "+pd+"\n")
		s, err := Load(path)
		if err != nil {
			t.Fatalf("profiles_dir %s: %v", pd, err)
		}
		if want := filepath.Join(dir, "vendor"); s.ProfilesDir != want {
			t.Errorf("profiles_dir %s resolved to %s, want %s", pd, s.ProfilesDir, want)
		}
	}
}
