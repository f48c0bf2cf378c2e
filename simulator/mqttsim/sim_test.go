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

func TestRunPublishesAndOfflineStops(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(50)
	var mu sync.Mutex
	counts := map[string]int{}
	tok := sub.SubscribeMultiple(map[string]byte{"devices/+/status": 1, "ward/v2": 1}, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		counts[m.Topic()]++
		mu.Unlock()
	})
	tok.WaitTimeout(5 * time.Second)
	count := func(topic string) int { mu.Lock(); defer mu.Unlock(); return counts[topic] }

	s, err := New(testSite(t, b.URL()), b.URL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(5 * time.Second)
	for count("devices/v1/status") < 3 || count("ward/v2") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("devices did not publish every interval: %v", counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.SetState("v1", StateOffline); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // let an in-flight message land
	n1, n2 := count("devices/v1/status"), count("ward/v2")
	time.Sleep(350 * time.Millisecond)
	if got := count("devices/v1/status"); got != n1 {
		t.Errorf("offline device published %d more messages", got-n1)
	}
	if count("ward/v2") <= n2 {
		t.Errorf("other device stopped publishing")
	}
}
