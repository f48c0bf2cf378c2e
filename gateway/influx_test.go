package gateway

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/pipeline"
)

// TestGatewayWritesInfluxDB runs the example site against simulated Modbus
// devices and a real InfluxDB 1.8.3: device_state, bed_state, icu_capacity
// and gateway points arrive, and a fault shows in InfluxDB as a degraded
// bed and a faulted device.
func TestGatewayWritesInfluxDB(t *testing.T) {
	srv := influxtest.Start(t, influxtest.Options{})
	tokenDir := t.TempDir()
	tokenFile := filepath.Join(tokenDir, "token")
	if err := os.WriteFile(tokenFile, []byte(srv.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	site, path := testSite(t, "\ninfluxdb:\n  url: "+srv.URL+"\n  bucket: "+srv.Bucket+"\n  token_file: "+tokenFile+"\n  flush_interval: 200ms\n")
	sim := startSim(t, site)

	g, stop := startGateway(t, site, path, t.TempDir())
	waitFor(t, "counts verified and settled", 20*time.Second, func(s pipeline.Snapshot) bool {
		return s.Capacity.Hospital.Verified && settled(s)
	}, g)
	if err := sim.SetState("gicu-02-vent", "fault"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gicu-02 degraded", 10*time.Second, func(s pipeline.Snapshot) bool {
		for _, b := range s.Beds {
			if b.ID == "gicu-02" {
				return b.State == pipeline.Degraded && b.Pending == nil
			}
		}
		return false
	}, g)
	stop() // flushes the last points into the outbox and delivers them

	query := func(q string) [][]any {
		t.Helper()
		rows, err := srv.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return rows
	}
	// Every device wrote a device_state point (the first heartbeat).
	rows := query(`SELECT count(state) FROM device_state GROUP BY device`)
	if len(rows) != len(site.Devices) {
		t.Errorf("device_state has %d devices, want %d", len(rows), len(site.Devices))
	}
	rows = query(`SELECT last(state) FROM device_state WHERE device = 'gicu-02-vent'`)
	if len(rows) != 1 || rows[0][1] != "fault" {
		t.Errorf("last device_state of gicu-02-vent = %v, want fault", rows)
	}
	rows = query(`SELECT last(state) FROM bed_state WHERE bed = 'gicu-02'`)
	if len(rows) != 1 || rows[0][1] != "degraded" {
		t.Errorf("last bed_state of gicu-02 = %v, want degraded", rows)
	}
	snap := g.Snapshot()
	rows = query(`SELECT last(beds_equipped) FROM icu_capacity WHERE unit = 'all' AND class = 'all'`)
	if len(rows) != 1 || toInt(rows[0][1]) != snap.Capacity.Hospital.BedsEquipped {
		t.Errorf("last icu_capacity beds_equipped = %v, want %d", rows, snap.Capacity.Hospital.BedsEquipped)
	}
	rows = query(`SELECT count(observations) FROM gateway`)
	if len(rows) != 1 || toInt(rows[0][1]) < 1 {
		t.Errorf("gateway measurement = %v, want at least one point", rows)
	}
}

func toInt(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	case int64:
		return int(x)
	}
	return -1
}
