// Package gateway wires icugate together and owns its lifecycle: drivers
// feed the engine through a bounded intake; one goroutine owns the engine;
// transitions, telemetry and counts go to the durable outbox in front of
// InfluxDB, to event subscribers and to the regional report; the state
// that must survive a restart goes to a small store. Start, reload and
// stop happen here and nowhere else.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/alerts"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/mqtt"
	"github.com/icugate/icugate/influx"
	"github.com/icugate/icugate/internal/clockwatch"
	"github.com/icugate/icugate/outbox"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/store"
)

// Options are the gateway's dependencies.
type Options struct {
	// SitePath is the site config file; reloads read it again.
	SitePath string
	// DataDir holds the state store (state.db) and, unless the site sets
	// outbox.dir, the outbox. Default: the site's outbox dir's parent.
	DataDir string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registry receives every self-metric and is served on /metrics;
	// default a new registry.
	Registry *prometheus.Registry
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MQTT options passed to the MQTT driver (tests set credentials).
	MQTT mqtt.Options
	// Listener, when set, is used for the HTTP API instead of listening
	// on http.listen (tests pass 127.0.0.1:0).
	Listener net.Listener
	// NoAPI disables the HTTP API (tests of the engine loop alone).
	NoAPI bool
	// Version is the build's version, for icugate_build_info.
	Version string
}

// Gateway is one running icugate. Build it with New, run it with Run.
type Gateway struct {
	opts Options
	log  *slog.Logger
	reg  *prometheus.Registry
	now  func() time.Time
	m    *metrics

	siteMu sync.RWMutex
	site   *config.Site

	store   *store.Store
	in      *intake
	cmds    chan engineCmd
	hub     *hub
	snap    atomic.Pointer[pipeline.Snapshot]
	details *details
	drivers *driverSet
	spool   *spool
	box     *outbox.Outbox
	writer  *influx.Writer
	ready   atomic.Bool
	running atomic.Bool
	counts  counters
	apiAddr string
	// api is the HTTP server once started; reloads replace its access.
	api atomic.Pointer[apiServer]
	// clock estimates this machine's clock offset from servers' answers.
	clock *clockwatch.Watch
	// cert is the HTTPS certificate when http.tls is set; reloads swap it.
	cert   atomic.Pointer[servingCert]
	health *health
	// alerts is set by Run once the store is open.
	alerts atomic.Pointer[alerts.Manager]
	// startedAt is when Run started; nil before.
	startedAt atomic.Pointer[time.Time]

	// appendFailing and appendLogged belong to the output goroutine.
	appendFailing bool
	appendLogged  time.Time
}

// counters are totals since start for the gateway measurement.
type counters struct {
	observations, failed, transitions atomic.Uint64
}

