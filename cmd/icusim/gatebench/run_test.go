//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/mosquittotest"
)

// benchSite writes a Modbus site of n devices, perAddress to an address,
// on free ports, polled every 200 ms, and returns its path.
func benchSite(t *testing.T, dir string, n, perAddress int) string {
	t.Helper()
	addrs, err := reservePorts((n+perAddress-1)/perAddress + 1)
	if err != nil {
		t.Fatal(err)
	}
	path, err := writeSite(dir, siteSpec{Devices: n, PerAddress: perAddress, Addrs: addrs[1:], Interval: 200 * time.Millisecond, HTTPListen: addrs[0]}, repo)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFloorAgainstSimulatorWindow is a small real run of the harness'
// Modbus parts: the simulator child serves 4 devices (2 per address), the
// goburrow floor child polls them, and a one-second window measures the
// floor's CPU and the reads the simulator answered.
func TestFloorAgainstSimulatorWindow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	site := benchSite(t, dir, 4, 2)
	e := &env{o: options{warmup: 0, duration: time.Second}, cs: &children{}}
	defer e.cs.stopAll()
	ctx := context.Background()
	sim, err := e.startSims(ctx, dir, site, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.close()
	if len(sim.shards) != 2 {
		t.Fatalf("%d shards, want 2", len(sim.shards))
	}
	fl, err := e.cs.startLineChild(ctx, "floor", filepath.Join(dir, "floor.log"), time.Minute, "-floor", site)
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.measure(ctx, fl.child, sim, "")
	if err != nil {
		t.Fatal(err)
	}
	m := measured("goburrow floor", w, w.sim.Reads)
	// 4 devices every 200 ms for about a second: about 20 reads.
	if m.Work < 8 || m.Devices != 4 || m.DevicesRead != 4 || m.MinPerDevice < 2 {
		t.Errorf("window: %d reads of %d/%d devices, at least %d each; want every device read every 200 ms",
			m.Work, m.DevicesRead, m.Devices, m.MinPerDevice)
	}
	if m.Seconds < 1 || m.RSSMB <= 0 || !m.lateKnown {
		t.Errorf("window figures %+v", m)
	}
	if !fl.finish(10 * time.Second) {
		t.Fatal("the floor did not stop when its stdin closed")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "floor.log")); !strings.Contains(string(b), "floor: ") || strings.Contains(string(b), " 0 polls") {
		t.Errorf("floor log %q: want its poll count", b)
	}
}

