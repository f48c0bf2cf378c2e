package mqttsim

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/mosquittotest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func profile(t *testing.T, name string) *config.Profile {
	t.Helper()
	p, err := config.LoadProfile(filepath.Join("..", "..", "configs", "profiles", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPayloadNestsDottedPaths(t *testing.T) {
	p := profile(t, "generic-monitor-mqtt")
	dev := &config.Device{ID: "mon-1", Serial: "M-77"}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	b, err := Payload(p, dev, StateInUse, now)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("payload %s: %v", b, err)
	}
	device, _ := got["device"].(map[string]any)
	patient, _ := got["patient"].(map[string]any)
	if got["ts"] != "2026-11-25T10:00:00Z" || device["serial"] != "M-77" || patient["connected"] != true || got["battery"] != 98.0 {
		t.Fatalf("payload %s: want nested values from the in_use simulate block, the site serial and the time", b)
	}
}

func TestPayloadArraysBitsAndScale(t *testing.T) {
	one, ten := 1.0, 0.1
	bit0, bit3 := 0, 3
	p := &config.Profile{Name: "x", Values: []config.Value{
		{Name: "code", Path: "alarms.0.code", Type: config.TypeUint16, Scale: &one},
		{Name: "running", Path: "flags", Type: config.TypeUint16, Bit: &bit0},
		{Name: "service", Path: "flags", Type: config.TypeUint16, Bit: &bit3},
		{Name: "temp", Path: "t", Type: config.TypeInt16, Scale: &ten, Offset: 5},
	}, Simulate: map[string]map[string]any{"in_use": {"code": 7, "running": true, "service": 1, "temp": 25.0}}}
	b, err := Payload(p, &config.Device{ID: "d"}, StateInUse, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"alarms":[{"code":7}],"flags":9,"t":200}` {
		t.Fatalf("payload %s", b)
	}
}

func testSite(t *testing.T, broker string) *config.Site {
	p := profile(t, "generic-ventilator-mqtt")
	return &config.Site{
		Hospital: config.Hospital{ID: "h1"},
		Profiles: map[string]*config.Profile{p.Name: p},
		Devices: []config.Device{
			{ID: "v1", Kind: "ventilator", Profile: p.Name, MQTT: &config.MQTTDevice{Interval: 100 * time.Millisecond}},
			{ID: "v2", Kind: "ventilator", Profile: p.Name, MQTT: &config.MQTTDevice{Topic: "ward/v2", Interval: 100 * time.Millisecond}},
			{ID: "m1", Kind: "monitor", Profile: p.Name, Modbus: &config.ModbusDevice{Address: "127.0.0.1:1"}},
		},
	}
}

func TestSetStateAndDevices(t *testing.T) {
	s, err := New(testSite(t, "tcp://127.0.0.1:1"), "tcp://127.0.0.1:1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	devs := s.Devices()
	if len(devs) != 2 || devs[0].ID != "v1" || devs[0].Topic != "devices/v1/status" || devs[1].Topic != "ward/v2" || devs[0].State != StateStandby {
		t.Fatalf("devices %+v: want the two MQTT devices, standby, with their topics", devs)
	}
	if err := s.SetState("v1", StateFault); err != nil || s.Devices()[0].State != StateFault {
		t.Fatalf("SetState fault: %v", err)
	}
	for _, bad := range [][2]string{{"m1", StateFault}, {"nope", StateFault}, {"v1", "broken"}} {
		if err := s.SetState(bad[0], bad[1]); err == nil {
			t.Errorf("SetState(%s, %s) accepted", bad[0], bad[1])
		}
	}
}

// subscriber collects what a broker delivers on a topic filter.
type subscriber struct {
	mu   sync.Mutex
	msgs map[string][][]byte
	got  chan struct{} // a message arrived (capacity 1)
}

func subscribe(t *testing.T, broker, filter string) *subscriber {
	t.Helper()
	sub := &subscriber{msgs: map[string][][]byte{}, got: make(chan struct{}, 1)}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("sub-" + t.Name()))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		sub.mu.Lock()
		sub.msgs[m.Topic()] = append(sub.msgs[m.Topic()], m.Payload())
		sub.mu.Unlock()
		select {
		case sub.got <- struct{}{}:
		default:
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return sub
}

func (s *subscriber) count(topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs[topic])
}

func (s *subscriber) last(topic string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs[topic]
	if len(m) == 0 {
		return nil
	}
	return m[len(m)-1]
}

// waitFor waits, message by message, until cond holds.
func (s *subscriber) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// run runs the simulator until the test ends.
func run(t *testing.T, s *Sim) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestRunPublishesAndOfflineStops(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := subscribe(t, b.URL(), "#")
	s, err := New(testSite(t, b.URL()), b.URL(), Options{ClientID: "sim-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	const v1, v2 = "devices/v1/status", "ward/v2"
	sub.waitFor(t, "3 messages of each device", func() bool { return sub.count(v1) >= 3 && sub.count(v2) >= 3 })
	if err := s.SetState("v1", StateOffline); err != nil {
		t.Fatal(err)
	}
	// v2 goes on publishing every 100 ms: it is the clock. A message v1
	// had in flight lands within v2's next two; after that, nothing more
	// of v1 may come while v2 publishes four more.
	n2 := sub.count(v2)
	sub.waitFor(t, "v2 to publish twice more", func() bool { return sub.count(v2) >= n2+2 })
	n1, n2 := sub.count(v1), sub.count(v2)
	sub.waitFor(t, "v2 to publish four more", func() bool { return sub.count(v2) >= n2+4 })
	if got := sub.count(v1); got != n1 {
		t.Errorf("offline device published %d more messages", got-n1)
	}
	// Back online it publishes at once.
	if err := s.SetState("v1", StateInUse); err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "v1 to publish again", func() bool { return sub.count(v1) > n1 })
}

// TestStateChangePublishesAtOnce: with an hour's interval, a device
// publishes at start and then only when its state changes; each message
// is the profile's payload for the new state, with the site's serial.
func TestStateChangePublishesAtOnce(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := subscribe(t, b.URL(), "devices/#")
	site := testSite(t, b.URL())
	site.Devices = site.Devices[:1]
	site.Devices[0].Serial = "V1-0042"
	site.Devices[0].MQTT.Interval = time.Hour
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s, err := New(site, b.URL(), Options{ClientID: "sim-" + t.Name(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	const topic = "devices/v1/status"
	sub.waitFor(t, "the first message", func() bool { return sub.count(topic) == 1 })
	for i, c := range []struct {
		state, mode string
		fault       float64
	}{{StateInUse, "VC", 0}, {StateFault, "STANDBY", 310}, {StateStandby, "STANDBY", 0}} {
		if err := s.SetState("v1", c.state); err != nil {
			t.Fatal(err)
		}
		sub.waitFor(t, c.state+" message", func() bool { return sub.count(topic) == i+2 })
		var m struct {
			TS     string `json:"ts"`
			Serial string `json:"serial"`
			Status struct {
				Mode      string  `json:"mode"`
				Running   bool    `json:"running"`
				FaultCode float64 `json:"fault_code"`
			} `json:"status"`
		}
		if err := json.Unmarshal(sub.last(topic), &m); err != nil {
			t.Fatal(err)
		}
		if m.Serial != "V1-0042" || m.Status.Mode != c.mode || m.Status.FaultCode != c.fault ||
			m.Status.Running != (c.state == StateInUse) || m.TS != "2026-11-25T10:00:00Z" {
			t.Errorf("%s: message %s", c.state, sub.last(topic))
		}
	}
	if got := s.Devices()[0]; got.State != StateStandby || got.Interval != time.Hour {
		t.Errorf("Devices() = %+v", got)
	}
}

// TestRunEndsWhileTheBrokerIsDown: with nothing to connect to, Run keeps
// trying and returns when its context ends.
func TestRunEndsWhileTheBrokerIsDown(t *testing.T) {
	t.Parallel()
	s, err := New(testSite(t, "tcp://127.0.0.1:1"), "tcp://127.0.0.1:1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v; want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
