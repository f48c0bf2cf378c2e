package config

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedSitesUpToDate regenerates configs/example-site.yaml and
// configs/demo-site.yaml into a temporary directory and compares them with
// the committed files, so the generator and its output never drift apart.
func TestGeneratedSitesUpToDate(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("compiles and runs configs/gensites.go (-short; never skipped under CI=true)")
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "../configs/gensites.go", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gensites.go: %v\n%s", err, msg)
	}
	for _, name := range []string{"example-site.yaml", "demo-site.yaml"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join("..", "configs", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("configs/%s is not what configs/gensites.go generates: run go run configs/gensites.go", name)
		}
	}
}
