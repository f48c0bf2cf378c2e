package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGatewayEndToEnd: bed counts follow device states changed through
// icusim's API (Modbus and MQTT devices), through the HTTP API and in
// InfluxDB; a SIGHUP reload adds a unit; bad API requests change nothing;
// after a restart, maintenance flags and usage are kept.
func TestGatewayEndToEnd(t *testing.T) {
	if skipShort() {
		t.Skip("end-to-end test of separate processes (-short; never skipped under CI=true)")
	}
	e := setup(t)
	c := e.waitCapacity("every device seen, counts verified", 60*time.Second, func(c capacity) bool {
		return c.Hospital.Verified && c.Hospital.BedsTotal == 40 && c.Hospital.BedsEquipped > 0
	})
	// Let holds settle (longer than the site's 1 s hold; the gateway exposes
	// no pending-hold count to wait on), then take the baseline.
	time.Sleep(1500 * time.Millisecond)
	c, _ = e.capacity()
	base := c.Hospital.BedsEquipped
	t.Logf("baseline: %d of %d beds equipped", base, c.Hospital.BedsTotal)

	// A Modbus ventilator (gicu) and an MQTT ventilator (ccu) fault.
	for _, dev := range []string{"gicu-01-vent", "ccu-01-vent"} {
		if code, body := call(t, "PUT", e.sim+"/devices/"+dev+"/state", "", `{"state":"fault"}`); code != 200 && code != 204 {
			t.Fatalf("icusim PUT state of %s: %d %s", dev, code, body)
		}
	}
	e.waitCapacity("two beds degraded after two ventilator faults", 20*time.Second, func(c capacity) bool {
		return c.Hospital.BedsEquipped == base-2
	})

	// Bad API requests: 4xx with a reason, nothing changes.
	bad := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no token", "PUT", "/api/v1/devices/gicu-02-vent/maintenance", "", `{"on":true}`, 401},
		{"wrong token", "PUT", "/api/v1/devices/gicu-02-vent/maintenance", "wrong-token-0123456789", `{"on":true}`, 403},
		{"unknown device", "PUT", "/api/v1/devices/no-such/maintenance", apiToken, `{"on":true}`, 404},
		{"bad json", "PUT", "/api/v1/devices/gicu-02-vent/maintenance", apiToken, `{"on":`, 400},
		{"unknown field", "PUT", "/api/v1/devices/gicu-02-vent/maintenance", apiToken, `{"on":true,"x":1}`, 400},
		{"bed that does not exist", "PUT", "/api/v1/devices/gicu-02-vent/assignment", apiToken, `{"at":"no-such-bed"}`, 0},
	}
	before, _ := e.capacity()
	for _, b := range bad {
		code, body := call(t, b.method, e.api+b.path, b.token, b.body)
		if code < 400 || code >= 500 || (b.want != 0 && code != b.want) {
			t.Errorf("%s: status %d, want %d (4xx); body %s", b.name, code, b.want, body)
		}
		var msg map[string]any
		if err := json.Unmarshal([]byte(body), &msg); err != nil || msg["error"] == nil {
			t.Errorf("%s: body is not a JSON error with a reason: %s", b.name, body)
		}
	}
	after, _ := e.capacity()
	if after.Hospital != before.Hospital {
		t.Errorf("bad requests changed the counts: %+v -> %+v", before.Hospital, after.Hospital)
	}

	// Maintenance through the API.
	if code, body := call(t, "PUT", e.api+"/api/v1/devices/gicu-02-vent/maintenance", apiToken, `{"on":true}`); code != 200 {
		t.Fatalf("maintenance on: %d %s", code, body)
	}
	e.waitCapacity("maintenance degrades gicu-02", 10*time.Second, func(c capacity) bool {
		return c.Hospital.BedsEquipped == base-3
	})

	// SIGHUP reload that adds a unit.
	src, err := os.ReadFile(e.sitePath)
	if err != nil {
		t.Fatal(err)
	}
	added := strings.Replace(string(src), "units:\n", "units:\n  - id: nicu\n    class: specialty\n    subtype: NICU\n    beds: [nicu-01, nicu-02]\n", 1)
	if err := os.WriteFile(e.sitePath, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.gateway.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.waitCapacity("reload adds unit nicu", 10*time.Second, func(c capacity) bool {
		for _, u := range c.Units {
			if u.Unit == "nicu" {
				return c.Hospital.BedsTotal == 42
			}
		}
		return false
	})

	// Counts reached InfluxDB.
	deadline := time.Now().Add(15 * time.Second)
	for {
		rows, err := e.influx.Query(`SELECT last(state) FROM bed_state WHERE bed = 'gicu-01'`)
		if err == nil && len(rows) == 1 && rows[0][1] == "degraded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bed_state of gicu-01 in InfluxDB = %v, %v; want degraded", rows, err)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// Restart: the maintenance flag and usage are kept.
	var dev struct {
		State       string             `json:"state"`
		Utilisation map[string]float64 `json:"utilisation_seconds"`
	}
	// Utilisation accrues in the gateway's real time: at least a second
	// in maintenance before the restart, which must keep it.
	time.Sleep(1100 * time.Millisecond)
	e.stopGateway()
	e.startGateway()
	e.waitCapacity("verified after restart", 60*time.Second, func(c capacity) bool { return c.Hospital.Verified })
	if err := e.getJSON(e.api+"/api/v1/devices/gicu-02-vent", &dev); err != nil {
		t.Fatal(err)
	}
	if dev.State != "maintenance" {
		t.Errorf("after restart gicu-02-vent state = %q, want maintenance (flag must survive)", dev.State)
	}
	if dev.Utilisation["maintenance"] < 1 || dev.Utilisation["standby"] < 1 {
		t.Errorf("after restart gicu-02-vent utilisation = %v, want the time from before the restart kept", dev.Utilisation)
	}
	resp, err := http.Get(e.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/metrics: %s", resp.Status)
	}
}
