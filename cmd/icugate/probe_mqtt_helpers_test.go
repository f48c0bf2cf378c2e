package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// probeMonitorProfile is an MQTT monitor profile written for these tests:
// a serial, a time_path, a range, rules over three values and a clinical
// value the site does not collect.
const probeMonitorProfile = `name: test-monitor-mqtt
kind: monitor
topic: wards/{id}/status
time_path: ts
values:
  - {name: serial_number, path: device.serial, type: string}
  - {name: service_mode, path: device.service_mode, type: bool}
  - {name: technical_alarms, path: alarms.technical, type: uint16, range: [0, 100]}
  - {name: patient_connected, path: patient.connected, type: bool}
  - {name: battery_pct, path: battery, unit: "%", range: [0, 100]}
  - {name: heart_rate, path: vitals.hr, unit: /min, range: [0, 350], clinical: true}
serial: serial_number
state:
  fault: technical_alarms > 0
  maintenance: service_mode
  in_use: patient_connected
`

// probeSiteYAML has an MQTT monitor (heartbeat 1 s, so a 5 s freshness
// window and a 10 s default wait) and an MQTT ventilator on the broker
// @BROKER@ with @AUTH@ added to the mqtt block, and a Modbus monitor.
const probeSiteYAML = `hospital: {id: h-probe, name: Probe Hospital, level: tertiary, total_beds: 10, region: r1}
profiles_dir: profiles
units:
  - {id: icu, class: general, beds: [icu-01, icu-02]}
mqtt:
  broker: "@BROKER@"
@AUTH@devices:
  - {id: mon-1, kind: monitor, profile: test-monitor-mqtt, at: icu-01, serial: M7-00123, mqtt: {interval: 1s}}
  - {id: vent-1, kind: ventilator, profile: generic-ventilator-mqtt, at: icu-01, mqtt: {topic: icu/vent-1/state}}
  - {id: mon-2, kind: monitor, profile: generic-monitor-modbus, at: icu-02, modbus: {address: "127.0.0.1:9"}}
outbox: {dir: outbox}
`

// writeProbeSite writes the site and its profiles into a new directory and
// returns the site file's path. user, when not empty, goes into
// username_file and password_file (mode 600).
func writeProbeSite(t *testing.T, broker, user, pass string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("profiles/test-monitor-mqtt.yaml", probeMonitorProfile)
	for _, name := range []string{"generic-ventilator-mqtt", "generic-monitor-modbus"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "configs", "profiles", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		write("profiles/"+name+".yaml", string(b))
	}
	auth := ""
	if user != "" {
		write("mqtt-user", user+"\n")
		write("mqtt-pass", pass+"\n")
		auth = "  username_file: mqtt-user\n  password_file: mqtt-pass\n"
	}
	write("site.yaml", strings.NewReplacer("@BROKER@", broker, "@AUTH@", auth).Replace(probeSiteYAML))
	return filepath.Join(dir, "site.yaml")
}

// monitorPayload is a status of mon-1 stamped at ts; fields overrides the
// JSON of single fields by their key in the top object or "device",
// "alarms", "patient".
func monitorPayload(ts time.Time, fields map[string]string) []byte {
	f := map[string]string{
		"ts": fmt.Sprintf("%q", ts.UTC().Format(time.RFC3339Nano)), "serial": `"M7-00123"`, "service_mode": "false",
		"technical": "0", "connected": "true", "battery": "87", "hr": "72", "extra": "",
	}
	for k, v := range fields {
		f[k] = v
	}
	return fmt.Appendf(nil, `{"ts":%s,"device":{"serial":%s,"service_mode":%s},"alarms":{"technical":%s},"patient":{"connected":%s},"battery":%s,"vitals":{"hr":%s}%s}`,
		f["ts"], f["serial"], f["service_mode"], f["technical"], f["connected"], f["battery"], f["hr"], f["extra"])
}

// startDevice is a client publishing the way a device does: every 50 ms, each
// message built (and stamped) when it is sent, until the test ends.
func startDevice(t *testing.T, broker, user, pass, topic string, payload func() []byte) {
	t.Helper()
	c := connectClient(t, broker, "device-"+strings.ReplaceAll(topic, "/", "-"), user, pass, true)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				c.Publish(topic, 1, false, payload()).WaitTimeout(time.Second)
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { stop(); wg.Wait() })
}

func connectClient(t *testing.T, broker, id, user, pass string, clean bool) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetProtocolVersion(4).SetUsername(user).SetPassword(pass)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// runProbeArgs runs probe with args and returns its exit status and output.
func runProbeArgs(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := probe(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func assertContains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}
