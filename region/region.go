package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/internal/logthrottle"
)

// Deps are the instance's injected dependencies; zero fields take
// defaults.
type Deps struct {
	Log *slog.Logger
	// Metrics is where self-metrics register and what /metrics serves.
	// Default: a new registry.
	Metrics *prometheus.Registry
	// Sink stores accepted reports. Default: InfluxDB when the config
	// has an influxdb block, else nothing.
	Sink Sink
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Region is one aggregator instance.
type Region struct {
	cfg      *Config
	log      *slog.Logger
	now      func() time.Time
	keys     atomic.Pointer[Registry]
	ledger   *Ledger
	presence *presenceBook
	alerter  *alerter
	// client is the shared-subscription connection while Run runs (the
	// mqtt alert receiver publishes on it).
	client  atomic.Pointer[paho.Client]
	sink    Sink
	closers []func() error
	reg     *prometheus.Registry
	m       *metrics
	// limiter keeps a hostile publisher from flooding the log: one
	// "report rejected" line per outcome per 10 s.
	limiter *logthrottle.Limiter

	queue    chan item
	sweepReq chan struct{}
	sweepMu  sync.Mutex
	addr     atomic.Pointer[string]
	// sweeps counts finished sweeps (also a metric), for callers that
	// wait for the first one.
	sweeps atomic.Uint64
}

// item is one received message waiting for verification. done, when set,
// runs after the message is decided and stored: it acknowledges the MQTT
// message (late ack) or counts down a sweep.
type item struct {
	topic   string
	payload []byte
	src     Source
	done    func()
}

// New builds an instance from cfg: it loads the key registry (an error
// names the entry) and, when configured, the InfluxDB sink.
func New(cfg *Config, deps Deps) (*Region, error) {
	if cfg == nil {
		return nil, errors.New("region: nil config")
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("region: %w", err)
	}
	r := &Region{
		cfg: cfg, log: deps.Log, now: deps.Now, sink: deps.Sink, reg: deps.Metrics,
		queue:    make(chan item, cfg.MQTT.Queue),
		sweepReq: make(chan struct{}, 1),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("region", cfg.Region)
	if r.now == nil {
		r.now = time.Now
	}
	r.limiter = logthrottle.New(1, 10*time.Second, r.now)
	if r.reg == nil {
		r.reg = prometheus.NewRegistry()
	}
	keys, err := LoadRegistry(cfg.KeysFile, cfg.Districts)
	if err != nil {
		return nil, fmt.Errorf("region: %w", err)
	}
	r.keys.Store(keys)
	r.ledger = NewLedger(cfg, r.keys.Load)
	r.presence = newPresenceBook()
	if r.sink == nil && cfg.InfluxDB != nil {
		s, err := NewInfluxSink(cfg.InfluxDB)
		if err != nil {
			return nil, fmt.Errorf("region: %w", err)
		}
		r.sink = s
		r.closers = append(r.closers, s.Close)
	}
	r.m = newMetrics(r.reg, r)
	if cfg.Alerts != nil {
		if r.alerter, err = newAlerter(cfg, r.log, r.now, r.publishMQTT, r.m); err != nil {
			r.Close()
			return nil, fmt.Errorf("region: %w", err)
		}
	}
	return r, nil
}

// Reload reads the keys file again and swaps the registry in. On an error
// the old registry stays and the error says what is wrong.
func (r *Region) Reload() error {
	keys, err := LoadRegistry(r.cfg.KeysFile, r.cfg.Districts)
	if err != nil {
		r.log.Error("key registry reload rejected; keeping the old one", "err", err)
		return fmt.Errorf("region: reload: %w", err)
	}
	r.keys.Store(keys)
	r.presence.prune(keys)
	r.log.Info("key registry reloaded", "hospitals", len(keys.Hospitals()), "keys", keys.Keys())
	return nil
}

// View is this instance's view of the region now.
func (r *Region) View() View {
	return Summarise(r.cfg, r.keys.Load(), r.ledger.Entries(), r.presence.list(), r.now(), "instance")
}

// Presence returns every registered gateway's last presence message.
func (r *Region) Presence() []Presence { return r.presence.list() }

// Entries returns this instance's latest accepted report per hospital.
func (r *Region) Entries() []Entry { return r.ledger.Entries() }

// Counts returns how many reports had each outcome, by source.
func (r *Region) Counts() map[Source]map[Outcome]uint64 { return r.ledger.Counts() }

// Addr is the HTTP API's bound address once Run has started it, else "".
func (r *Region) Addr() string {
	if a := r.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// Sweeps is how many retained sweeps finished; the first one follows
// the shared subscription, so Sweeps() > 0 means the instance is live.
func (r *Region) Sweeps() uint64 { return r.sweeps.Load() }

// Close releases the sink. Call it after Run returned.
func (r *Region) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Run connects to the broker, subscribes, verifies and stores reports,
// sweeps retained reports and serves the HTTP API until ctx ends. It
// returns nil on a clean stop; every goroutine it starts has stopped
// when it returns.
func (r *Region) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel() // before waiting: the goroutines stop on ctx
		wg.Wait()
	}()
	if r.cfg.HTTP.Listen != "-" {
		ln, err := net.Listen("tcp", r.cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("region: http listen %s: %w", r.cfg.HTTP.Listen, err)
		}
		a := ln.Addr().String()
		r.addr.Store(&a)
		srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.log.Error("http server stopped", "err", err)
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		})
		r.log.Info("http api listening", "addr", a)
	}
	wg.Go(func() { r.work(ctx) })
	client, err := r.subscribe(ctx)
	if err != nil {
		return err
	}
	r.client.Store(&client)
	wg.Go(func() { r.sweeper(ctx) })
	if r.alerter != nil {
		wg.Go(func() { r.alerter.run(ctx, r.alertView) })
	}
	<-ctx.Done()
	wg.Wait() // the alerter may still publish on the client
	r.client.Store(nil)
	client.Disconnect(250)
	r.m.connected.Set(0)
	return nil
}

