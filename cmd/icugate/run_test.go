package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icugate/icugate/store"
)

// TestRunRefusesToStart covers every way run gives up before starting
// anything: the exit status and the message that tells the operator what
// to do. run writes to os.Stderr, so these are not parallel.
func TestRunRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	good := writeTinySite(t, dir, "127.0.0.1:9", freePort(t), "4242")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown flag", []string{"-nosuch"}, 2, []string{"flag provided but not defined: -nosuch"}},
		{"config with problems", []string{"-c", "../../config/testdata/many-mistakes.yaml"}, 1, []string{
			"many-mistakes.yaml:17: device m1: unit_id 300 outside 0..247",
			"has problems; nothing started (check it with: icugate check -c ../../config/testdata/many-mistakes.yaml)"}},
		{"config missing", []string{"-c", filepath.Join(dir, "absent.yaml")}, 1, []string{"absent.yaml", "nothing started"}},
		{"bad log level", []string{"-c", good, "-log-level", "loud"}, 2, []string{`log level "loud": want debug, info, warn or error`}},
		{"bad log format", []string{"-c", good, "-log-format", "xml"}, 2, []string{`log format "xml": want text or json`}},
		{"cpuprofile unwritable", []string{"-c", good, "-cpuprofile", filepath.Join(dir, "no", "cpu.out")}, 2, []string{"-cpuprofile:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var code int
			msg := captureStderr(t, func(string) { code = runGateway(tt.args) })
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestRunLifecycle runs the gateway on a tiny simulated site with -data in
// a temp dir and waits until its /healthz answers (by then run has
// subscribed to signals) and it has connected to the device. Then, in
// order: a SIGHUP with a broken site file is rejected and the gateway keeps
// serving; a second run on the same -data exits 1 naming the lock; SIGTERM
// stops the first with exit 0, the state store in -data released and the
// heap profile written. It is not parallel: it swaps os.Stderr and signals
// the whole process.
func TestRunLifecycle(t *testing.T) {
	dir := t.TempDir()
	httpAddr := freePort(t)
	modbusAddr := freePort(t)
	site := writeTinySite(t, dir, modbusAddr, httpAddr, "4242")
	sim := startSimulator(t, site)
	data := filepath.Join(dir, "state")
	memProf := filepath.Join(dir, "heap.out")

	var code int
	var second int
	var secondLog string
	msg := captureStderr(t, func(logPath string) {
		done := make(chan int, 1)
		go func() {
			done <- runGateway([]string{"-c", site, "-data", data, "-log-level", "info", "-memprofile", memProf})
		}()
		healthy := func() bool { return health([]string{"-url", "http://" + httpAddr + "/healthz"}) == 0 }
		deadline := time.Now().Add(20 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !healthy() {
			select {
			case code = <-done:
				t.Fatalf("run exited %d before it was healthy", code)
			case <-tick.C:
			}
			if time.Now().After(deadline) {
				t.Fatal("gateway not healthy within 20s")
			}
		}
		// A real run polls the device, not only serves HTTP.
		eventually(t, 10*time.Second, "gateway connects to the simulated device", func() bool { return sim.Clients(modbusAddr) > 0 })

		if err := os.WriteFile(site, []byte("units: [not: a: site"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "SIGHUP with a broken site is rejected", func() bool {
			b, _ := os.ReadFile(logPath)
			return strings.Contains(string(b), "SIGHUP reload failed; running config kept")
		})
		if !healthy() {
			t.Fatal("gateway unhealthy after a rejected reload")
		}

		// The second instance reads the site before it finds the lock.
		writeTinySite(t, dir, modbusAddr, freePort(t), "4242")
		secondLog = captureStderr(t, func(string) { second = runGateway([]string{"-c", site, "-data", data}) })

		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case code = <-done:
		case <-time.After(stopTimeout + 5*time.Second):
			t.Fatal("run did not return after SIGTERM")
		}
	})
	if second != 1 || !strings.Contains(secondLog, "is another icugate running with the same data directory?") {
		t.Errorf("second run on the same -data: exit %d, want 1 naming the lock; stderr:\n%s", second, secondLog)
	}
	if code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, msg)
	}
	for _, w := range []string{"signal received; stopping", "icugate stopped"} {
		if !strings.Contains(msg, w) {
			t.Errorf("log lacks %q:\n%s", w, msg)
		}
	}
	// Open waits at most 2s for the lock: success means run released it.
	st, err := store.Open(filepath.Join(data, "state.db"))
	if err != nil {
		t.Fatalf("state store in -data after stop: %v", err)
	}
	st.Close()
	if fi, err := os.Stat(memProf); err != nil || fi.Size() == 0 {
		t.Errorf("heap profile %s: %v (want written at stop)", memProf, err)
	}
}
