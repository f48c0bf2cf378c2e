package mqtt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(publisherMain())
	}
	goleak.VerifyTestMain(m)
}

const (
	ventProfile = "generic-ventilator-mqtt"
	monProfile  = "generic-monitor-mqtt"
)

// loadProfiles loads the shipped MQTT profiles, so the tests exercise the
// same YAML a hospital deploys.
func loadProfiles(t testing.TB) map[string]*config.Profile {
	t.Helper()
	out := map[string]*config.Profile{}
	for _, name := range []string{ventProfile, monProfile} {
		p, err := config.LoadProfile(filepath.Join("..", "..", "configs", "profiles", name+".yaml"))
		if err != nil {
			t.Fatalf("load profile %s: %v", name, err)
		}
		out[p.Name] = p
	}
	return out
}

// testSite builds a site with nVent ventilators and nMon monitors on MQTT,
// all on their profile's devices/{id}/status pattern.
func testSite(t testing.TB, broker string, nVent, nMon int) *config.Site {
	t.Helper()
	s := &config.Site{
		Hospital: config.Hospital{ID: "h1", Region: "r1"},
		Profiles: loadProfiles(t),
		MQTT:     &config.MQTT{Broker: broker, ClientID: "icugate-test-" + t.Name(), MaxMessageBytes: 65536},
	}
	// A generous freshness window: on a loaded test machine a message may
	// take seconds to go through, and must not be refused as stale.
	window := time.Minute
	add := func(prefix, kind, profile string, n int) {
		for i := range n {
			id := fmt.Sprintf("%s-%d", prefix, i+1)
			s.Devices = append(s.Devices, config.Device{
				ID: id, Kind: kind, Profile: profile, At: "pool", Serial: "SN-" + id, Freshness: &window,
				MQTT: &config.MQTTDevice{Topic: "devices/" + id + "/status", Interval: time.Second},
			})
		}
	}
	add("vent", "ventilator", ventProfile, nVent)
	add("mon", "monitor", monProfile, nMon)
	return s
}

// fakeIntake records observations; it acks each one unless told not to.
type fakeIntake struct {
	mu     sync.Mutex
	last   map[string]pipeline.Observation
	count  map[string]int
	total  int
	noAck  bool
	unAckd []pipeline.Observation
	hist   []pipeline.Observation // every observation, in order
}

func newFakeIntake() *fakeIntake {
	return &fakeIntake{last: map[string]pipeline.Observation{}, count: map[string]int{}}
}

func (f *fakeIntake) Offer(ctx context.Context, o pipeline.Observation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	o.Values = append([]rules.Sample(nil), o.Values...)
	f.last[o.Device] = o
	f.count[o.Device]++
	f.total++
	f.hist = append(f.hist, o)
	noAck := f.noAck
	if noAck {
		f.unAckd = append(f.unAckd, o)
	}
	f.mu.Unlock()
	if !noAck && o.Ack != nil {
		o.Ack()
	}
	return nil
}

// history returns every observation of a device, in order.
func (f *fakeIntake) history(device string) []pipeline.Observation {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pipeline.Observation
	for _, o := range f.hist {
		if o.Device == device {
			out = append(out, o)
		}
	}
	return out
}

func (f *fakeIntake) setNoAck(v bool) { f.mu.Lock(); f.noAck = v; f.mu.Unlock() }

func (f *fakeIntake) snapshot() (map[string]pipeline.Observation, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]pipeline.Observation, len(f.last))
	for k, v := range f.last {
		m[k] = v
	}
	return m, f.total
}

// running is a driver started by startDriver.
type running struct {
	d      *Driver
	reg    *prometheus.Registry
	in     *fakeIntake
	cancel context.CancelFunc
	done   chan error
}

// startDriver runs a driver until the test ends (or stop is called).
func startDriver(t testing.TB, site *config.Site, in *fakeIntake) *running {
	t.Helper()
	return startDriverWith(t, site, in, Options{MaxReconnectInterval: 300 * time.Millisecond, ConnectRetryInterval: 100 * time.Millisecond})
}

// startDriverWith is startDriver with the driver's options (its
// Registerer is the test's).
func startDriverWith(t testing.TB, site *config.Site, in *fakeIntake, opts Options) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	d, err := New(site, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, reg: reg, in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx, in) }()
	t.Cleanup(r.stop)
	waitFor(t, 5*time.Second, "driver connected", func() bool { return gathered(reg, "icugate_mqtt_connected", "") == 1 })
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // later stops return at once
}

// metric reads one counter or gauge from the driver's registry; label,
// when set, selects the series with that label value.
func (r *running) metric(name, label string) float64 {
	return gathered(r.reg, name, label)
}

func gathered(reg *prometheus.Registry, name, label string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if label != "" {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetValue() == label
				}
				if !found {
					continue series
				}
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// dropped reads the drop counter of one reason.
func (r *running) dropped(reason string) float64 {
	return r.metric("icugate_mqtt_messages_dropped_total", reason)
}

// waitFor polls cond: the broker is a real process, so there is no clock
// to fake; the deadline only bounds a failing test.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// testPublisher is a plain MQTT client for publishing test payloads.
func testPublisher(t testing.TB, broker, id string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func publish(t testing.TB, c paho.Client, topic string, retained bool, payload []byte) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// ventPayload is a good ventilator status stamped now.
func ventPayload(serial string, running bool, hours int) []byte {
	mode := "STANDBY"
	if running {
		mode = "VC"
	}
	return fmt.Appendf(nil, `{"ts":%d,"serial":%q,"status":{"mode":%q,"running":%t,"fault_code":0,"service":false},"hours":%d}`,
		time.Now().Unix(), serial, mode, running, hours)
}