// TestMeasureNoticesAnEndedProcess: a process that ends during the
// window spoils the window.
func TestMeasureNoticesAnEndedProcess(t *testing.T) {
	t.Parallel()
	e := &env{o: options{duration: 300 * time.Millisecond}, cs: &children{}}
	defer e.cs.stopAll()
	c, err := e.cs.start("brief", "", exec.Command("sleep", "0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.measure(context.Background(), c, nil, ""); err == nil || !strings.Contains(err.Error(), "brief ended during the window") {
		t.Errorf("measure of an ended process: %v", err)
	}
}

// TestPublisherBulk publishes a backlog through a real Mosquitto with the
// publisher child, as the backlog run does, and checks every message
// arrives as the MQTT device's payload on its topic.
func TestPublisherBulk(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	var got atomic.Int64
	var bad atomic.Value
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("gatebench-sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(50)
	tok := sub.Subscribe("devices/+/status", 1, func(_ paho.Client, m paho.Message) {
		if !strings.HasPrefix(m.Topic(), "devices/mon-0000") || !bytes.Contains(m.Payload(), []byte(`"serial":"SN-`)) {
			bad.Store(m.Topic() + " " + string(m.Payload()))
		}
		got.Add(1)
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	listen, err := reservePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	site, err := writeSite(t.TempDir(), siteSpec{Devices: 3, Interval: time.Second, MQTT: b.URL(), HTTPListen: listen[0]}, repo)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(self, "-publish", site, "-bulk", "30").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "published 30" {
		t.Fatalf("publisher: %v: %s", err, out)
	}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for got.Load() < 30 {
		select {
		case <-deadline:
			t.Fatalf("%d of 30 messages arrived", got.Load())
		case <-tick.C:
		}
	}
	if v := bad.Load(); v != nil {
		t.Errorf("unexpected message %v", v)
	}
}

// TestPublisherPaces: the paced publisher publishes every device once
// per interval, answers "stats", and stops when its stdin closes.
func TestPublisherPaces(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	dir := t.TempDir()
	listen, err := reservePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	site, err := writeSite(dir, siteSpec{Devices: 5, Interval: 100 * time.Millisecond, MQTT: b.URL(), HTTPListen: listen[0]}, repo)
	if err != nil {
		t.Fatal(err)
	}
	cs := &children{}
	defer cs.stopAll()
	ctx := context.Background()
	pub, err := cs.startLineChild(ctx, "publisher", filepath.Join(dir, "pub.log"), time.Minute, "-publish", site)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		line, err := pub.ask(ctx, "stats", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var st pubReport
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			t.Fatalf("stats %q: %v", line, err)
		}
		if st.Sent >= 10 && st.Acked >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publisher stats %s after 10s: want 2 rounds of 5 devices acknowledged", line)
		}
	}
	if !pub.finish(10*time.Second) || pub.err != nil {
		t.Errorf("publisher did not end by itself when its stdin closed: %v", pub.err)
	}
}

func TestPublisherRefusesSitesWithoutMQTT(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := newPublisher(benchSite(t, dir, 1, 1)); err == nil || !strings.Contains(err.Error(), "no mqtt block") {
		t.Errorf("modbus site: %v", err)
	}
	if _, err := newPublisher(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing site accepted")
	}
}

// TestGatewayWarmupCoversTheHold: the warm-up is at least the site's
// hold and 5 s, and the run notes it.
func TestGatewayWarmupCoversTheHold(t *testing.T) {
	t.Parallel()
	site := benchSite(t, t.TempDir(), 1, 1) // hold: 15s
	for _, c := range []struct {
		warmup, want time.Duration
		noted        bool
	}{{5 * time.Second, 20 * time.Second, true}, {time.Minute, time.Minute, false}} {
		e := &env{o: options{warmup: c.warmup}}
		r := &runResult{}
		if got := e.gatewayWarmup(r, site); got != c.want || r.WarmupS != c.want.Seconds() || (len(r.Notes) > 0) != c.noted {
			t.Errorf("-warmup %v: %v (WarmupS %v, notes %v), want %v", c.warmup, got, r.WarmupS, r.Notes, c.want)
		}
	}
	e := &env{o: options{warmup: 7 * time.Second}}
	if got := e.gatewayWarmup(&runResult{}, "/nonexistent/site.yaml"); got != 7*time.Second {
		t.Errorf("unreadable site: %v, want -warmup", got)
	}
}

func TestNewEnvNeedsTheBinaries(t *testing.T) {
	t.Parallel()
	_, err := newEnv(context.Background(), options{bin: t.TempDir(), workload: "modbus"})
	if err == nil || !strings.Contains(err.Error(), "icugate not found") || !strings.Contains(err.Error(), "go build") {
		t.Errorf("newEnv without binaries: %v; want how to build them", err)
	}
}

// TestGitCommit reads the repository's commit; outside a repository it
// says unknown.
func TestGitCommit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git not installed (CI=true)")
		}
		t.Skip("git not installed")
	}
	if c, _ := gitCommit(t.TempDir()); c != "unknown" {
		t.Errorf("commit outside a repository: %q", c)
	}
	if c, diff := gitCommit(repo); c == "unknown" || len(c) < 7 || (diff != "" && len(diff) != 8) {
		t.Errorf("commit of the repository: %q diff %q", c, diff)
	}
}

func TestDemoSiteNeedsItsAnchors(t *testing.T) {
	t.Parallel()
	fake := t.TempDir()
	if err := os.MkdirAll(filepath.Join(fake, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fake, "configs", "demo-site.yaml"), []byte("profiles_dir: profiles\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := demoSite(fake, siteSpec{MQTT: "tcp://x:1", HTTPListen: "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "update gatebench's demoSite") {
		t.Errorf("demo site without its broker line: %v", err)
	}
	if _, err := demoSite(t.TempDir(), siteSpec{}); err == nil {
		t.Error("missing demo site accepted")
	}
	// The demo site generated from the repository is one the gateway
	// loads with the devices of the demo.
	abs, _ := filepath.Abs(repo)
	text, err := demoSite(abs, siteSpec{MQTT: "tcp://127.0.0.1:2", HTTPListen: "127.0.0.1:3"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "site.yaml")
	_ = os.WriteFile(path, []byte(text), 0o644)
	site, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	eps := modbusEndpoints(site)
	if len(eps) < 20 || eps[0] != "127.0.0.1:15100" {
		t.Errorf("demo Modbus endpoints %v; want the demo's fixed ports, each once", eps)
	}
	seen := map[string]bool{}
	for _, e := range eps {
		if seen[e] {
			t.Errorf("endpoint %s listed twice", e)
		}
		seen[e] = true
	}
}
