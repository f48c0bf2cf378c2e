package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/mosquittotest"
)

// TestProbeMQTTLiveMessage probes an MQTT monitor on a real Mosquitto
// while it publishes: the decoded values, serial, state and cause, the
// device timestamp's skew, and the gateway's verdict; exit 0 only when
// the gateway would take the message.
func TestProbeMQTTLiveMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		skew   time.Duration // device timestamp = publish time - skew
		fields map[string]string
		code   int
		want   []string
		match  []string // regular expressions stdout must match
	}{
		{"in use, 1.5 s behind", 1500 * time.Millisecond, nil, 0, []string{
			`serial: "M7-00123" (matches the site config)`,
			"gateway: would take this message",
			"state: in_use (in_use rule true: patient_connected = true (patient.connected))",
		}, []string{`device timestamp \S+Z, [12]\.\d s behind the gateway clock\n`,
			`\ntechnical_alarms +alarms\.technical +uint16 +0 +0 +- +ok \[0,100\]\n` +
				`patient_connected +patient\.connected +bool +true +true +- +-\n` +
				`battery_pct +battery +float64 +87 +87 +% +ok \[0,100\]\n` +
				`heart_rate +vitals\.hr +float64 +- +\(clinical: not collected by this site\) +/min +-\n`}},
		{"fault names its values", 0, map[string]string{"technical": "2"}, 0, []string{
			"state: fault (fault rule true: technical_alarms = 2 (alarms.technical))",
		}, nil},
		{"standby says why", 0, map[string]string{"connected": "false"}, 0, []string{
			"state: standby (in_use rule false: patient_connected = false (patient.connected))",
		}, nil},
		{"serial of another device", 0, map[string]string{"serial": `"M7-99999"`}, 0, []string{
			`serial: "M7-99999" MISMATCH: the site config expects "M7-00123"`,
			`state: fault (not trusted: serial "M7-99999", want "M7-00123"); the rules alone give in_use`,
		}, nil},
		{"clock ahead", -30 * time.Second, nil, 0, []string{
			"WARNING: the device clock is", "ahead of the gateway clock: the gateway uses its own receipt time",
		}, []string{`device timestamp \S+Z, (29|30)\.\d s ahead of the gateway clock\n`}},
		{"clock far behind: stale", 10 * time.Minute, nil, 1, []string{
			"beyond the device's freshness window (5s): the gateway drops such a message as stale",
			"gateway: would DROP this message: stale at time_path ts",
		}, []string{`device timestamp \S+Z, 10m0s behind the gateway clock\n`}},
		{"large payload is shown truncated", 0, map[string]string{"extra": `,"pad":"` + strings.Repeat("x", 6000) + `"`}, 0, []string{
			"… (truncated: first 4096 of", "gateway: would take this message",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := mosquittotest.Start(t, mosquittotest.Config{})
			site := writeProbeSite(t, b.URL(), "", "")
			startDevice(t, b.URL(), "", "", "wards/mon-1/status", func() []byte {
				return monitorPayload(time.Now().Add(-tt.skew), tt.fields)
			})
			code, out, errOut := runProbeArgs("-c", site, "-device", "mon-1", "-wait", "20s")
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			assertContains(t, "stdout", out, append([]string{
				"device mon-1  mqtt " + b.URL() + "  topic wards/mon-1/status  profile test-monitor-mqtt",
				"client id icugate-probe-", "waiting up to 20s for the next message",
				"LIVE message:", "topic wards/mon-1/status  arrived ", `"device":{"serial":`,
			}, tt.want...)...)
			if strings.Contains(out, "RETAINED") {
				t.Errorf("a retained message shown where none was published:\n%s", out)
			}
			for _, re := range tt.match {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout does not match %s:\n%s", re, out)
				}
			}
			if tt.code != 0 {
				assertContains(t, "stderr", errOut, "device mon-1: the gateway would drop this message")
			}
		})
	}
}

