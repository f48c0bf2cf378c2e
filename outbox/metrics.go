package outbox

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics exposes the outbox's figures (prefix icugate_outbox_) on
// reg; they are read from Stats at scrape time.
func RegisterMetrics(reg prometheus.Registerer, o *Outbox) error {
	stat := func(f func(Stats) float64) func() float64 {
		return func() float64 { return f(o.Stats()) }
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "icugate_outbox_points", Help: "Points waiting for delivery.", ConstLabels: prometheus.Labels{"class": "state"}},
			stat(func(s Stats) float64 { return float64(s.StatePoints) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "icugate_outbox_points", Help: "Points waiting for delivery.", ConstLabels: prometheus.Labels{"class": "telemetry"}},
			stat(func(s Stats) float64 { return float64(s.TelemetryPoints) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "icugate_outbox_bytes", Help: "Disk used by the outbox."},
			stat(func(s Stats) float64 { return float64(s.Bytes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "icugate_outbox_max_bytes", Help: "The outbox's disk budget."},
			stat(func(s Stats) float64 { return float64(s.MaxSize) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "icugate_outbox_lag_seconds", Help: "Age of the oldest waiting point."},
			stat(func(s Stats) float64 { return s.Lag.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "icugate_outbox_dropped_total", Help: "Telemetry points dropped, oldest first, to stay within the disk budget."},
			stat(func(s Stats) float64 { return float64(s.Dropped) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "icugate_outbox_quarantined_total", Help: "Damaged entries set aside in the quarantine directory."},
			stat(func(s Stats) float64 { return float64(s.Quarantined) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "icugate_outbox_torn_total", Help: "Torn last writes skipped at open."},
			stat(func(s Stats) float64 { return float64(s.Torn) })),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
