package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/pipeline"
)

// A change the state store cannot save answers api.ErrUnavailable naming
// what was not saved, changes nothing, and shows in Degraded until a save
// works again.
func TestStoreThenApplyStoreFailure(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		applied := false
		err := h.g.storeThenApply(context.Background(), "maintenance flag",
			func() error { return errors.New("no space left on device") },
			func(*pipeline.Engine) error { applied = true; return nil })
		if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "maintenance flag was not saved") {
			t.Fatalf("storeThenApply with a failing store: %v; want api.ErrUnavailable naming the flag", err)
		}
		if applied {
			t.Error("a change the store did not save was applied")
		}
		if r := strings.Join(h.g.Degraded(), "\n"); !strings.Contains(r, "state store: cannot save changes (no space left on device)") {
			t.Errorf("Degraded = %q, want the state store's reason", r)
		}
		want := errors.New("engine says no")
		err = h.g.storeThenApply(context.Background(), "assignment", func() error { return nil }, func(*pipeline.Engine) error { return want })
		if !errors.Is(err, want) {
			t.Errorf("the engine's error: %v, want it returned as is", err)
		}
		if r := h.g.Degraded(); len(r) != 0 {
			t.Errorf("Degraded after a save worked = %q, want none", r)
		}
	})
}

// A store slower than storeWithin answers 503 at storeWithin; the change
// applies when (and only if) the store confirms it, so engine and store
// never disagree.
func TestStoreThenApplySlowStore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		release := make(chan struct{})
		applied := make(chan struct{})
		start := time.Now()
		err := h.g.storeThenApply(context.Background(), "maintenance flag",
			func() error { <-release; return nil },
			func(*pipeline.Engine) error { close(applied); return nil })
		if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "did not confirm") {
			t.Fatalf("a slow store: %v, want api.ErrUnavailable saying it did not confirm", err)
		}
		if d := time.Since(start); d != storeWithin {
			t.Errorf("answered after %v, want %v", d, storeWithin)
		}
		select {
		case <-applied:
			t.Fatal("applied before the store confirmed")
		default:
		}
		close(release)
		<-applied

		// A caller that gives up first gets its context's error.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		block := make(chan struct{})
		defer close(block)
		err = h.g.storeThenApply(ctx, "assignment", func() error { <-block; return errors.New("late") }, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a caller's deadline: %v, want context.DeadlineExceeded", err)
		}
	})
}

// Through the public calls: with the state store gone, maintenance and
// moves answer api.ErrUnavailable and the served state stays; unknown
// devices are refused before the store is touched.
func TestAdminCallsOnAClosedStore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		allStandby(t, h, site)
		h.sync(t)
		if err := h.g.SetMaintenance(context.Background(), "ghost", true, "eng"); !errors.Is(err, pipeline.ErrUnknown) {
			t.Errorf("maintenance of an unknown device: %v, want pipeline.ErrUnknown", err)
		}
		h.g.store.Close()
		if err := h.g.SetMaintenance(context.Background(), "vent-1", true, "eng"); !errors.Is(err, api.ErrUnavailable) {
			t.Errorf("maintenance with the store closed: %v, want api.ErrUnavailable", err)
		}
		if err := h.g.Move(context.Background(), "vent-1", "central-store", "eng"); !errors.Is(err, api.ErrUnavailable) {
			t.Errorf("a move with the store closed: %v, want api.ErrUnavailable", err)
		}
		s := h.sync(t)
		if d := device(t, s, "vent-1"); d.State != pipeline.Standby || d.At != "icu-01" {
			t.Errorf("vent-1 = %v at %s after changes that were not saved, want standby at icu-01", d.State, d.At)
		}
	})
}

// The backend hands the API what the gateway holds: the snapshot, the
// config, readiness, reasons, maintenance, moves, reloads, events, usage
// (earlier runs plus this one) and the audit trail.
func TestBackendMapsTheGateway(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		h.g.details.setBaseUsage(map[string]map[string]float64{"mon-1": {"standby": 3600, "fault": 60}})
		b := h.g.Backend()
		ctx := context.Background()
		events := b.Subscribe(t.Context())
		allStandby(t, h, site)
		h.sync(t)
		for range 10 {
			time.Sleep(time.Second)
			allStandby(t, h, site)
		}
		s := h.sync(t)
		if b.Site() != site || len(b.Snapshot().Devices) != len(s.Devices) {
			t.Error("the backend serves another config or snapshot")
		}
		if err := b.Ready(); err == nil {
			t.Error("the backend is ready while the gateway is not running")
		}
		if r := b.Degraded(); len(r) != 0 {
			t.Errorf("Degraded = %q", r)
		}
		if tr := <-events; tr.Type != pipeline.TransitionDevice {
			t.Errorf("first event %+v, want a device transition", tr)
		}
		d, ok := b.Device("mon-1")
		if !ok {
			t.Fatal("no mon-1")
		}
		if d.Utilisation.Standby < 3600+10 || d.Utilisation.Fault != 60 {
			t.Errorf("mon-1 utilisation %+v; want standby over 3610 s (earlier runs plus this one) and fault 60 s", d.Utilisation)
		}
		if len(d.Usage) != usageDays || d.Usage[len(d.Usage)-1].Standby <= 0 {
			t.Errorf("daily usage %+v, want %d days with today's standby", d.Usage, usageDays)
		}
		if err := b.SetMaintenance(ctx, "vent-1", api.MaintenanceRequest{On: true}, "eng"); err != nil {
			t.Fatal(err)
		}
		if err := b.Move(ctx, "mon-2", "central-store", "eng"); err != nil {
			t.Fatal(err)
		}
		if err := b.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		s = h.g.Snapshot()
		if device(t, s, "vent-1").State != pipeline.Maintenance || device(t, s, "mon-2").At != "central-store" {
			t.Error("maintenance or move through the backend did not apply")
		}
		b.Audit(api.AuditEntry{Time: time.Now(), Who: "eng", Action: "maintenance", Device: "vent-1", Status: 200, Result: "ok"})
		trail, err := h.g.store.AuditTrail(1)
		if err != nil || len(trail) != 1 || trail[0].Who != "eng" || trail[0].Status != 200 {
			t.Errorf("audit trail %+v, %v; want the entry with its status", trail, err)
		}
	})
}
