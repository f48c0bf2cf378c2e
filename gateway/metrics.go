package gateway

import (
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/icugate/icugate/influx"
	"github.com/icugate/icugate/influx/schema"
)

// metrics are the gateway's own: what the engine loop takes and emits.
type metrics struct {
	observations prometheus.Counter
	failed       prometheus.Counter
	unknown      prometheus.Counter
	transitions  *prometheus.CounterVec
	reloads      *prometheus.CounterVec
	reports      prometheus.Counter
	// reportDelivered is when the last report reached every transport.
	reportDelivered prometheus.Gauge
	// reportsOn is 1 while reports are configured and set up.
	reportsOn prometheus.Gauge
	// reportsConfigured is 1 while the site sets report.key_file.
	reportsConfigured prometheus.Gauge
	// appendFailures counts failed attempts to make points durable.
	appendFailures prometheus.Counter
	// gaps counts times the gateway could not observe (stall, stop, clock jump).
	gaps prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, g *Gateway) (*metrics, error) {
	m := &metrics{
		observations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_observations_total", Help: "Observations (polls and messages) taken by the engine.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_observations_failed_total", Help: "Observations that carried an error (failed polls).",
		}),
		unknown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_observations_unknown_total", Help: "Observations for devices the site does not configure.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_transitions_total", Help: "State transitions, by type (device, bed, move) and new state.",
		}, []string{"type", "to"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_reloads_total", Help: "Config reloads, by result (applied, rejected).",
		}, []string{"result"}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_reports_published_total", Help: "Signed capacity reports delivered to every transport.",
		}),
		reportDelivered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_report_last_delivered_timestamp_seconds", Help: "Unix time the last signed capacity report reached every transport (0: none since start). Alert on time() minus this.",
		}),
		reportsOn: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_reports_enabled", Help: "1 while regional reports are configured and working (signing key loaded), 0 when not configured or configured but off (see /readyz).",
		}),
		reportsConfigured: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_reports_configured", Help: "1 while the site configures regional reports (report.key_file set).",
		}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_observation_gaps_total", Help: "Times the gateway could not observe for longer than 2s (its loop held up, the process stopped, the host suspended, or the clock jumped forward); device freshness excuses such gaps.",
		}),
		appendFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_outbox_append_failures_total", Help: "Failed attempts to write points to the outbox (disk full or failing); the points are held in memory and retried.",
		}),
	}
	version, revision := buildVersion(g.opts.Version)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "icugate_build_info",
		Help:        "Build information; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision},
	})
	info.Set(1)
	intakeDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "icugate_intake_depth", Help: "Observations queued for the engine.",
	}, func() float64 { return float64(g.in.depth()) })
	eventsDropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "icugate_events_dropped_total", Help: "Transitions not delivered to a slow event subscriber.",
	}, func() float64 { return float64(g.hub.dropped.Load()) })
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "icugate_outbox_held_points", Help: "Points held in memory because the outbox cannot write them yet.",
	}, func() float64 { return float64(g.spool.held()) })
	var dropped []prometheus.Collector
	for _, c := range []influx.Class{influx.State, influx.Telemetry} {
		dropped = append(dropped, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "icugate_points_dropped_total",
			Help:        "Points given up before reaching the outbox: the memory hold was full while the outbox could not write, or the gateway stopped meanwhile.",
			ConstLabels: prometheus.Labels{"class": c.String()},
		}, func() float64 { return float64(g.spool.droppedOf(c)) }))
	}
	// The site's state (devices, beds, counts), read from the served
	// snapshot at scrape time.
	state := newStateCollector(g.snap.Load, g.now)
	for _, c := range append([]prometheus.Collector{newClockCollector(g.clock), m.observations, m.failed, m.unknown, m.transitions, m.reloads, m.reports, m.reportDelivered, m.reportsOn, m.reportsConfigured, m.appendFailures, m.gaps, info, intakeDepth, eventsDropped, held, state}, dropped...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Process and Go runtime metrics, unless the caller registered them.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m, nil
}

func buildVersion(v string) (version, revision string) {
	version, revision = v, "unknown"
	if version == "" {
		version = "dev"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	return
}

// gatewayPoint is the gateway's own health as an InfluxDB point.
func (g *Gateway) gatewayPoint(hospital string, t time.Time) influx.Point {
	h := schema.GatewayHealth{
		Observations:       g.counts.observations.Load(),
		FailedObservations: g.counts.failed.Load(),
		Transitions:        g.counts.transitions.Load(),
		IntakeDepth:        g.in.depth(),
		EventsDropped:      g.hub.dropped.Load(),
	}
	if g.box != nil {
		st := g.box.Stats()
		h.Outbox = &st
	}
	if g.writer != nil {
		ws := g.writer.Status()
		h.Writer = &ws
	}
	return schema.Gateway(hospital, h, t)
}
