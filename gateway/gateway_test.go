package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/simulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// bbolt and paho keep no goroutines after Close; the HTTP
		// transport's idle connections are closed by the tests.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// freePorts returns n distinct loopback addresses nobody listens on right
// now. All are held open until every one is chosen: closing each at once
// lets the kernel hand the same port out twice.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

// testSite writes a copy of configs/example-site.yaml into a temp dir
// with every Modbus endpoint moved to a free loopback port, a short hold
// and fast polls, and loads it.
func testSite(t *testing.T, extra string) (*config.Site, string) {
	t.Helper()
	src, err := os.ReadFile("../configs/example-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	ports := freePorts(t, 10)
	for p := 15020; p <= 15029; p++ {
		old := fmt.Sprintf("127.0.0.1:%d", p)
		if strings.Contains(text, old) {
			text = strings.ReplaceAll(text, old, ports[p-15020])
		}
	}
	text = strings.Replace(text, "hold: 15s", "hold: 1s", 1)
	text = strings.ReplaceAll(text, "profiles_dir: profiles", "profiles_dir: "+filepath.Join(mustAbs(t, "../configs"), "profiles"))
	dir := t.TempDir()
	text = strings.Replace(text, "dir: ../data/example-outbox", "dir: "+filepath.Join(dir, "outbox"), 1)
	text += strings.ReplaceAll(extra, "@DIR@", dir)
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	site, err := config.Load(path)
	if err != nil {
		t.Fatalf("test site does not load: %v", err)
	}
	return site, path
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// startSim serves the site's Modbus devices on real TCP sockets until the
// test ends.
func startSim(t *testing.T, site *config.Site) *simulator.Simulator {
	t.Helper()
	sim, err := simulator.New(site, simulator.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// startGateway runs a gateway for site until the test ends.
func startGateway(t *testing.T, site *config.Site, path, data string) (*Gateway, func()) {
	t.Helper()
	g, err := New(site, Options{SitePath: path, DataDir: data, Logger: slog.New(slog.DiscardHandler), Listener: listen(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("gateway did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return g, stop
}

// waitFor polls the snapshot until cond holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func(s pipeline.Snapshot) bool, g *Gateway) pipeline.Snapshot {
	t.Helper()
	var s pipeline.Snapshot
	eventually(t, within, what, func() (bool, string) {
		s = g.Snapshot()
		return cond(s), fmt.Sprintf("hospital counts %+v", s.Capacity.Hospital)
	})
	return s
}

// settled is true when no bed has a state change pending its hold.
func settled(s pipeline.Snapshot) bool {
	for _, b := range s.Beds {
		if b.Pending != nil {
			return false
		}
	}
	return true
}

func deviceState(s pipeline.Snapshot, id string) pipeline.DeviceState {
	for _, d := range s.Devices {
		if d.ID == id {
			return d.State
		}
	}
	return pipeline.Offline
}

// TestGatewayFollowsSimulatedDevices runs the example site against real
// Modbus TCP servers: counts become verified, a ventilator fault set
// through the simulator degrades its bed within poll interval + hold, and
// maintenance flags and usage survive a gateway restart.
func TestGatewayFollowsSimulatedDevices(t *testing.T) {
	site, path := testSite(t, "")
	sim := startSim(t, site)

	data := t.TempDir()
	g, stop := startGateway(t, site, path, data)
	s := waitFor(t, "all devices seen and counts verified", 20*time.Second, func(s pipeline.Snapshot) bool {
		return s.Capacity.Hospital.Verified && s.Capacity.Hospital.BedsTotal == 40 && settled(s)
	}, g)
	base := s.Capacity.Hospital.BedsEquipped
	if base == 0 {
		t.Fatalf("no bed equipped with every device answering: %+v", s.Capacity.Hospital)
	}

	// Find an equipped bed's ventilator and fault it in the simulator.
	var vent, bed string
	for _, b := range s.Beds {
		if !b.State.Equipped() {
			continue
		}
		for _, id := range b.Devices {
			for _, d := range s.Devices {
				if d.ID == id && d.Kind == "ventilator" {
					vent, bed = id, b.ID
				}
			}
		}
		if vent != "" {
			break
		}
	}
	if vent == "" {
		t.Fatal("no equipped bed with a ventilator")
	}
	start := time.Now()
	if err := sim.SetState(vent, "fault"); err != nil {
		t.Fatal(err)
	}
	s = waitFor(t, "bed degraded after ventilator fault", 10*time.Second, func(s pipeline.Snapshot) bool {
		return s.Capacity.Hospital.BedsEquipped == base-1
	}, g)
	t.Logf("bed %s degraded %v after the fault (poll interval 1s + hold 1s)", bed, time.Since(start).Round(10*time.Millisecond))
	if deviceState(s, vent) != pipeline.Fault {
		t.Errorf("%s state = %v, want fault", vent, deviceState(s, vent))
	}

	// Maintenance through the gateway, then restart: the flag stays.
	if err := g.SetMaintenance(context.Background(), vent, true, "test-engineer"); err != nil {
		t.Fatal(err)
	}
	if err := g.SetMaintenance(context.Background(), "no-such-device", true, "x"); err == nil {
		t.Error("maintenance of an unknown device accepted")
	}
	if got := deviceState(g.Snapshot(), vent); got != pipeline.Maintenance {
		t.Fatalf("after SetMaintenance %s = %v, want maintenance", vent, got)
	}
	waitFor(t, "usage of the faulted ventilator accumulated", 5*time.Second, func(s pipeline.Snapshot) bool {
		for _, d := range s.Devices {
			if d.ID == vent {
				return d.Utilisation.Fault+d.Utilisation.Maintenance >= 1
			}
		}
		return false
	}, g)
	stop()

	g2, _ := startGateway(t, site, path, data)
	s = waitFor(t, "restarted gateway verified", 20*time.Second, func(s pipeline.Snapshot) bool {
		return s.Capacity.Hospital.Verified
	}, g2)
	if got := deviceState(s, vent); got != pipeline.Maintenance {
		t.Errorf("after restart %s = %v, want maintenance (flag must survive)", vent, got)
	}
	usage, err := g2.store.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u := usage[vent]; u["fault"]+u["maintenance"] <= 0 {
		t.Errorf("usage of %s not kept across restart: %v", vent, u)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
