//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDevicesAndFifosRefused: `icugate check -c /dev/zero` used to read
// forever and a fifo to wait forever for a writer. Both, and a symlink to
// a device, are refused before they are read.
func TestDevicesAndFifosRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "site.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{"/dev/zero", "/dev/zero: a device, not a regular file; is this the right file?"},
		{"/dev/null", "/dev/null: a device, not a regular file"},
		{fifo, fifo + ": a named pipe (fifo), not a regular file; is this the right file?"},
		{link, link + ": a device, not a regular file"},
	}
	for _, c := range cases {
		if _, err := os.Stat(c.path); err != nil {
			t.Logf("skip %s: %v", c.path, err)
			continue
		}
		_, err := loadWithin(t, hangAfter, c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s): %v, want %q", c.path, err, c.want)
		}
		if _, err := LoadProfile(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadProfile(%s): %v, want %q", c.path, err, c.want)
		}
	}
}