// alertView is the view the alerter judges, or false while the instance
// has not yet learnt the region (before its first sweep every hospital
// would look never reported).
func (r *Region) alertView() (View, bool) {
	if r.Sweeps() == 0 {
		return View{}, false
	}
	return r.View(), true
}

// publishMQTT publishes on the instance's broker connection, for the mqtt
// alert receiver.
func (r *Region) publishMQTT(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	c := r.client.Load()
	if c == nil || !(*c).IsConnectionOpen() {
		return errors.New("not connected to the broker")
	}
	tok := (*c).Publish(topic, qos, retained, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// work decides each queued message, stores accepted reports, then runs the
// message's done (the MQTT ack).
func (r *Region) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-r.queue:
			r.handle(ctx, it)
		}
	}
}

func (r *Region) handle(ctx context.Context, it item) { r.decide(ctx, it) }

// decide runs one message through the ledger, the sink, the metrics and
// the log, then it.done.
func (r *Region) decide(ctx context.Context, it item) Verdict {
	v := r.ledger.Ingest(it.topic, it.payload, it.src, r.now())
	r.m.reports.WithLabelValues(string(it.src), string(v.Outcome)).Inc()
	switch v.Outcome {
	case Accepted:
		if r.sink != nil {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			o := Origin{Part: v.Part}
			if h, ok := r.keys.Load().Hospital(v.Hospital); ok {
				o.District = h.District
			}
			err := r.sink.Write(wctx, v.Report, o)
			cancel()
			if err != nil {
				r.m.writes.WithLabelValues("error").Inc()
				r.log.Error("store accepted report", "hospital", v.Hospital, "part", v.Part, "sequence", v.Sequence, "err", err)
			} else {
				r.m.writes.WithLabelValues("ok").Inc()
			}
		}
	case Duplicate:
	default:
		// A misbehaving or hostile publisher must not flood the log.
		if ok, n := r.limiter.Allow(string(v.Outcome)); ok {
			r.log.Warn("report rejected", "reason", v.Outcome, "hospital", v.Hospital, "part", v.Part, "topic", it.topic, "source", it.src, "suppressed", n, "err", v.Err)
		}
	}
	if it.done != nil {
		it.done()
	}
	return v
}

// enqueue hands a message to the worker, waiting (and counting) when the
// queue is full; it gives up when ctx ends.
func (r *Region) enqueue(ctx context.Context, it item) bool {
	select {
	case r.queue <- it:
		return true
	default:
	}
	r.m.queueWait.Inc()
	select {
	case r.queue <- it:
		return true
	case <-ctx.Done():
		return false
	}
}
