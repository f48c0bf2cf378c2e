package mqtt

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/pipeline"
)

// blockingIntake holds every Offer until released, like a stalled pipeline.
type blockingIntake struct {
	*fakeIntake
	release chan struct{}
}

func (b *blockingIntake) Offer(ctx context.Context, o pipeline.Observation) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.fakeIntake.Offer(ctx, o)
}

func TestSlowPipelineFillsQueueWithoutLosingMessages(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, b.URL(), 1, 0)
	reg := prometheus.NewRegistry()
	d, err := New(site, Options{Registerer: reg, QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	in := &blockingIntake{fakeIntake: newFakeIntake(), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, in) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 5*time.Second, "connected", func() bool { return gathered(reg, "icugate_mqtt_connected", "") == 1 })

	pub := testPublisher(t, b.URL(), "pub")
	const n = 10
	for i := range n {
		publish(t, pub, "devices/vent-1/status", false, ventPayload("SN-vent-1", true, i))
	}
	waitFor(t, 5*time.Second, "queue full counted", func() bool { return gathered(reg, "icugate_mqtt_queue_full_total", "") >= 1 })
	close(in.release)
	defer func() {
		if t.Failed() {
			mfs, _ := reg.Gather()
			for _, mf := range mfs {
				t.Logf("%s %v", mf.GetName(), mf.GetMetric())
			}
		}
	}()
	waitFor(t, 10*time.Second, "every message once the pipeline resumes", func() bool { return len(in.history("vent-1")) == n })
	if gathered(reg, "icugate_mqtt_connected", "") != 1 {
		t.Error("connection lost while the pipeline was slow")
	}
}

func TestConnectRetriesUntilBrokerIsUp(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	b.Stop()
	site := testSite(t, b.URL(), 1, 0)
	in := newFakeIntake()
	reg := prometheus.NewRegistry()
	var logs syncBuffer
	d, err := New(site, Options{Registerer: reg, ConnectRetryInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, in) }()
	defer func() { cancel(); <-done }()
	// Only the first failure (then every tenth) is logged.
	waitFor(t, 5*time.Second, "a failed connect attempt", func() bool {
		return strings.Contains(logs.String(), "mqtt connect failed")
	})
	b.Start()
	waitFor(t, 5*time.Second, "connected once the broker is up", func() bool { return gathered(reg, "icugate_mqtt_connected", "") == 1 })
	publish(t, testPublisher(t, b.URL(), "pub"), "devices/vent-1/status", false, ventPayload("SN-vent-1", true, 1))
	waitFor(t, 5*time.Second, "message", func() bool { return len(in.history("vent-1")) == 1 })
}

