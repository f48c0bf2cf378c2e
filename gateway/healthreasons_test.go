package gateway

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHealthNamesUnreachableBrokerAndSilentDevices: a broker out of reach
// and devices that never answer show in Degraded (/readyz) once their
// bounds have passed, not before.
func TestHealthNamesUnreachableBrokerAndSilentDevices(t *testing.T) {
	dir := t.TempDir()
	// Port 9 on loopback: nothing listens, every dial is refused.
	site, path := smallSite(t, dir, nil, "mqtt: {broker: \"tcp://127.0.0.1:9\", client_id: icugate-health-test}\n")
	var offset atomic.Int64
	g, err := New(site, Options{SitePath: path, DataDir: dir, Logger: slog.New(slog.DiscardHandler), NoAPI: true,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, 10*time.Second, "ready", func() (bool, string) { return g.Ready() == nil, "" })

	has := func(prefix string) bool {
		for _, r := range g.Degraded() {
			if strings.HasPrefix(r, prefix) {
				return true
			}
		}
		return false
	}
	time.Sleep(500 * time.Millisecond)
	if has("mqtt: ") || has("devices: ") {
		t.Fatalf("degraded before the bounds passed: %q", g.Degraded())
	}
	// Two minutes on: past both bounds.
	offset.Store(int64(2 * time.Minute))
	eventually(t, 10*time.Second, "broker and devices reasons", func() (bool, string) {
		return has("mqtt: the broker tcp://127.0.0.1:9 has been out of reach for") &&
			has("devices: none of the 4 configured devices has answered"), strings.Join(g.Degraded(), "; ")
	})
}
