package e2e

import (
	"fmt"
	"math/rand/v2"
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
)

// TestKillNineLosesNoState kills `icugate run` with SIGKILL at random
// moments, 20 times, while MQTT monitors keep changing state and InfluxDB
// is sometimes down. A message is acknowledged to the broker only once the
// points derived from it are durable, and unacknowledged messages come
// back after a restart (persistent session), so in the end every state
// change that was published must be in InfluxDB as a device_state point at
// the message's own time: zero acknowledged state changes missing.
func TestKillNineLosesNoState(t *testing.T) {
	if skipShort() {
		t.Skip("kill -9 loop of separate processes (-short; never skipped under CI=true)")
	}
	dir := t.TempDir()
	broker := mosquittotest.Start(t, mosquittotest.Config{})
	influx := influxtest.Start(t, influxtest.Options{})
	bin := build(t, dir)

	const devices = 4
	var b strings.Builder
	profiles, _ := filepath.Abs("../configs/profiles")
	fmt.Fprintf(&b, `hospital: {id: kill-test, name: Kill Test, level: secondary, total_beds: 100, region: test}
profiles_dir: %s
hold: 0s
units:
  - id: icu
    class: general
    requires: [monitor]
    beds: [`, profiles)
	for i := range devices {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "bed-%d", i)
	}
	b.WriteString("]\ndevices:\n")
	for i := range devices {
		fmt.Fprintf(&b, "  - {id: mon-%d, kind: monitor, profile: generic-monitor-mqtt, at: bed-%d, mqtt: {interval: 10s}}\n", i, i)
	}
	fmt.Fprintf(&b, `mqtt: {broker: %s, client_id: icugate-kill-test}
influxdb: {url: %s, bucket: %s, token_file: %s, flush_interval: 100ms}
outbox: {dir: %s}
http: {listen: %s}
`, broker.URL(), influx.URL, influx.Bucket, filepath.Join(dir, "token"), filepath.Join(dir, "outbox"), freeAddr(t))
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(influx.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	sitePath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(sitePath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	site, err := config.Load(sitePath)
	if err != nil {
		t.Fatal(err)
	}

	// The publisher: each device alternates in_use and standby, with
	// millisecond timestamps that grow (15 ms between messages).
	pub := newPublisher(t, site, broker.URL(), "kill-test-publisher")
	publish, last := pub.publish, pub.last

	rng := rand.New(rand.NewPCG(1, 2))
	startGW := func() *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, "icugate"), "run", "-c", sitePath, "-data", filepath.Join(dir, "data"))
		cmd.Stdout, cmd.Stderr = &logBuffer{}, &logBuffer{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// The gateway's persistent session must exist before anything is
	// published, or the broker has nobody to keep messages for: a first
	// run subscribes (and is then killed like the others).
	first := startGW()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if code, _ := callQuiet(site.HTTP.Listen); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("icugate not ready within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitOutput(t, "icugate subscribed", 30*time.Second, func() string {
		return first.Stdout.(*logBuffer).String() + first.Stderr.(*logBuffer).String()
	}, "mqtt connected")
	_ = first.Process.Kill()
	_ = first.Wait()

	const kills = 20
	var killedAt []time.Time
	influxDown := false
	for k := 0; k < kills; k++ {
		gw := startGW()
		end := time.Now().Add(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		for n := 0; time.Now().Before(end); n++ {
			i := rng.IntN(devices)
			state := "in_use"
			if last[site.Devices[i].ID] == "in_use" {
				state = "standby"
			}
			publish(i, state)
			time.Sleep(15 * time.Millisecond) // the publishing pace between kills is the scenario
		}
		killedAt = append(killedAt, time.Now())
		if err := gw.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = gw.Wait()
		// InfluxDB goes down for some rounds and comes back for others.
		switch {
		case !influxDown && k%5 == 1:
			influx.Stop()
			influxDown = true
		case influxDown && k%5 == 3:
			influx.Start()
			influxDown = false
		}
		// Some messages arrive while no gateway runs (distinct devices,
		// so that no device has two messages in one millisecond).
		for _, i := range rng.Perm(devices)[:3] {
			state := "in_use"
			if last[site.Devices[i].ID] == "in_use" {
				state = "standby"
			}
			publish(i, state)
		}
	}
	if influxDown {
		influx.Start()
	}
	// A last, undisturbed run takes what the broker kept and delivers the
	// outbox.
	out := &logBuffer{}
	gw := exec.Command(filepath.Join(bin, "icugate"), "run", "-c", sitePath, "-data", filepath.Join(dir, "data"))
	gw.Stdout, gw.Stderr = out, out
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = gw.Process.Kill()
		_ = gw.Wait()
		if t.Failed() {
			t.Logf("last icugate run:\n%s", tail(out.String(), 4000))
		}
	}()

	missing := func() []change {
		have := map[string]bool{}
		rows, err := influx.Query(`SELECT state, device FROM device_state`)
		if err != nil {
			return pub.published
		}
		for _, r := range rows {
			if len(r) < 3 {
				continue
			}
			ts, _ := r[0].(float64)
			ms := int64(ts/1e6 + 0.5)
			have[fmt.Sprintf("%v %v %d", r[2], r[1], ms)] = true
		}
		var miss []change
		for _, c := range pub.published {
			if !have[fmt.Sprintf("%s %s %d", c.dev, c.state, c.at.UnixMilli())] {
				miss = append(miss, c)
			}
		}
		return miss
	}
	deadline := time.Now().Add(60 * time.Second)
	var miss []change
	for {
		miss = missing()
		if len(miss) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d kills, %d state changes published, %d missing", kills, len(pub.published), len(miss))
	if len(miss) > 0 {
		t.Errorf("%d of %d published state changes never reached InfluxDB, e.g. %+v", len(miss), len(pub.published), miss[0])
		// What InfluxDB has around each missing change, and the kills.
		for _, m := range miss {
			t.Logf("missing: %s %s at %s", m.dev, m.state, m.at.Format("15:04:05.000"))
			q := fmt.Sprintf(`SELECT state, cause FROM device_state WHERE device = '%s' AND time > %d AND time < %d`,
				m.dev, m.at.Add(-300*time.Millisecond).UnixNano(), m.at.Add(300*time.Millisecond).UnixNano())
			rows, _ := influx.Query(q)
			for _, r := range rows {
				ts, _ := r[0].(float64)
				t.Logf("   influx: %s %v (%v)", time.Unix(0, int64(ts+500)).Format("15:04:05.000"), r[1], r[2])
			}
			for _, c := range pub.published {
				if c.dev == m.dev && c.at.Sub(m.at).Abs() < 300*time.Millisecond {
					t.Logf("   published: %s %s", c.at.Format("15:04:05.000"), c.state)
				}
			}
		}
		for _, k := range killedAt {
			t.Logf("killed at %s", k.Format("15:04:05.000"))
		}
	}
}

// callQuiet GETs /readyz of a gateway listening on addr.
func callQuiet(addr string) (int, error) {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