func TestStopWhileBrokerDownReturns(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	b.Stop()
	d, err := New(testSite(t, b.URL(), 1, 0), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := d.Run(ctx, newFakeIntake()); err != nil {
		t.Fatalf("Run = %v, want nil on a clean stop", err)
	}
	if err := d.Run(context.Background(), newFakeIntake()); err == nil {
		t.Fatal("second Run accepted")
	}
}

func TestPublishAndWill(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, b.URL(), 1, 0)
	r := startDriver(t, site, newFakeIntake())
	opts := r.d.client.OptionsReader()
	if !opts.WillEnabled() || opts.WillTopic() != "icu/v1/r1/h1/gateway" || string(opts.WillPayload()) != "offline" || !opts.WillRetained() || opts.WillQos() != 1 {
		t.Fatalf("last will: enabled %v topic %q payload %q retained %v qos %d", opts.WillEnabled(), opts.WillTopic(), opts.WillPayload(), opts.WillRetained(), opts.WillQos())
	}
	if opts.CleanSession() || opts.ClientID() != site.MQTT.ClientID || !opts.Order() {
		t.Fatalf("session: clean %v client id %q order %v; want a persistent session with the configured id, in-order delivery", opts.CleanSession(), opts.ClientID(), opts.Order())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.d.Publish(ctx, "icu/v1/r1/h1/capacity", 1, true, []byte(`{"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	c := testPublisher(t, b.URL(), "reader")
	var mu sync.Mutex
	var got string
	c.Subscribe("icu/v1/r1/h1/capacity", 1, func(_ paho.Client, m paho.Message) { mu.Lock(); got = string(m.Payload()); mu.Unlock() })
	waitFor(t, 5*time.Second, "retained report", func() bool { mu.Lock(); defer mu.Unlock(); return got == `{"seq":1}` })
}

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	uf, pf := filepath.Join(dir, "user"), filepath.Join(dir, "pass")
	if os.WriteFile(uf, []byte("icugate\n"), 0o600) != nil || os.WriteFile(pf, []byte("s3cret\r\n"), 0o600) != nil {
		t.Fatal("cannot write credential files")
	}
	u, p, err := credentials(&config.MQTT{UsernameFile: uf, PasswordFile: pf}, Options{})
	if err != nil || u != "icugate" || p != "s3cret" {
		t.Fatalf("from files: %q %q %v", u, p, err)
	}
	t.Setenv("ICUGATE_MQTT_PASSWORD", "from-env")
	if _, p, _ := credentials(&config.MQTT{}, Options{}); p != "from-env" {
		t.Fatalf("from env: %q", p)
	}
	if u, p, _ := credentials(&config.MQTT{UsernameFile: uf, PasswordFile: pf}, Options{Username: "a", Password: "b"}); u != "a" || p != "b" {
		t.Fatalf("override: %q %q", u, p)
	}
	if _, _, err := credentials(&config.MQTT{PasswordFile: filepath.Join(dir, "missing")}, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	site := testSite(t, "tcp://127.0.0.1:1", 1, 0)
	cases := map[string]func(*config.Site){
		"no mqtt.broker":  func(s *config.Site) { s.MQTT = nil },
		"not supported":   func(s *config.Site) { s.MQTT.Broker = "ws://127.0.0.1:1" },
		"ca_file":         func(s *config.Site) { s.MQTT.TLS = &config.TLS{CAFile: "/nonexistent/ca.pem"} },
		"no PEM":          func(s *config.Site) { s.MQTT.TLS = &config.TLS{CAFile: os.Args[0]} },
		"already used by": func(s *config.Site) { s.Devices = append(s.Devices, s.Devices[0]); s.Devices[1].ID = "dup" },
	}
	for want, mutate := range cases {
		s := *site
		m := *site.MQTT
		s.MQTT = &m
		s.Devices = append([]config.Device(nil), site.Devices...)
		mutate(&s)
		if _, err := New(&s, Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: New error %v", want, err)
		}
	}
}

func TestSecretsNotLogged(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, strings.Replace(b.URL(), "tcp://", "tcp://icugate:url-s3cret@", 1), 1, 0)
	pf := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pf, []byte("file-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	site.MQTT.PasswordFile = pf
	var logs syncBuffer
	d, err := New(site, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, newFakeIntake()) }()
	waitFor(t, 5*time.Second, "connected", func() bool { return strings.Contains(logs.String(), "mqtt connected") })
	b.Stop() // connection lost: logged with the broker URL
	waitFor(t, 5*time.Second, "the lost connection logged", func() bool { return strings.Contains(logs.String(), "mqtt connection lost") })
	cancel()
	<-done
	out := logs.String()
	if !strings.Contains(out, "broker=") {
		t.Fatalf("no broker in the log:\n%s", out)
	}
	if strings.Contains(out, "s3cret") {
		t.Fatalf("a secret reached the log:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// paho's keepalive must see every PINGRESP while messages stream in and
// the driver writes its own PUBACKs on the same connection. With a 1 s keepalive paho pings about every second, and a
// PINGRESP it never saw would drop the connection after 1.5 s.
func TestKeepaliveHoldsWhileMessagesStream(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	in := newFakeIntake()
	r := startDriverWith(t, testSite(t, b.URL(), 1, 0), in, Options{KeepAlive: time.Second, PingTimeout: 1500 * time.Millisecond})

	pub := testPublisher(t, b.URL(), "pub")
	const n = 80 // 4 s: several keepalive periods and ping timeouts
	for i := range n {
		publish(t, pub, "devices/vent-1/status", false, ventPayload("SN-vent-1", i%2 == 0, i))
		time.Sleep(50 * time.Millisecond) // the stream spanning several keepalive periods is the scenario
	}
	waitFor(t, 5*time.Second, "every message", func() bool { return len(in.history("vent-1")) == n })
	if lost := r.metric("icugate_mqtt_connection_lost_total", ""); lost != 0 {
		t.Fatalf("connection lost %v times while messages streamed: paho did not see its PINGRESPs", lost)
	}
}
