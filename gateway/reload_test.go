package gateway

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/pipeline"
)

// TestReload adds a unit to a running gateway by editing the site file and
// reloading: the new beds appear, every device keeps its state (no device
// goes offline across the reload), and a broken file is rejected as a
// whole with the running config kept.
func TestReload(t *testing.T) {
	site, path := testSite(t, "")
	sim := startSim(t, site)
	g, _ := startGateway(t, site, path, t.TempDir())
	waitFor(t, "verified", 20*time.Second, func(s pipeline.Snapshot) bool {
		return s.Capacity.Hospital.Verified && settled(s)
	}, g)
	if err := sim.SetState("gicu-03-vent", "fault"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fault seen", 10*time.Second, func(s pipeline.Snapshot) bool {
		return deviceState(s, "gicu-03-vent") == pipeline.Fault
	}, g)
	events := g.hub.Subscribe(t.Context())

	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A broken file: rejected, nothing changes.
	broken := strings.Replace(string(src), "units:\n", "units:\n  - id: nicu\n    class: neonatal\n    beds: [nicu-01]\n", 1)
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	err = g.Reload(context.Background())
	if !errors.Is(err, ErrReloadRejected) || !strings.Contains(err.Error(), "class") {
		t.Fatalf("reload of a broken file: err = %v, want a rejection naming the class", err)
	}
	if n := g.Snapshot().Capacity.Hospital.BedsTotal; n != 40 {
		t.Fatalf("after a rejected reload beds_total = %d, want 40", n)
	}

	// A good file adding a specialty unit with two beds.
	added := strings.Replace(string(src), "units:\n", "units:\n  - id: nicu\n    class: specialty\n    subtype: NICU\n    beds: [nicu-01, nicu-02]\n", 1)
	if err := os.WriteFile(path, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	s := g.Snapshot()
	if s.Capacity.Hospital.BedsTotal != 42 {
		t.Errorf("after reload beds_total = %d, want 42", s.Capacity.Hospital.BedsTotal)
	}
	if deviceState(s, "gicu-03-vent") != pipeline.Fault {
		t.Errorf("gicu-03-vent lost its state across the reload: %v", deviceState(s, "gicu-03-vent"))
	}
	// Polling goes on: for two more seconds no device goes offline.
	deadline := time.After(2500 * time.Millisecond)
	for {
		select {
		case tr := <-events:
			if tr.Type == pipeline.TransitionDevice && tr.To == "offline" {
				t.Errorf("device %s went offline after the reload: %s", tr.ID, tr.Cause)
			}
			continue
		case <-deadline:
		}
		break
	}
	if !g.Snapshot().Capacity.Hospital.Verified {
		t.Error("counts not verified after the reload")
	}
}
