// Package serverproc holds what the test harnesses that run a real server
// binary (influxtest, mosquittotest, mailpittest, alertmanagertest) have in
// common: finding the binary, skipping or failing a test that lacks it,
// free loopback ports, and a server process that is started, waited for
// until it is ready, and stopped. What a server is configured with and how
// it is asked whether it is ready stay in its harness.
package serverproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binary says where a server's executable may be and what to tell someone
// who lacks it.
type Binary struct {
	// Name is the executable's file name. It is looked up first in the tool
	// cache, $ICUGATE_CACHE/bin (default ~/.cache/icugate/bin), where the
	// scripts build pinned versions that must win over a system's, then
	// in PATH.
	Name string
	// Paths are full paths tried last: where a distribution installs a
	// server outside a user's PATH (/usr/sbin).
	Paths []string
	// NotInstalled is what Require skips or fails the test with when the
	// executable is missing; it says how to install it.
	NotInstalled error
}

// Path returns the executable's path, or "" when it is not installed.
func (b Binary) Path() string {
	candidates := []string{}
	if cache := cacheDir(); cache != "" {
		candidates = append(candidates, filepath.Join(cache, "bin", b.Name))
	}
	if p, err := exec.LookPath(b.Name); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range append(candidates, b.Paths...) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// cacheDir is the tool cache the install scripts fill.
func cacheDir() string {
	if dir := os.Getenv("ICUGATE_CACHE"); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "icugate")
}

// Require returns the executable's path, or ends the test with
// NotInstalled: skipped, or failed when CI=true, because CI must never
// pass by skipping its integration tests.
func (b Binary) Require(t testing.TB) string {
	t.Helper()
	p := b.Path()
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(b.NotInstalled)
		}
		t.Skip(b.NotInstalled)
	}
	return p
}

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago: all n are held open together, so none repeats. Another
// program can still take one before the server binds it, which is why
// the harnesses retry a start that fails.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePort returns one port as FreePorts does.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}
