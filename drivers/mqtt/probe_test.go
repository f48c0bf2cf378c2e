package mqtt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/mosquittotest"
)

// testMessage is a received message, as paho hands it to a handler.
type testMessage struct {
	topic    string
	payload  []byte
	retained bool
}

func (m testMessage) Duplicate() bool   { return false }
func (m testMessage) Qos() byte         { return 1 }
func (m testMessage) Retained() bool    { return m.retained }
func (m testMessage) Topic() string     { return m.topic }
func (m testMessage) MessageID() uint16 { return 1 }
func (m testMessage) Payload() []byte   { return m.payload }
func (m testMessage) Ack()              {}

func TestProbeWait(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		want     time.Duration
	}{
		{time.Second, MinProbeWait},
		{10 * time.Second, 30 * time.Second},
		{0, 3 * config.DefaultMQTTInterval}, // not through config defaults
	} {
		dev := &config.Device{MQTT: &config.MQTTDevice{Interval: c.interval}}
		if got := ProbeWait(dev); got != c.want {
			t.Errorf("interval %s: wait %s, want %s", c.interval, got, c.want)
		}
	}
}

func TestNewProbeRefuses(t *testing.T) {
	site := testSite(t, "tcp://127.0.0.1:1883", 1, 0)
	site.Devices = append(site.Devices, config.Device{ID: "mb-1", Profile: ventProfile, Modbus: &config.ModbusDevice{Address: "10.0.0.1:502"}})
	noBroker := *site
	noBroker.MQTT = nil
	ws := *site
	ws.MQTT = &config.MQTT{Broker: "ws://127.0.0.1:9001"}
	for _, c := range []struct {
		name   string
		site   *config.Site
		device string
		want   string
	}{
		{"unknown device", site, "vent-9", "device vent-9 is not in the site config"},
		{"modbus device", site, "mb-1", "device mb-1 is not an MQTT device (modbus-tcp)"},
		{"no broker", &noBroker, "vent-1", "the site has no mqtt.broker"},
		{"websocket broker", &ws, "vent-1", `scheme "ws" not supported`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewProbe(c.site, c.device, ProbeOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	p, err := NewProbe(site, "vent-1", ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Topic() != "devices/vent-1/status" || !strings.HasPrefix(p.ClientID(), "icugate-probe-") || p.Wait() != MinProbeWait {
		t.Errorf("topic %q client id %q wait %s", p.Topic(), p.ClientID(), p.Wait())
	}
	if len(p.ClientID()) > 23 {
		t.Errorf("client id %q longer than the 23 bytes every MQTT 3.1.1 broker must accept", p.ClientID())
	}
}

// TestProbeInspect decodes messages as the gateway does, with every bad
// value shown on its own and the field of the gateway's refusal named.
func TestProbeInspect(t *testing.T) {
	now := time.Date(2026, 12, 5, 7, 1, 4, 0, time.UTC)
	site := testSite(t, "tcp://127.0.0.1:1883", 1, 0)
	p, err := NewProbe(site, "vent-1", ProbeOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ts := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339Nano) }
	good := `{"ts":%q,"serial":"SN-vent-1","status":{"mode":"VC","running":true,"fault_code":0,"service":false},"hours":1234.5}`
	for _, c := range []struct {
		name     string
		payload  string
		retained bool
		reason   string // of the Rejection; "" none
		field    string
		decoded  bool
		badVals  []string // values with an error, in order
	}{
		{"good", fmt.Sprintf(good, ts(1800*time.Millisecond)), false, "", "", true, nil},
		{"two bad values: both shown, the first refuses",
			fmt.Sprintf(`{"ts":%q,"serial":"SN-vent-1","status":{"mode":"VC","running":"yes","fault_code":0,"service":false},"hours":-5}`, ts(time.Second)),
			false, ReasonWrongType, "therapy_running (status.running)", false, []string{"therapy_running", "operating_hours"}},
		{"value absent", fmt.Sprintf(`{"ts":%q,"serial":"x","status":{"mode":"VC","running":true,"fault_code":0,"service":false}}`, ts(time.Second)),
			false, ReasonMissingValue, "operating_hours (hours)", false, []string{"operating_hours"}},
		{"stale", fmt.Sprintf(good, ts(2*time.Minute)), false, ReasonStale, "time_path ts", true, nil},
		{"retained and fresh: taken", fmt.Sprintf(good, ts(time.Second)), true, "", "", true, nil},
		{"not json", `hello`, false, ReasonNotJSON, "", false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := p.inspect(testMessage{topic: p.Topic(), payload: []byte(c.payload), retained: c.retained}, now)
			if m.Retained != c.retained || string(m.Payload) != c.payload || !m.Received.Equal(now) {
				t.Errorf("message %+v", m)
			}
			switch {
			case c.reason == "" && m.Rejection != nil:
				t.Errorf("rejected: %v", m.Rejection)
			case c.reason != "" && (m.Rejection == nil || m.Rejection.Reason != c.reason || m.Rejection.Field != c.field):
				t.Errorf("rejection %+v, want %s at %q", m.Rejection, c.reason, c.field)
			}
			if m.Decoded() != c.decoded {
				t.Errorf("decoded %v, want %v", m.Decoded(), c.decoded)
			}
			var bad []string
			for _, v := range m.Values {
				if v.Err != nil {
					bad = append(bad, v.Name)
				}
			}
			if strings.Join(bad, ",") != strings.Join(c.badVals, ",") {
				t.Errorf("bad values %v, want %v", bad, c.badVals)
			}
		})
	}
	m := p.inspect(testMessage{topic: p.Topic(), payload: fmt.Appendf(nil, good, ts(1800*time.Millisecond))}, now)
	if m.Serial != "SN-vent-1" || !m.DeviceTime.Equal(now.Add(-1800*time.Millisecond)) {
		t.Errorf("serial %q device time %v", m.Serial, m.DeviceTime)
	}
	if v := m.Values[1]; v.Name != "vent_mode" || v.JSON != `"VC"` || v.Sample.Str != "VC" {
		t.Errorf("vent_mode: %+v", v)
	}
}

// TestProbeReceive probes a device on a real broker: a retained message is
// handed to OnRetained, the next live one is returned; a running gateway
// session (same broker, the gateway's client id) is not disturbed.
func TestProbeReceive(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, b.URL(), 1, 0)
	gateway := testPublisher(t, b.URL(), site.MQTT.ClientID)
	pub := testPublisher(t, b.URL(), "device-vent-1")
	publish(t, pub, "devices/vent-1/status", true, ventPayload("SN-vent-1", false, 1))

	var retained []ProbeMessage
	p, err := NewProbe(site, "vent-1", ProbeOptions{Wait: 20 * time.Second, OnRetained: func(m ProbeMessage) { retained = append(retained, m) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { // a device publishing every 50 ms until the probe is done
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				pub.Publish("devices/vent-1/status", 1, false, ventPayload("SN-vent-1", true, 2))
			case <-ctx.Done():
				return
			}
		}
	}()
	m, err := p.Receive(context.Background())
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if m.Retained || !m.Decoded() || m.Rejection != nil || m.Values[5].Sample.Num != 2 {
		t.Errorf("live message %+v", m)
	}
	if len(retained) != 1 || !retained[0].Retained || retained[0].Values[5].Sample.Num != 1 {
		t.Errorf("retained messages %+v, want the one retained", retained)
	}
	if !gateway.IsConnectionOpen() {
		t.Error("the client with the gateway's id lost its connection to the probe")
	}
}

func TestProbeReceiveErrors(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"icugate": "s3cret"}})
	closed := mosquittotest.Start(t, mosquittotest.Config{})
	closed.Stop()
	for _, c := range []struct {
		name       string
		broker     string
		user, pass string
		want       error
		says       []string
	}{
		{"unreachable", closed.URL(), "", "", ErrBrokerUnreachable, []string{closed.URL(), "connection refused", "check mqtt.broker"}},
		{"wrong password", b.URL(), "icugate", "nope", ErrLoginRefused, []string{b.URL(), `username "icugate"`, "mqtt.password_file"}},
		{"anonymous", b.URL(), "", "", ErrLoginRefused, []string{"no username (anonymous)"}},
		{"silent device", b.URL(), "icugate", "s3cret", ErrNoMessage, []string{"devices/vent-1/status", "within 300ms", "mosquitto_sub -h 127.0.0.1 -p", "-u icugate -P PASSWORD -v -t 'devices/#'"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			site := testSite(t, c.broker, 1, 0)
			p, err := NewProbe(site, "vent-1", ProbeOptions{Wait: 300 * time.Millisecond, Username: c.user, Password: c.pass})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Receive(context.Background())
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}
