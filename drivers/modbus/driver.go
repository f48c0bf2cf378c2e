// Package modbus polls Modbus devices (TCP, RTU over a serial line, RTU
// framed over a raw TCP tunnel) as their profiles describe and hands each
// poll's decoded values, or its error, to the pipeline as an Observation.
//
// It is read-only: the planner builds only requests with function codes 1-4
// (read coils, discrete inputs, holding and input registers), and nothing
// else can be sent.
//
// Polling discipline, the Prometheus scrape loop adapted to shared lines:
// every device has its own goroutine and ticker, started at an offset
// derived from its id so that devices spread over the interval. Devices on
// one endpoint share a pool of at most MaxConns connections and are polled
// in turn. After any error other than a Modbus exception the connection is
// closed and the next poll dials a fresh one, because a late answer left
// on a connection would otherwise be read as the answer to the next
// request. A unit that keeps timing out is polled ever less often
// (exponential, capped) so that it cannot eat its neighbours' time.
package modbus

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// Options are the driver's dependencies and knobs.
type Options struct {
	// Logger receives transitions (device failing, recovered); default
	// slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the driver's metrics (metrics.go).
	Registerer prometheus.Registerer
	// Devices, when set, selects which of the site's modbus devices this
	// driver polls (e.g. one device for a test, or a reload's new set).
	Devices func(d *config.Device) bool
	// MaxUnitBackoff caps how long a unit that keeps timing out is left
	// alone between attempts; default 30s, and never more than 16 of the
	// device's intervals.
	MaxUnitBackoff time.Duration
}

// Driver polls the modbus devices of a site. It implements pipeline.Driver.
type Driver struct {
	log       *slog.Logger
	devices   []*device
	endpoints []*endpoint
	metrics   *metrics
}

var _ pipeline.Driver = (*Driver)(nil)

// New builds a driver for every modbus device of the site (that
// opts.Devices selects). Each profile's reads are planned once here.
func New(site *config.Site, opts Options) (*Driver, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxUnitBackoff <= 0 {
		opts.MaxUnitBackoff = 30 * time.Second
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	d := &Driver{log: opts.Logger, metrics: m}
	plans := map[string]*Plan{}
	eps := map[string]*endpoint{}
	for i := range site.Devices {
		dev := &site.Devices[i]
		if dev.Modbus == nil || (opts.Devices != nil && !opts.Devices(dev)) {
			continue
		}
		prof := site.Profiles[dev.Profile]
		if prof == nil {
			return nil, fmt.Errorf("device %s: profile %q not loaded", dev.ID, dev.Profile)
		}
		plan, ok := plans[dev.Profile]
		if !ok {
			if plan, err = NewPlan(prof); err != nil {
				return nil, fmt.Errorf("device %s: %w", dev.ID, err)
			}
			plans[dev.Profile] = plan
		}
		key := dev.Transport() + " " + dev.Modbus.Endpoint()
		ep := eps[key]
		if ep == nil {
			ep = newEndpoint(key, dev.Modbus)
			eps[key] = ep
			d.endpoints = append(d.endpoints, ep)
		}
		d.devices = append(d.devices, newDevice(dev, prof, plan, ep, m, opts))
	}
	return d, nil
}

// Devices returns the ids of the devices the driver polls.
func (d *Driver) Devices() []string {
	ids := make([]string, len(d.devices))
	for i, dv := range d.devices {
		ids[i] = dv.id
	}
	return ids
}

// Run polls every device until ctx ends, then closes every connection. No
// goroutine outlives it. Offering to the intake blocks the offering
// device's loop only (never its neighbours'); ticks missed meanwhile are
// skipped, not queued.
func (d *Driver) Run(ctx context.Context, in pipeline.Intake) error {
	var wg sync.WaitGroup
	for _, dv := range d.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dv.loop(ctx, in, d.log)
		}()
	}
	wg.Wait()
	for _, ep := range d.endpoints {
		ep.closeAll()
	}
	return nil
}

// offsetSlots is how many start slots an interval is divided into.
// Devices whose ids hash to one slot wake together, so that one scheduler
// wake-up can serve several polls, while the load stays spread over the
// interval (10 ms slots at 1 Hz).
const offsetSlots = 100

// startOffset spreads devices over their interval, stable across restarts
// (as Prometheus does with target hashes).
func startOffset(id string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	slot := interval / offsetSlots
	if slot <= 0 {
		return 0
	}
	return time.Duration(h.Sum64()%offsetSlots) * slot
}

func (dv *device) loop(ctx context.Context, in pipeline.Intake, log *slog.Logger) {
	t := time.NewTimer(startOffset(dv.id, dv.interval))
	select {
	case <-ctx.Done():
		t.Stop()
		return
	case <-t.C:
	}
	tick := time.NewTicker(dv.interval)
	defer tick.Stop()
	for {
		obs := dv.poll(ctx)
		if ctx.Err() != nil {
			return
		}
		dv.report(obs.Err, log)
		if err := in.Offer(ctx, obs); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// report logs a device's transitions between failing and healthy, not
// every poll, so a dead device cannot flood the log.
func (dv *device) report(err error, log *slog.Logger) {
	reason := Reason(err)
	if reason == ReasonBackoff {
		return
	}
	if reason == dv.lastReason {
		return
	}
	if err == nil {
		log.Info("modbus device answering", "device", dv.id, "endpoint", dv.ep.key)
	} else {
		log.Warn("modbus device failing", "device", dv.id, "endpoint", dv.ep.key, "reason", reason, "err", err)
	}
	dv.lastReason = reason
}
