package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/internal/tmpfstest"
)

// TestOutboxDiskFull fills the outbox's own disk (a 2 MiB tmpfs) while
// InfluxDB is down and state changes keep coming: MQTT monitors change
// state, and an engineer toggles maintenance through the API. During the
// fault the engine keeps going (the capacity document moves, PUTs answer
// 200) and /readyz says degraded; the gateway is killed with SIGKILL in the
// middle of it and started again. Then the space is freed and InfluxDB
// returns: every published state change, and every maintenance change
// made after the restart, must be in InfluxDB at its own time (issue 12:
// such points were lost silently when tidwall/wal's retry shifted its
// index map).
func TestOutboxDiskFull(t *testing.T) {
	if skipShort() {
		t.Skip("end-to-end test of separate processes (-short; never skipped under CI=true)")
	}
	dir := t.TempDir()
	disk := tmpfstest.Mount(t, 2<<20)
	broker := mosquittotest.Start(t, mosquittotest.Config{})
	influx := influxtest.Start(t, influxtest.Options{})
	bin := build(t, dir)

	profiles, _ := filepath.Abs("../configs/profiles")
	api := freeAddr(t)
	site := fmt.Sprintf(`hospital: {id: disk-test, name: Disk Test, level: secondary, total_beds: 100, region: test}
profiles_dir: %s
hold: 0s
units:
  - {id: icu, class: general, requires: [monitor], beds: [bed-0, bed-1, bed-2, bed-3]}
devices:
  - {id: mon-0, kind: monitor, profile: generic-monitor-mqtt, at: bed-0, mqtt: {interval: 10s}}
  - {id: mon-1, kind: monitor, profile: generic-monitor-mqtt, at: bed-1, mqtt: {interval: 10s}}
  - {id: mon-2, kind: monitor, profile: generic-monitor-mqtt, at: bed-2, mqtt: {interval: 10s}}
  - {id: mon-3, kind: monitor, profile: generic-monitor-mqtt, at: bed-3, mqtt: {interval: 10s}}
mqtt: {broker: %s, client_id: icugate-disk-test}
influxdb: {url: %s, bucket: %s, token_file: %s, flush_interval: 100ms}
outbox: {dir: %s}
http: {listen: %s}
`, profiles, broker.URL(), influx.URL, influx.Bucket, filepath.Join(dir, "token"), filepath.Join(disk, "outbox"), api)
	sitePath := filepath.Join(dir, "site.yaml")
	for name, content := range map[string]string{"token": influx.Token, "site.yaml": site} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(sitePath)
	if err != nil {
		t.Fatal(err)
	}

	pub := newPublisher(t, cfg, broker.URL(), "disk-test-publisher")
	pub.record = func(i int) bool { return i < 3 } // mon-3 only takes maintenance toggles
	publish, flip := pub.publish, pub.flip

	var gw *exec.Cmd
	gwLog := &logBuffer{}
	startGW := func() {
		gw = exec.Command(filepath.Join(bin, "icugate"), "run", "-c", sitePath, "-data", filepath.Join(dir, "data"))
		gw.Stdout, gw.Stderr = gwLog, gwLog
		if err := gw.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			// Ready, or (restarted on the full disk) degraded.
			if code, body := readyz(api); code == 200 || code == 503 && strings.Contains(body, "degraded") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("icugate not serving within 30s\n%s", tail(gwLog.String(), 3000))
			}
		}
	}
	defer func() {
		if gw != nil && gw.Process != nil {
			_ = gw.Process.Kill()
			_ = gw.Wait()
		}
		if t.Failed() {
			t.Logf("icugate output:\n%s", tail(gwLog.String(), 6000))
		}
	}()
	startGW()
	waitOutput(t, "icugate subscribed", 30*time.Second, gwLog.String, "mqtt connected")
	for i := range 4 {
		publish(i, "standby")
	}
	keepFresh := func() { publish(3, "standby") }

	// The fault: InfluxDB down, the outbox's disk full.
	influx.Stop()
	filler := tmpfstest.Fill(t, disk)
	var toggles []change // maintenance changes confirmed with 200 after the restart
	maint := false
	toggle := func(record bool) {
		t.Helper()
		maint = !maint
		code, body := call(t, "PUT", "http://"+api+"/api/v1/devices/mon-3/maintenance", "", fmt.Sprintf(`{"on":%v}`, maint))
		if code != 200 {
			t.Fatalf("maintenance PUT during the fault: %d %s", code, body)
		}
		if record {
			state := "standby"
			if maint {
				state = "maintenance"
			}
			toggles = append(toggles, change{"mon-3", state, time.Now()})
		}
	}
	run := func(d time.Duration, record bool) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			for k := 0; k < 10; k++ {
				flip(k % 3)
				time.Sleep(30 * time.Millisecond) // the publishing pace during the fault is the scenario
			}
			keepFresh()
			toggle(record)
		}
	}
	run(3*time.Second, false)
	// Degraded, and the engine keeps moving.
	asOf := func() string {
		var c struct {
			AsOf string `json:"as_of"`
		}
		if err := (&env{t: t}).getJSON("http://"+api+"/api/v1/capacity", &c); err != nil {
			t.Fatal(err)
		}
		return c.AsOf
	}
	a1 := asOf()
	run(2*time.Second, false)
	if a2 := asOf(); a2 == a1 {
		t.Fatalf("capacity as_of stuck at %s during the fault", a1)
	}
	if code, body := readyz(api); code != 503 || !strings.Contains(body, "degraded") || !strings.Contains(body, "outbox") {
		t.Fatalf("/readyz during the fault: %d %s, want 503 degraded naming the outbox", code, body)
	}
	// kill -9 in the middle of the fault, and start again on the full disk.
	_ = gw.Process.Kill()
	_ = gw.Wait()
	startGW()
	run(4*time.Second, true)

	// The space comes back, then InfluxDB.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	influx.Start()
	missing := func() []change {
		have := map[string]bool{}
		rows, err := influx.Query(`SELECT state, device FROM device_state`)
		if err != nil {
			return append(pub.published, toggles...)
		}
		for _, r := range rows {
			if len(r) < 3 {
				continue
			}
			ts, _ := r[0].(float64)
			have[fmt.Sprintf("%v %v %d", r[2], r[1], int64(ts/1e6+0.5))] = true
		}
		var miss []change
		for _, c := range pub.published {
			if !have[fmt.Sprintf("%s %s %d", c.dev, c.state, c.at.UnixMilli())] {
				miss = append(miss, c)
			}
		}
		// A maintenance change lands at the engine's time of the PUT, a
		// little before the answer: look for it within a second before.
		for _, c := range toggles {
			found := false
			for ms := c.at.UnixMilli(); ms > c.at.Add(-time.Second).UnixMilli() && !found; ms-- {
				found = have[fmt.Sprintf("%s %s %d", c.dev, c.state, ms)]
			}
			if !found {
				miss = append(miss, c)
			}
		}
		return miss
	}
	var miss []change
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if miss = missing(); len(miss) == 0 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("%d MQTT state changes and %d maintenance toggles during the fault; %d missing", len(pub.published), len(toggles), len(miss))
	if len(miss) > 0 {
		t.Fatalf("%d state changes never reached InfluxDB, e.g. %+v", len(miss), miss[0])
	}
	if code, body := readyz(api); code != 200 {
		t.Fatalf("/readyz after recovery: %d %s", code, body)
	}
}

// readyz returns the status and body of GET /readyz.
func readyz(addr string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
