// Package mqtt is the MQTT transport: it subscribes to the status topics of
// a site's MQTT devices on one broker connection, decodes their JSON
// payloads by the device profiles, and hands the pipeline one observation
// per good message.
//
// Delivery is at least once, end to end: QoS 1, a persistent session
// (CleanSession=false, stable client id) so the broker keeps what devices
// publish while the gateway is away, and acknowledgement only once the
// pipeline took the observation (see acker). Bad messages are counted per
// reason, logged with rate limiting, acknowledged and dropped: they never
// change a device's state, except through the freshness rule the engine
// applies when good messages stop.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/backoff"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/report"
)

// Defaults of Options.
const (
	DefaultQueueSize            = 1024
	DefaultMaxFutureSkew        = 5 * time.Minute
	DefaultMaxReconnectInterval = 5 * time.Second
	DefaultConnectRetryInterval = 1 * time.Second
	DefaultKeepAlive            = 30 * time.Second
	// waitTimeout bounds every wait on a paho token made from a callback,
	// so no callback goroutine can hang on a dead connection.
	waitTimeout = 10 * time.Second
)

// Options are the driver's dependencies and tunables; the zero value of
// each field takes its default.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Username and Password, when set, override the site's credential
	// files (tests).
	Username string
	Password string
	// Now is the clock for receipt times and time checks (tests).
	Now func() time.Time
	// QueueSize bounds the decoded messages waiting for the pipeline. Keep
	// the broker's max_inflight_messages at most half of it: every queued
	// message is unacknowledged, so the broker's window then bounds the
	// queue and paho's delivery goroutine never waits.
	QueueSize int
	// MaxFutureSkew is how far in the future a device timestamp may be
	// before the message is refused.
	MaxFutureSkew time.Duration
	// MaxReconnectInterval caps the reconnect backoff.
	MaxReconnectInterval time.Duration
	// ConnectRetryInterval is the first wait after a failed connection
	// attempt; it doubles up to MaxReconnectInterval.
	ConnectRetryInterval time.Duration
	// KeepAlive is the MQTT keepalive.
	KeepAlive time.Duration
	// PingTimeout is how long paho waits for the broker's PINGRESP before
	// it declares the connection lost; default 10s.
	PingTimeout time.Duration
}

// Driver is the MQTT transport of one site. It implements pipeline.Driver.
type Driver struct {
	site     *config.Site
	opts     Options
	log      *slog.Logger
	routes   *routing
	metrics  *metrics
	drops    *dropLog
	acks     *acker
	queue    chan pipeline.Observation
	stopping chan struct{}
	lost     chan struct{} // signalled by OnConnectionLost
	client   paho.Client
	// scratch is the decoding buffers of handle, which paho calls on one
	// goroutine at a time: one router goroutine per connection, and a
	// connection's router has returned before connectLoop connects again.
	scratch  *scratch
	presence string
	maxBytes int
	started  atomic.Bool
	// up is true between a completed connect (subscriptions and presence
	// done) and the loss of that connection.
	up       atomic.Bool
	stopOnce sync.Once

	// downMu guards downSince and downErr: since when the broker cannot
	// be reached (zero while connected) and the last connect error.
	downMu    sync.Mutex
	downSince time.Time
	downErr   string
}

// Unreachable reports since when the driver has had no broker connection
// (zero while connected) and why, for health: a broker out of reach for
// long means MQTT devices are not heard and reports over MQTT wait.
func (d *Driver) Unreachable() (since time.Time, reason string) {
	d.downMu.Lock()
	defer d.downMu.Unlock()
	return d.downSince, d.downErr
}

// setDown records the broker out of reach from now, unless it already is;
// an empty reason keeps the previous one.
func (d *Driver) setDown(reason string) {
	d.downMu.Lock()
	defer d.downMu.Unlock()
	if d.downSince.IsZero() {
		d.downSince = time.Now()
	}
	if reason != "" {
		d.downErr = reason
	}
}

// New builds the driver of a site's MQTT devices. It reads the credential
// files and TLS material now, so a bad path fails at start, not at the
// first reconnect. It does not connect; Run does.
func New(site *config.Site, opts Options) (*Driver, error) {
	if site == nil || site.MQTT == nil || site.MQTT.Broker == "" {
		return nil, errors.New("mqtt: the site has no mqtt.broker; set mqtt: {broker: tcp://host:1883} in the site config")
	}
	if err := checkScheme(site.MQTT.Broker); err != nil {
		return nil, err
	}
	opts = withDefaults(opts)
	routes, err := buildRouting(site)
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	d := &Driver{
		site:     site,
		opts:     opts,
		log:      opts.Logger.With("component", "mqtt"),
		routes:   routes,
		acks:     newAcker(),
		queue:    make(chan pipeline.Observation, opts.QueueSize),
		stopping: make(chan struct{}),
		lost:     make(chan struct{}, 1),
		scratch:  &scratch{},
		presence: PresenceTopic(site),
		maxBytes: site.MQTT.MaxMessageBytes,
	}
	if d.maxBytes <= 0 {
		d.maxBytes = 65536
	}
	d.drops = newDropLog(d.log, opts.Now, 10*time.Second)
	if d.metrics, err = newMetrics(opts.Registerer, func() float64 { return float64(d.acks.depth()) }); err != nil {
		return nil, err
	}
	co, err := d.clientOptions()
	if err != nil {
		return nil, err
	}
	d.client = paho.NewClient(co)
	return d, nil
}

