package mqtt

import (
	"context"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/simulator/mqttsim"
)

// stateOf is the device state a profile's rules give for an observation,
// in the engine's precedence (fault, maintenance, in use, standby).
func stateOf(t *testing.T, site *config.Site, o pipeline.Observation) string {
	t.Helper()
	var p *config.Profile
	for i := range site.Devices {
		if site.Devices[i].ID == o.Device {
			p = site.Profiles[site.Devices[i].Profile]
		}
	}
	c, err := p.Rules.Derive(o.Values)
	if err != nil {
		t.Fatalf("derive %s: %v", o.Device, err)
	}
	switch {
	case c.Fault:
		return mqttsim.StateFault
	case c.Maintenance:
		return mqttsim.StateMaintenance
	case c.InUse:
		return mqttsim.StateInUse
	}
	return mqttsim.StateStandby
}

func startSim(t *testing.T, site *config.Site, broker string, states map[string]string) *mqttsim.Sim {
	t.Helper()
	sim, err := mqttsim.New(site, broker, mqttsim.Options{ClientID: "icusim-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	for id, st := range states {
		if err := sim.SetState(id, st); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := sim.Run(ctx); err != nil {
			t.Errorf("sim: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return sim
}

// Not parallel: it checks a state change arrives within 900 ms, which
// other tests' load could stretch.
func TestEndToEndSimulatedStates(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, b.URL(), 3, 3)
	in := newFakeIntake()
	r := startDriver(t, site, in)
	if got := r.d.Subscriptions(); len(got) != 1 || got[0] != "devices/+/status" {
		t.Fatalf("subscriptions %v, want the one shared wildcard", got)
	}
	want := map[string]string{
		"vent-1": mqttsim.StateInUse, "vent-2": mqttsim.StateFault, "vent-3": mqttsim.StateMaintenance,
		"mon-1": mqttsim.StateInUse, "mon-2": mqttsim.StateStandby, "mon-3": mqttsim.StateOffline,
	}
	sim := startSim(t, site, b.URL(), want)

	reflects := func() bool {
		last, _ := in.snapshot()
		for id, st := range want {
			o, seen := last[id]
			if st == mqttsim.StateOffline {
				if seen {
					t.Fatalf("offline device %s published", id)
				}
				continue
			}
			if !seen || stateOf(t, site, o) != st {
				return false
			}
		}
		return true
	}
	waitFor(t, 5*time.Second, "observations reflect the simulated states", reflects)

	last, _ := in.snapshot()
	if o := last["vent-1"]; o.Serial != "SN-vent-1" || o.Time.IsZero() || time.Since(o.Time) > 5*time.Second {
		t.Errorf("vent-1 observation serial %q time %v; want the site serial and a fresh device time", o.Serial, o.Time)
	}
	// A state change is published at once, not at the next interval.
	want["vent-1"], want["mon-3"] = mqttsim.StateStandby, mqttsim.StateFault
	for _, id := range []string{"vent-1", "mon-3"} {
		if err := sim.SetState(id, want[id]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 900*time.Millisecond, "state changes observed before the next interval", reflects)
	if n := r.dropped(ReasonUnknownDevice) + r.dropped(ReasonStale) + r.dropped(ReasonWrongType); n != 0 {
		t.Errorf("good simulator traffic dropped %v messages", n)
	}
}

func TestBrokerRestartReconnectsAndKeepsQoS1(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, b.URL(), 1, 0)
	in := newFakeIntake()
	r := startDriver(t, site, in)
	pub := testPublisher(t, b.URL(), "pub-before")
	publish(t, pub, "devices/vent-1/status", false, ventPayload("SN-vent-1", false, 1000))
	waitFor(t, 5*time.Second, "first message", func() bool { return len(in.history("vent-1")) == 1 })

	b.Stop()
	waitFor(t, 5*time.Second, "driver notices the broker is gone", func() bool { return r.metric("icugate_mqtt_connected", "") == 0 })
	b.Start()
	// Publish at once, while the driver is still in its reconnect backoff:
	// the persistent session (restored from the broker's persistence file)
	// queues these for the gateway.
	const n = 50
	pub2 := testPublisher(t, b.URL(), "pub-after")
	for i := range n {
		publish(t, pub2, "devices/vent-1/status", false, ventPayload("SN-vent-1", i%2 == 0, 2000+i))
	}
	t.Logf("driver connected while publishing: %v", r.metric("icugate_mqtt_connected", "") == 1)

	defer func() {
		if t.Failed() {
			t.Logf("connects %v connected %v received %d\nbroker:\n%s", r.metric("icugate_mqtt_connects_total", ""), r.metric("icugate_mqtt_connected", ""), len(in.history("vent-1")), b.Logs())
		}
	}()
	waitFor(t, 10*time.Second, "all QoS 1 messages after the restart", func() bool { return len(in.history("vent-1")) >= n+1 })
	got := map[float64]bool{}
	hoursIdx := site.Profiles[ventProfile].Index("operating_hours")
	for _, o := range in.history("vent-1") {
		got[o.Values[hoursIdx].Num] = true
	}
	for i := range n {
		if !got[float64(2000+i)] {
			t.Errorf("message %d published while the gateway was away is lost", i)
		}
	}
	if c := r.metric("icugate_mqtt_connects_total", ""); c < 2 {
		t.Errorf("connects_total %v, want a reconnect", c)
	}
}

func TestPersistentSessionKeepsMessagesWhileGatewayStopped(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, b.URL(), 1, 0)
	first := startDriver(t, site, newFakeIntake())
	first.stop()

	pub := testPublisher(t, b.URL(), "pub")
	const n = 20
	for i := range n {
		publish(t, pub, "devices/vent-1/status", false, ventPayload("SN-vent-1", true, 3000+i))
	}
	in := newFakeIntake()
	startDriver(t, site, in) // same client id
	waitFor(t, 5*time.Second, "messages published while the gateway was stopped", func() bool { return len(in.history("vent-1")) >= n })
	hoursIdx := site.Profiles[ventProfile].Index("operating_hours")
	for i, o := range in.history("vent-1")[:n] {
		if o.Values[hoursIdx].Num != float64(3000+i) {
			t.Fatalf("message %d has hours %v, want %d (in publish order)", i, o.Values[hoursIdx].Num, 3000+i)
		}
	}
}

func TestUnackedMessageRedeliveredAfterReconnect(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, b.URL(), 1, 0)
	in := newFakeIntake()
	r := startDriver(t, site, in)
	pub := testPublisher(t, b.URL(), "pub")
	hoursIdx := site.Profiles[ventProfile].Index("operating_hours")

	publish(t, pub, "devices/vent-1/status", false, ventPayload("SN-vent-1", false, 1)) // acknowledged
	waitFor(t, 5*time.Second, "acked message", func() bool {
		return len(in.history("vent-1")) == 1 && r.d.acks.depth() == 0
	})
	in.setNoAck(true)
	publish(t, pub, "devices/vent-1/status", false, ventPayload("SN-vent-1", true, 2)) // never acknowledged
	waitFor(t, 5*time.Second, "unacked message", func() bool { return len(in.history("vent-1")) == 2 })
	if d := r.d.acks.depth(); d != 1 {
		t.Fatalf("%d messages pending ack, want 1", d)
	}
	in.setNoAck(false)

	b.Restart()
	waitFor(t, 10*time.Second, "redelivery after reconnect", func() bool { return len(in.history("vent-1")) >= 3 })
	h := in.history("vent-1")
	counts := map[float64]int{}
	for _, o := range h {
		counts[o.Values[hoursIdx].Num]++
	}
	if counts[2] != 2 {
		t.Errorf("unacknowledged message seen %d times, want 2 (redelivered)", counts[2])
	}
	if counts[1] != 1 {
		t.Errorf("acknowledged message seen %d times, want 1 (not redelivered)", counts[1])
	}
	waitFor(t, 5*time.Second, "redelivered message acknowledged", func() bool { return r.d.acks.depth() == 0 })
}

func TestPresenceOnlineThenOffline(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, b.URL(), 1, 0)
	topic := PresenceTopic(site)
	if topic != "icu/v1/r1/h1/gateway" {
		t.Fatalf("presence topic %q", topic)
	}
	r := startDriver(t, site, newFakeIntake())
	read := func() string {
		c := testPublisher(t, b.URL(), "reader-"+time.Now().Format("150405.000000"))
		got := make(chan string, 1)
		c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
			select {
			case got <- string(m.Payload()):
			default:
			}
		})
		select {
		case s := <-got:
			return s
		case <-time.After(5 * time.Second):
			return ""
		}
	}
	waitFor(t, 5*time.Second, "retained online", func() bool { return read() == "online" })
	r.stop()
	if got := read(); got != "offline" {
		t.Fatalf("presence after a clean stop = %q, want offline", got)
	}
}
