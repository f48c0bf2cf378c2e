package gateway

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's own: what the engine loop takes and emits.
type metrics struct {
	observations prometheus.Counter
	failed       prometheus.Counter
	unknown      prometheus.Counter
	transitions  *prometheus.CounterVec
	reloads      *prometheus.CounterVec
	reports      prometheus.Counter
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
	}, func() float64 { return float64(len(g.in.ch)) })
	eventsDropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "icugate_events_dropped_total", Help: "Transitions not delivered to a slow event subscriber.",
	}, func() float64 { return float64(g.hub.dropped.Load()) })
	for _, c := range []prometheus.Collector{m.observations, m.failed, m.unknown, m.transitions, m.reloads, m.reports, info, intakeDepth, eventsDropped} {
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