// TestProbeMQTTUndecodable: a message the gateway cannot decode is shown
// raw, every bad value with its error, and the refusal names the field;
// exit 1.
func TestProbeMQTTUndecodable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload func() []byte
		want    []string
		match   []string // regular expressions stdout must match
	}{
		{"wrong types", func() []byte {
			return monitorPayload(time.Now(), map[string]string{"technical": `"none"`, "battery": "150"})
		}, []string{
			`"alarms":{"technical":"none"}`,
			`gateway: would DROP this message: wrong_type at technical_alarms (alarms.technical): want a number, got string "none"` + "\n",
			"state: none: the message does not decode",
		}, []string{
			`\ntechnical_alarms +alarms\.technical +uint16 +"none" +ERROR wrong_type: want a number, got string "none" +- +-\n`,
			`\nbattery_pct +battery +float64 +150 +ERROR out_of_range: 150 outside plausible range \[0, 100\] +% +OUTSIDE \[0,100\]\n`,
		}},
		{"not JSON", func() []byte { return []byte("ALARM;HR=72;SPO2=98") }, []string{
			"payload:\n  ALARM;HR=72;SPO2=98\n", "gateway: would DROP this message: not_json: invalid JSON",
		}, nil},
		{"binary", func() []byte { return []byte{0x00, 0x01, 0xff} }, []string{
			`(not text; shown quoted) "\x00\x01\xff"`, "invalid_utf8",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := mosquittotest.Start(t, mosquittotest.Config{})
			site := writeProbeSite(t, b.URL(), "", "")
			startDevice(t, b.URL(), "", "", "wards/mon-1/status", tt.payload)
			code, out, errOut := runProbeArgs("-c", site, "-device", "mon-1")
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			assertContains(t, "stdout", out, append([]string{"LIVE message:"}, tt.want...)...)
			for _, re := range tt.match {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout does not match %s:\n%s", re, out)
				}
			}
			assertContains(t, "stderr", errOut, "icugate probe: device mon-1: the gateway would drop this message")
		})
	}
}

// TestProbeMQTTRetained: the broker's retained message is shown first and
// marked as such, and the probe goes on to a live message; with only the
// retained one, the wait ends in exit 1 and says so.
func TestProbeMQTTRetained(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := writeProbeSite(t, b.URL(), "", "")
	pub := connectClient(t, b.URL(), "retainer", "", "", true)
	old := monitorPayload(time.Now().Add(-time.Hour), map[string]string{"battery": "41"})
	if tok := pub.Publish("wards/mon-1/status", 1, true, old); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	t.Run("only retained", func(t *testing.T) {
		start := time.Now()
		code, out, errOut := runProbeArgs("-c", site, "-device", "mon-1", "-wait", "500ms")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
		}
		assertContains(t, "stdout", out, "RETAINED message", "possibly long ago", `"battery":41`,
			"gateway: would DROP this message: stale at time_path ts")
		// The message was published an hour before; the probe runs a
		// moment later (seconds on a loaded machine).
		for _, re := range []string{`1h0m[0-9]s behind the gateway clock`,
			`this retained message is 1h0m[0-9]s old, beyond the device's freshness window \(5s\): the gateway ignores it`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("stdout does not match %s:\n%s", re, out)
			}
		}
		assertContains(t, "stderr", errOut, "no live message on wards/mon-1/status within 500ms", "retained message")
		if strings.Contains(out, "LIVE message") {
			t.Errorf("a live message shown:\n%s", out)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s with -wait 500ms", d)
		}
	})
	t.Run("retained, then live", func(t *testing.T) {
		startDevice(t, b.URL(), "", "", "wards/mon-1/status", func() []byte {
			return monitorPayload(time.Now(), map[string]string{"battery": "88"})
		})
		code, out, errOut := runProbeArgs("-c", site, "-device", "mon-1", "-wait", "20s")
		if code != 0 {
			t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
		}
		r, l := strings.Index(out, "RETAINED message"), strings.Index(out, "LIVE message")
		if r < 0 || l < r {
			t.Fatalf("want the retained message, then the live one:\n%s", out)
		}
		assertContains(t, "retained part", out[r:l], `"battery":41`, "gateway: would DROP this message: stale")
		assertContains(t, "live part", out[l:], `"battery":88`, "gateway: would take this message")
	})
}

// TestProbeMQTTSilentDevice: no message within -wait: exit 1 after about
// the bound (not the 10 s default), naming the topic, the bound and how
// to see what the device publishes.
func TestProbeMQTTSilentDevice(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := writeProbeSite(t, b.URL(), "", "")
	start := time.Now()
	code, out, errOut := runProbeArgs("-c", site, "-device", "vent-1", "-wait", "300ms")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("took %s with -wait 300ms", d)
	}
	assertContains(t, "stdout", out, "topic icu/vent-1/state", "waiting up to 300ms")
	assertContains(t, "stderr", errOut, "no live message on icu/vent-1/state within 300ms",
		"mosquitto_sub -h 127.0.0.1 -p "+strings.TrimPrefix(b.Addr(), "127.0.0.1:")+" -v -t 'icu/#'")
}