func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = waitTimeout
	}
	if o.MaxFutureSkew <= 0 {
		o.MaxFutureSkew = DefaultMaxFutureSkew
	}
	if o.MaxReconnectInterval <= 0 {
		o.MaxReconnectInterval = DefaultMaxReconnectInterval
	}
	if o.ConnectRetryInterval <= 0 {
		o.ConnectRetryInterval = DefaultConnectRetryInterval
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	return o
}

// PresenceTopic is where the gateway announces itself: retained "online"
// on connect, and "offline" as its last will and on a clean stop. One per
// report part (report.PresenceTopic), so the gateways of one hospital do
// not overwrite each other's presence.
func PresenceTopic(site *config.Site) string {
	region := site.Hospital.Region
	if region == "" {
		region = "default"
	}
	return report.PresenceTopic(region, site.Hospital.ID, site.Report.Part)
}

// Run connects, subscribes and hands observations to in until ctx ends.
// It returns nil on a clean stop. A Driver runs once.
func (d *Driver) Run(ctx context.Context, in pipeline.Intake) error {
	if !d.started.CompareAndSwap(false, true) {
		return errors.New("mqtt: driver already ran; build a new one")
	}
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		d.forward(ctx, in)
	}()

	d.log.Info("mqtt connecting", "broker", d.brokerForLog(), "client_id", d.clientID(), "subscriptions", len(d.routes.filters))
	d.setDown("not connected yet")
	d.connectLoop(ctx)

	d.stopOnce.Do(func() { close(d.stopping) })
	<-workerDone
	if d.client.IsConnectionOpen() {
		// A clean DISCONNECT discards the last will, so say offline first.
		pub := d.client.Publish(d.presence, 1, true, "offline")
		pub.WaitTimeout(time.Second)
	}
	// Acks already given are in the connection's write buffer, ahead of
	// the DISCONNECT; closing the connection flushes them.
	d.client.Disconnect(250)
	d.metrics.connected.Set(0)
	d.log.Info("mqtt stopped")
	return nil
}

// connectLoop connects, and reconnects whenever the connection is lost,
// with a backoff from ConnectRetryInterval doubling up to
// MaxReconnectInterval (with jitter, so gateways that lost the same broker
// do not return in lockstep), until ctx ends.
//
// The loop is ours rather than paho's AutoReconnect/ConnectRetry because
// paho's backoff sleep cannot be interrupted: a stop while the broker was
// down left paho goroutines running for up to MaxReconnectInterval after
// Run returned. Here every wait watches ctx, and paho runs one connection
// attempt at a time (bounded by its connect timeout).
func (d *Driver) connectLoop(ctx context.Context) {
	retry := backoff.Exponential{Min: d.opts.ConnectRetryInterval, Max: d.opts.MaxReconnectInterval}
	failures := 0
	for {
		// paho calls OnConnectionLost only after the old connection's
		// handlers have returned, so from here on every message belongs to
		// the new connection and the old one's acks are void.
		d.acks.newEpoch(nil)
		tok := d.client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return
		}
		if err := tok.Error(); err != nil {
			d.setDown(err.Error())
			wait := retry.Delay(failures)
			failures++
			if failures == 1 || failures%10 == 0 { // a dead broker must not flood the log
				d.log.Warn("mqtt connect failed; retrying", "broker", d.brokerForLog(), "err", err, "attempts", failures, "retry_in", wait)
			}
			if !sleep(ctx, wait) {
				return
			}
			continue
		}
		failures = 0
		d.onConnect(d.client)
		d.up.Store(true)
		d.downMu.Lock()
		d.downSince, d.downErr = time.Time{}, ""
		d.downMu.Unlock()
		// "Connected" means subscribed and announced: from here on a
		// message for a device is delivered, and Publish works.
		d.metrics.connected.Set(1)
		select {
		case <-d.lost:
			d.setDown("connection lost")
		case <-ctx.Done():
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// forwardLinger is how long forward lets the queue fill after it woke for
// a message, before it hands on what gathered: paho delivers a burst (see
// readLinger) one message at a time, and a forward goroutine woken for each
// of them cost a scheduler wake-up per message (BenchmarkThroughput). It
// delays an observation by at most this much.
const forwardLinger = time.Millisecond

// forward hands queued observations to the pipeline, one Offer each. It
// waits for a message, lets the rest of its burst gather (forwardLinger),
// then drains the queue without parking in between. Offer may block (the
// intake is bounded); the queue then fills and, once full, paho's delivery
// waits too (counted in queue_full_total).
func (d *Driver) forward(ctx context.Context, in pipeline.Intake) {
	for {
		var o pipeline.Observation
		select {
		case o = <-d.queue:
		case <-ctx.Done():
			return
		}
		if !sleep(ctx, forwardLinger) {
			return
		}
		for {
			if err := in.Offer(ctx, o); err != nil {
				return
			}
			d.metrics.accepted.Inc()
			select {
			case o = <-d.queue:
				continue
			default:
			}
			break
		}
		d.metrics.queueDepth.Set(0)
	}
}

// Publish sends one message on the driver's connection (e.g. the regional
// capacity report). It waits for the broker's acknowledgement at QoS 1, or
// until ctx ends.
func (d *Driver) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	// Only once a connection is fully up (paho's resume step done): paho
	// re-sends stored publishes from resume, setting their DUP flag while
	// its writer may be writing them (a data race inside paho v1.5.1, seen
	// under -race). The caller keeps the message and tries again.
	if !d.up.Load() || !d.client.IsConnectionOpen() {
		return fmt.Errorf("mqtt publish %s: not connected to the broker yet", topic)
	}
	tok := d.client.Publish(topic, qos, retained, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt publish %s: %w", topic, ctx.Err())
	}
}
