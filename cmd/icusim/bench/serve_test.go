//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

// freeAddrs returns n loopback addresses nothing listens on.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var lns []net.Listener
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return addrs
}

// readSerial reads unit's 16 holding registers as the driver does and
// returns the serial (registers 4-5, uint32 big-endian).
func readSerial(t *testing.T, c net.Conn, unit byte) uint32 {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{0, 7, 0, 0, 0, 6, unit, 3, 0, 0, 0, 16}); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, 9+32)
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatalf("unit %d: %v", unit, err)
	}
	if resp[6] != unit || resp[7] != 3 || resp[8] != 32 {
		t.Fatalf("unit %d: answer header % x; want unit, function 3, 32 bytes", unit, resp[:9])
	}
	return binary.BigEndian.Uint32(resp[9+8:])
}

// TestServeSimServesTheSite runs the simulator child as the bench does
// (this test binary with -serve FILE): it says ready, then every device
// answers at its address and unit with its own serial.
func TestServeSimServesTheSite(t *testing.T) {
	t.Parallel()
	p := params{Devices: 3, PerAddress: 2, Interval: time.Second, Addrs: freeAddrs(t, 2)}
	file := filepath.Join(t.TempDir(), "params.json")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-serve", file)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("simulator said %q, stderr %q; want ready", line, stderr.String())
	}
	for i, d := range buildSite(p).Devices {
		c, err := net.Dial("tcp", d.Modbus.Address)
		if err != nil {
			t.Fatal(err)
		}
		if got := readSerial(t, c, byte(d.Modbus.UnitID)); got != uint32(1000+i) {
			t.Errorf("%s at %s unit %d: serial %d, want %d", d.ID, d.Modbus.Address, d.Modbus.UnitID, got, 1000+i)
		}
		c.Close()
	}
}

// TestServeSimRejectsBadParams: the simulator child ends with status 1
// on a missing or malformed params file, rather than serving nothing.
func TestServeSimRejectsBadParams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{devices"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "missing.json"), bad} {
		if code := run([]string{"-serve", f}, io.Discard); code != 1 {
			t.Errorf("-serve %s: exit %d, want 1", filepath.Base(f), code)
		}
	}
}

// TestCounterLookupFallsBackToTheMap: a dev-N id whose number is past
// the site's devices, or a bare "dev-", is looked up by its id.
func TestCounterLookupFallsBackToTheMap(t *testing.T) {
	t.Parallel()
	site := &config.Site{Devices: []config.Device{{ID: "dev-0007"}, {ID: "dev-"}}}
	c := newCounter(site, time.Second)
	for _, l := range []struct {
		id   string
		want int
		ok   bool
	}{{"dev-0007", 0, true}, {"dev-", 1, true}, {"dev-0001", 1, true}, {"dev-0002", 0, false}} {
		if got, ok := c.lookup(l.id); ok != l.ok || (ok && got != l.want) {
			t.Errorf("lookup(%q) = %d, %v; want %d, %v", l.id, got, ok, l.want, l.ok)
		}
	}
}

// TestRunWithProfileAndNoFloor: -cpuprofile writes a profile of the
// measured time and -floor 0 skips the floor.
func TestRunWithProfileAndNoFloor(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	var out bytes.Buffer
	args := []string{"-devices", "2", "-interval", "100ms", "-warmup", "200ms", "-duration", "500ms", "-floor", "0", "-cpuprofile", prof}
	if code := run(args, &out); code != 0 {
		t.Fatalf("bench exited %d:\n%s", code, out.String())
	}
	if strings.Contains(out.String(), "floor:") {
		t.Errorf("-floor 0 measured the floor:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "devices 2 (4 per address, 1 addresses)") {
		t.Errorf("report:\n%s", out.String())
	}
	// The profile is stopped and closed before run returns.
	if b, err := os.ReadFile(prof); err != nil || len(b) < 3 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("no whole CPU profile written: %d bytes, %v", len(b), err)
	}
}