// TestProbeMQTTPassword probes through a broker that needs a login, with
// the site's username_file and password_file; a wrong password is a clear
// exit 1, and the gateway's own session on the broker is not disturbed.
func TestProbeMQTTPassword(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"icugate": "s3cret", "mon-1": "dev"}})
	// The running gateway: same user, its stable client id, a persistent
	// session. The probe must not take its client id over.
	gw := connectClient(t, b.URL(), "icugate-h-probe", "icugate", "s3cret", false)
	startDevice(t, b.URL(), "mon-1", "dev", "wards/mon-1/status", func() []byte { return monitorPayload(time.Now(), nil) })

	code, out, errOut := runProbeArgs("-c", writeProbeSite(t, b.URL(), "icugate", "s3cret"), "-device", "mon-1")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	assertContains(t, "stdout", out, "waiting up to 10s", "state: in_use")
	if !gw.IsConnectionOpen() {
		t.Error("the gateway's connection was dropped by the probe")
	}

	code, out, errOut = runProbeArgs("-c", writeProbeSite(t, b.URL(), "icugate", "wrong"), "-device", "mon-1")
	if code != 1 || strings.Contains(out, "LIVE") {
		t.Fatalf("wrong password: exit %d\n%s\n%s", code, out, errOut)
	}
	assertContains(t, "stderr", errOut, "MQTT broker refused the login at "+b.URL(), `username "icugate"`, "mqtt.password_file")
	if strings.Contains(errOut, "wrong") {
		t.Errorf("stderr shows the password: %s", errOut)
	}
}

// TestProbeMQTTBrokerUnreachable: a broker that is not there is exit 1,
// naming its URL.
func TestProbeMQTTBrokerUnreachable(t *testing.T) {
	t.Parallel()
	url := "tcp://" + freePort(t)
	code, out, errOut := runProbeArgs("-c", writeProbeSite(t, url, "", ""), "-device", "mon-1", "-wait", "1s")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	assertContains(t, "stderr", errOut, "MQTT broker unreachable: "+url, "connection refused", "check mqtt.broker")
}

// TestProbeMQTTUsageErrors: Modbus-only flags on an MQTT device, -wait on
// a Modbus device, and unusable MQTT settings are usage or configuration
// errors (exit 2) before any connection.
func TestProbeMQTTUsageErrors(t *testing.T) {
	t.Parallel()
	site := writeProbeSite(t, "tcp://127.0.0.1:9", "", "")
	noPass := writeProbeSite(t, "tcp://127.0.0.1:9", "icugate", "x")
	if err := os.Remove(filepath.Join(filepath.Dir(noPass), "mqtt-pass")); err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(filepath.Dir(site), "profiles", "test-monitor-mqtt.yaml")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"-orders on mqtt", []string{"-c", site, "-device", "mon-1", "-orders"}, "-orders is for Modbus devices; device mon-1 is an MQTT device"},
		{"-timeout on mqtt", []string{"-c", site, "-device", "mon-1", "-timeout", "1s"}, "-timeout is for Modbus devices"},
		{"-address on mqtt", []string{"-c", site, "-device", "mon-1", "-address", "127.0.0.1:502"}, "-address is for Modbus devices"},
		{"-unit on mqtt", []string{"-c", site, "-device", "mon-1", "-unit", "3"}, "-unit is for Modbus devices"},
		{"-wait on modbus", []string{"-c", site, "-device", "mon-2", "-wait", "5s"}, "-wait is for MQTT devices; mon-2 is a Modbus device (modbus-tcp)"},
		{"-wait with -address", []string{"-address", "127.0.0.1:9", "-profile", "../../configs/profiles/generic-ventilator-modbus.yaml", "-wait", "5s"}, "-wait is for MQTT devices"},
		{"negative -wait", []string{"-c", site, "-device", "mon-1", "-wait", "-1s"}, "-wait must not be negative"},
		{"mqtt profile by address", []string{"-address", "127.0.0.1:9", "-profile", prof}, "profile test-monitor-mqtt is an MQTT profile: -address probes Modbus devices"},
		{"password file missing", []string{"-c", noPass, "-device", "mon-1"}, "mqtt-pass does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runProbeArgs(tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want empty", out)
			}
		})
	}
}
