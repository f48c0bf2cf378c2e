package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write keeps the previous file as .bak, keeps its mode, and leaves no
// temporary file behind.
func TestWriteKeepsABackup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "devices.yaml")
	if err := os.WriteFile(path, []byte("devices: []\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	backup, err := writeDevicesFile(path, []byte("devices:\n  - {id: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if backup != path+".bak" {
		t.Errorf("backup %q", backup)
	}
	if b, _ := os.ReadFile(backup); string(b) != "devices: []\n" {
		t.Errorf("backup holds %q", b)
	}
	if b, _ := os.ReadFile(path); string(b) != "devices:\n  - {id: a}\n" {
		t.Errorf("file holds %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the previous file's 0640", fi.Mode().Perm())
	}
	expectOnly(t, dir, "devices.yaml", "devices.yaml.bak")
}

// When the write fails (here: the backup cannot be made, as a directory
// is in its place), the previous file is untouched and no temporary file
// is left; this holds whoever runs it, root included.
func TestFailedWriteKeepsThePreviousFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "devices.yaml")
	mustWrite(t, path, "devices: []\n")
	if err := os.MkdirAll(filepath.Join(path+".bak", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := writeDevicesFile(path, []byte("devices:\n  - {id: a}\n"))
	if err == nil || !strings.Contains(err.Error(), "keep the previous file as "+path+".bak") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "devices: []\n" {
		t.Errorf("the previous file changed: %q", b)
	}
	expectOnly(t, dir, "devices.yaml", "devices.yaml.bak")

	// A target that is a directory is refused before anything is written.
	if _, err := writeDevicesFile(dir, []byte("x")); err == nil {
		t.Error("wrote over a directory")
	}
}

func expectOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}