// New prepares a gateway for a loaded, valid site. It opens nothing yet.
func New(site *config.Site, opts Options) (*Gateway, error) {
	if site == nil {
		return nil, errors.New("gateway: nil site")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DataDir == "" {
		opts.DataDir = filepath.Dir(site.Outbox.Dir)
	}
	if opts.SitePath == "" {
		opts.SitePath = site.File
	}
	g := &Gateway{
		opts:    opts,
		log:     opts.Logger,
		reg:     opts.Registry,
		now:     opts.Now,
		site:    site,
		in:      newIntake(),
		cmds:    make(chan engineCmd),
		hub:     newHub(),
		details: newDetails(),
		spool:   newSpool(spoolLimit),
		health:  newHealth(),
		// The real clock: what is watched is this machine's clock.
		clock: clockwatch.New(nil),
	}
	m, err := newMetrics(g.reg, g)
	if err != nil {
		return nil, err
	}
	g.m = m
	return g, nil
}

// Site returns the configuration in force.
func (g *Gateway) Site() *config.Site {
	g.siteMu.RLock()
	defer g.siteMu.RUnlock()
	return g.site
}

// Registry is where the gateway's metrics are registered.
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// Run runs the gateway until ctx ends, then stops in order: drivers first
// (no new observations), then the engine loop after it has taken every
// queued observation, then the outputs after the last points are durable.
// Run returns an error when it cannot start (a locked data dir, an
// unreadable secret) or when stopping loses something.
func (g *Gateway) Run(ctx context.Context) error {
	if !g.running.CompareAndSwap(false, true) {
		return errors.New("gateway: Run called twice")
	}
	site := g.Site()
	st, err := store.Open(filepath.Join(g.opts.DataDir, "state.db"))
	if err != nil {
		return err
	}
	g.store = st
	defer st.Close()
	if from, ok := st.MigratedFrom(); ok {
		g.log.Info("state store migrated to this version's format", "file", filepath.Join(g.opts.DataDir, "state.db"), "from", from, "to", store.Format)
	}
	now := g.now()
	g.startedAt.Store(&now)
	am, err := g.newAlerts()
	if err != nil {
		return err
	}
	g.alerts.Store(am)

	eng, err := pipeline.New(site, g.now())
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	g.restore(eng)

	if err := g.openOutputs(site); err != nil {
		return err
	}
	// Each stage has its own context so that stopping goes in order, not
	// all at once: drivers, then the engine loop, then the outputs.
	base := context.WithoutCancel(ctx)
	outCtx, stopOut := context.WithCancel(base)
	var outWG sync.WaitGroup
	if g.writer != nil {
		outWG.Add(1)
		go func() {
			defer outWG.Done()
			if err := g.writer.Run(outCtx); err != nil && outCtx.Err() == nil {
				g.log.Error("influxdb writer stopped", "err", err)
			}
		}()
	}
	outDone := make(chan struct{})
	go func() { defer close(outDone); g.output(outCtx) }()

	loopCtx, stopLoop := context.WithCancel(base)
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); g.loop(loopCtx, eng) }()

	drvCtx, stopDrivers := context.WithCancel(base)
	g.drivers = &driverSet{log: g.log, reg: g.reg, in: g.in, mqttOp: g.opts.MQTT, base: drvCtx}

	apiCtx, stopAPI := context.WithCancel(base)
	var apiWG sync.WaitGroup

	alertCtx, stopAlerts := context.WithCancel(base)
	alertsDone := make(chan struct{})
	go func() { defer close(alertsDone); am.Run(alertCtx) }()

	shutdown := func() error {
		g.ready.Store(false)
		stopAPI()
		apiWG.Wait()
		// What alerts queued stays in the store for the next start.
		stopAlerts()
		<-alertsDone
		g.log.Info("stopping: drivers")
		stopDrivers()
		g.drivers.stop()
		g.log.Info("stopping: engine")
		stopLoop()
		<-loopDone
		g.spool.close()
		<-outDone
		g.log.Info("stopping: outputs")
		g.drainOutbox(drainTimeout)
		stopOut()
		outWG.Wait()
		return g.closeOutputs()
	}

	if err := g.drivers.apply(site); err != nil {
		return errors.Join(err, shutdown())
	}
	if !g.opts.NoAPI {
		if err := g.startAPI(apiCtx, &apiWG); err != nil {
			return errors.Join(err, shutdown())
		}
	}
	repCtx, stopReporter := context.WithCancel(base)
	repDone := make(chan struct{})
	go func() { defer close(repDone); g.runReporter(repCtx) }()
	defer func() { stopReporter(); <-repDone }()
	g.ready.Store(true)
	g.log.Info("icugate running", "hospital", site.Hospital.ID, "summary", site.Summary())
	<-ctx.Done()
	return shutdown()
}

// drainTimeout bounds how long a stop waits for InfluxDB to take what is
// queued. What it does not take stays in the outbox for the next start.
const drainTimeout = 5 * time.Second

