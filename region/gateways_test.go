package region

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/mqtt"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/report"
)

// fakeClock is the aggregator's clock in end-to-end tests: reports carry
// its time as as_of, and advancing it makes a part silent without
// waiting minutes.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// capacityOf is one unit's (or class row's) engine counts: beds, equipped
// of them standby, one ventilator per bed.
func capacityOf(unit, class string, beds, equipped, ready int) pipeline.Capacity {
	return pipeline.Capacity{
		Unit: unit, Class: class, BedsTotal: beds, BedsEquipped: equipped, BedsAvailable: equipped, BedsDegraded: beds - equipped,
		Kinds:            map[string]pipeline.KindCount{"ventilator": {Total: beds, Standby: equipped, Offline: beds - equipped}},
		ConvertibleReady: ready, Verified: true,
		Evidence: pipeline.Evidence{Stale: []string{}, Missing: []string{}, Fresh: beds, Configured: beds, Coverage: 1},
	}
}

// snapshotWith is an engine snapshot of b: what a gateway's engine would
// hand its report publisher.
func snapshotWith(at time.Time, hospital string, b beds) *pipeline.Snapshot {
	units := []pipeline.Capacity{
		capacityOf("gicu", config.ClassGeneral, b.gen, b.genEq, 0),
		capacityOf("sicu", config.ClassSpecialty, b.spec, b.specEq, 0),
		capacityOf("cicu", config.ClassConvertible, b.conv, b.convEq, b.ready),
	}
	hosp := pipeline.Capacity{Unit: pipeline.All, Class: pipeline.All, Kinds: map[string]pipeline.KindCount{}, Verified: true,
		Evidence: pipeline.Evidence{Stale: []string{}, Missing: []string{}, Coverage: 1}}
	var classes []pipeline.Capacity
	for _, u := range units {
		c := u
		c.Unit = pipeline.All
		classes = append(classes, c)
		hosp.BedsTotal += u.BedsTotal
		hosp.BedsEquipped += u.BedsEquipped
		hosp.BedsAvailable += u.BedsAvailable
		hosp.BedsDegraded += u.BedsDegraded
		hosp.ConvertibleReady += u.ConvertibleReady
		k := hosp.Kinds["ventilator"]
		uk := u.Kinds["ventilator"]
		k.Total, k.Standby, k.Offline = k.Total+uk.Total, k.Standby+uk.Standby, k.Offline+uk.Offline
		hosp.Kinds["ventilator"] = k
		hosp.Evidence.Fresh += u.Evidence.Fresh
		hosp.Evidence.Configured += u.Evidence.Configured
	}
	pol := pipeline.Policy{Level: b.level, TargetYear: 2027, TargetsYear: 2027, TargetsKnown: true, TotalBeds: b.total}
	if b.declared {
		pol.Staffing = &pipeline.StaffingRatios{Declared: true, Doctors: b.doctors, Nurses: b.nurses, GeneralBeds: b.gen}
	}
	return &pipeline.Snapshot{AsOf: at, Hospital: hospital, Capacity: pipeline.CapacityReport{Hospital: hosp, Classes: classes, Units: units}, Policy: pol}
}

// gateway is the reporting side of one real gateway: the MQTT driver
// (its broker connection, retained presence and last will) and the report
// publisher of its site, with report.part set for a part.
type gateway struct {
	site *config.Site
	drv  *mqtt.Driver
	pub  *report.Publisher
	b    beds
	seq  uint64
	stop func()
}

func nopIntake() pipeline.Intake {
	return intakeFunc(func(context.Context, pipeline.Observation) error { return nil })
}

type intakeFunc func(context.Context, pipeline.Observation) error

func (f intakeFunc) Offer(ctx context.Context, o pipeline.Observation) error { return f(ctx, o) }

func startGateway(t *testing.T, broker, hospital, part string, key ed25519.PrivateKey, b beds) *gateway {
	t.Helper()
	client := "icugate-" + hospital
	if part != "" {
		client += "-" + part
	}
	site := &config.Site{
		Hospital: config.Hospital{ID: hospital, Name: "Hospital " + hospital, Level: b.level, TotalBeds: b.total, Region: "R01"},
		MQTT:     &config.MQTT{Broker: broker, ClientID: client},
		Report:   config.Report{Interval: time.Minute, GatewayID: client, Part: part},
	}
	drv, err := mqtt.New(site, mqtt.Options{Logger: testLog(t), Registerer: prometheus.NewRegistry(), ConnectRetryInterval: 50 * time.Millisecond, MaxReconnectInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := report.NewPublisher(site, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := drv.Run(ctx, nopIntake()); err != nil {
			t.Errorf("gateway %s: %v", client, err)
		}
	}()
	g := &gateway{site: site, drv: drv, pub: pub, b: b}
	var once sync.Once
	g.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(g.stop)
	return g
}

// report publishes the gateway's next report as of at, the way the
// gateway does: signed by the publisher, retained QoS 1 on the driver's
// connection; it waits for the connection to be up.
func (g *gateway) report(t *testing.T, at time.Time) {
	t.Helper()
	g.seq++
	m, err := g.pub.Prepare(snapshotWith(at, g.site.Hospital.ID, g.b), g.seq)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "gateway "+g.site.MQTT.ClientID+" publishes", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return g.drv.Publish(ctx, m.Topic, 1, true, m.Payload) == nil
	})
}

// webhookSink is a real HTTP receiver of the aggregator's alerts that
// checks every request's signature.
type webhookSink struct {
	mu  sync.Mutex
	got []notify.Notification
	bad int
}

func startWebhook(t *testing.T, key []byte) (*webhookSink, *httptest.Server) {
	t.Helper()
	s := &webhookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n notify.Notification
		// The aggregator signs with its (fake, minutes ahead) clock.
		err := notify.VerifyWebhook(key, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), time.Hour)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil || json.Unmarshal(body, &n) != nil {
			s.bad++
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		s.got = append(s.got, n)
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

// find returns the notifications of alert id with status, in order.
func (s *webhookSink) find(id, status string) []notify.Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []notify.Notification
	for _, n := range s.got {
		if n.AlertID == id && n.Status == status {
			out = append(out, n)
		}
	}
	return out
}

// index is the position of the first notification of id with status.
func (s *webhookSink) index(id, status string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, n := range s.got {
		if n.AlertID == id && n.Status == status {
			return i
		}
	}
	return -1
}

// e2eRegion starts an aggregator with the hand-computed region's
// districts, InfluxDB when influxURL is set, and alerts to webhookURL.
func e2eRegion(t *testing.T, keys, broker string, clk *fakeClock, webhookURL string, influx *config.InfluxDB) *Region {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "webhook-secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := twoDistricts(keys, broker)
	cfg.MQTT.ClientID = "region-e2e"
	cfg.MQTT.SweepInterval = -1
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.InfluxDB = influx
	// Alerts wait 30 s of the fake clock: hospitals that have not yet
	// reported while the test starts them never fire.
	cfg.Alerts = &Alerts{For: 30 * time.Second, Receivers: []config.AlertReceiver{{Name: "commission", Type: config.ReceiverWebhook, URL: webhookURL, SecretFile: secret, Timeout: 5 * time.Second}}}
	r, err := New(cfg, Deps{Log: testLog(t), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.alerter.every = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		r.Close()
	})
	eventually(t, 30*time.Second, "aggregator subscribed", func() bool { return r.Sweeps() >= 1 })
	return r
}

func presenceOf(r *Region, hospital, part string) string {
	for _, p := range r.Presence() {
		if p.Hospital == hospital && p.Part == part {
			return p.State
		}
	}
	return ""
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
