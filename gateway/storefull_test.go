package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/internal/tmpfstest"
	"github.com/icugate/icugate/pipeline"
)

// A maintenance change the state store cannot save (its disk is full)
// changes nothing, answers at once with api.ErrUnavailable (503), and shows
// in Degraded; once space is back the same call works and the reason goes.
func TestMaintenanceOnFullStateStore(t *testing.T) {
	site, path := testSite(t, "")
	data := tmpfstest.Mount(t, 1<<20)
	g, _ := startGateway(t, site, path, data)
	dev := site.Devices[0].ID
	eventually(t, 10*time.Second, "gateway ready", func() (bool, string) {
		err := g.Ready()
		return err == nil, fmt.Sprint(err)
	})
	filler := tmpfstest.Fill(t, data)
	// Each flag carries a long "by", so the store soon needs pages the
	// disk does not have.
	failures := 0
	for i := 0; i < 200 && failures < 3; i++ {
		waitSnapshot(t, g)
		before := deviceState(g.Snapshot(), dev)
		start := time.Now()
		err := g.SetMaintenance(context.Background(), dev, before != pipeline.Maintenance, strings.Repeat("x", 3000))
		if err == nil {
			continue
		}
		failures++
		if !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("SetMaintenance on a full disk: %v, want api.ErrUnavailable", err)
		}
		if d := time.Since(start); d > storeWithin+time.Second {
			t.Fatalf("answered after %v, want within %v", d, storeWithin)
		}
		waitSnapshot(t, g)
		if got := deviceState(g.Snapshot(), dev); got != before {
			t.Fatalf("device state %s after a change that was not saved, want %s unchanged", got, before)
		}
		if r := strings.Join(g.Degraded(), "; "); !strings.Contains(r, "state store") {
			t.Fatalf("Degraded() = %q, want the state store named", r)
		}
	}
	if failures == 0 {
		t.Fatal("no change failed on a full disk; the test did not fill it")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := g.SetMaintenance(context.Background(), dev, true, "eng"); err != nil {
		t.Fatalf("SetMaintenance after space came back: %v", err)
	}
	if r := g.Degraded(); len(r) != 0 {
		t.Fatalf("Degraded() = %q after recovery, want none", r)
	}
}

// waitSnapshot waits for the next published snapshot (they come at least
// every second).
func waitSnapshot(t *testing.T, g *Gateway) {
	t.Helper()
	s0 := g.snap.Load()
	eventually(t, 3*time.Second, "a new snapshot", func() (bool, string) { return g.snap.Load() != s0, "none published" })
}