// drainOutbox waits until the outbox is empty or the timeout passes.
func (g *Gateway) drainOutbox(timeout time.Duration) {
	if g.box == nil {
		return
	}
	deadline := time.Now().Add(timeout)
	for g.box.Stats().Points() > 0 {
		if time.Now().After(deadline) {
			g.log.Warn("stopping with points still queued; they are delivered after the next start",
				"points", g.box.Stats().Points())
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openOutputs opens the outbox and the InfluxDB writer when the site has
// an influxdb block.
func (g *Gateway) openOutputs(site *config.Site) error {
	if site.InfluxDB == nil {
		g.log.Warn("no influxdb configured: states and counts are served on the API only, not stored")
		return nil
	}
	box, err := outbox.Open(outbox.Options{
		Dir:     site.Outbox.Dir,
		MaxSize: int64(site.Outbox.MaxSize),
		Logger:  g.log.With("component", "outbox"),
		Now:     g.now,
	})
	if err != nil {
		return fmt.Errorf("outbox %s: %w", site.Outbox.Dir, err)
	}
	if err := outbox.RegisterMetrics(g.reg, box); err != nil {
		box.Close()
		return err
	}
	w, err := influx.NewWriter(site.InfluxDB, influx.Deps{
		Queue:          box,
		DeadLetterPath: filepath.Join(site.Outbox.Dir, "dead-letter.jsonl"),
		Registerer:     g.reg,
		Logger:         g.log.With("component", "influxdb"),
		OnAnswer:       g.clockObserver("influxdb"),
	})
	if err != nil {
		box.Close()
		return err
	}
	g.box, g.writer = box, w
	return nil
}

func (g *Gateway) closeOutputs() error {
	var errs []error
	if g.writer != nil {
		errs = append(errs, g.writer.Close())
	}
	if g.box != nil {
		errs = append(errs, g.box.Close())
	}
	return errors.Join(errs...)
}

// Ready is nil once the gateway polls and serves.
func (g *Gateway) Ready() error {
	if !g.ready.Load() {
		return errors.New("starting or stopping")
	}
	return nil
}

// Degraded lists, in plain sentences, each configured capability that is
// not working right now, as "source: reason", sorted by source; empty when
// all is well.
func (g *Gateway) Degraded() []string {
	h := &health{reasons: g.degradedBySource()}
	return h.list()
}

// Health bounds: how long a capability may be out before health says so.
const (
	// brokerDownAfter: a broker restart is not an incident; a broker out
	// of reach for a minute means MQTT devices go unheard.
	brokerDownAfter = time.Minute
	// noDeviceFreshAfter: after a start, devices get this long to answer
	// before "no device answers" is a reason.
	noDeviceFreshAfter = time.Minute
)

// degradedBySource is Degraded by source: the reasons parts set as they
// fail (reports, state store, outbox writes), and those read from the
// parts now (InfluxDB held, outbox over budget, broker out of reach, no
// device answering, alert receivers failing).
func (g *Gateway) degradedBySource() map[string]string {
	by := g.health.bySource()
	add := func(src, reason string) {
		if prev := by[src]; prev != "" {
			reason = prev + "; " + reason
		}
		by[src] = reason
	}
	// The parts Run opens are read only once it is ready (ready is set
	// after they are, and cleared before they close).
	if g.ready.Load() {
		if g.writer != nil {
			if st := g.writer.Status(); st.State == "held" {
				add("influxdb", fmt.Sprintf("the server refuses points (%s: %s); every point waits in the outbox until this is fixed", st.Reason, st.Message))
			}
		}
		if g.box != nil {
			if st := g.box.Stats(); st.OverBudget {
				add("outbox", fmt.Sprintf("%d bytes waiting exceed the %d-byte budget; new telemetry is dropped", st.Bytes, st.MaxSize))
			}
		}
		if d := g.drivers.mqttDriver(); d != nil {
			if since, why := d.Unreachable(); !since.IsZero() && g.now().Sub(since) >= brokerDownAfter {
				broker := "(none)"
				if m := g.Site().MQTT; m != nil {
					broker = m.Broker
				}
				add("mqtt", fmt.Sprintf("the broker %s has been out of reach for %s (%s): MQTT devices are not heard and reports over MQTT wait",
					broker, g.now().Sub(since).Round(time.Second), why))
			}
		}
	}
	now := g.now()
	if started := g.startedAt.Load(); started != nil && now.Sub(*started) >= noDeviceFreshAfter {
		if snap := g.snap.Load(); snap != nil && len(snap.Devices) > 0 && !slices.ContainsFunc(snap.Devices, func(d pipeline.DeviceStatus) bool { return d.Fresh }) {
			add("devices", fmt.Sprintf("none of the %d configured devices has answered within its freshness window: counts are not verified (is the device network down?)", len(snap.Devices)))
		}
	}
	if am := g.alerts.Load(); am != nil {
		if r := am.Health(); r != "" {
			add("alerts", r)
		}
	}
	if r := g.clockReason(); r != "" {
		add("clock", r)
	}
	return by
}

// Snapshot is the latest snapshot of the engine (at most a second old).
func (g *Gateway) Snapshot() pipeline.Snapshot {
	if s := g.snap.Load(); s != nil {
		return *s
	}
	return pipeline.Snapshot{}
}

// do runs fn on the engine loop and waits for it, so that admin events and
// reloads are serialised with observations (never concurrent with them).
// It is not ordered after observations already waiting in the intake: the
// loop takes whichever is ready first.
func (g *Gateway) do(ctx context.Context, fn func(*pipeline.Engine)) error {
	done := make(chan struct{})
	select {
	case g.cmds <- engineCmd{fn: fn, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// engineCmd is work done on the engine loop; done is closed once its
// effects are in the served snapshot.
type engineCmd struct {
	fn   func(*pipeline.Engine)
	done chan struct{}
}
