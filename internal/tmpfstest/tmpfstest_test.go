package tmpfstest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mounted reports whether dir is a mount point of a tmpfs.
func mounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == dir && f[2] == "tmpfs" {
			return true
		}
	}
	return false
}

// TestMountFillFreeUnmount: the mount is a tmpfs of the size asked; Fill
// makes the next write fail with ENOSPC from the kernel; removing the
// filler gives the space back; the mount is gone after the test.
func TestMountFillFreeUnmount(t *testing.T) {
	var dir string
	t.Run("use", func(t *testing.T) {
		dir = Mount(t, 1<<20)
		if !mounted(t, dir) {
			t.Fatalf("%s is not a tmpfs mount", dir)
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		if size := int64(st.Blocks) * st.Bsize; size != 1<<20 {
			t.Errorf("filesystem of %d bytes, want 1 MiB", size)
		}
		filler := Fill(t, dir)
		err := os.WriteFile(filepath.Join(dir, "more"), []byte("x"), 0o600)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("write to a full tmpfs: %v; want ENOSPC", err)
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "more"), []byte("x"), 0o600); err != nil {
			t.Errorf("write after removing the filler: %v", err)
		}
	})
	if dir != "" && mounted(t, dir) {
		t.Errorf("%s still mounted after its test ended", dir)
	}
}
