package influx

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the writer's self-metrics (prefix icugate_influxdb_).
type metrics struct {
	latency      *prometheus.HistogramVec
	errors       *prometheus.CounterVec
	written      prometheus.Counter
	deadLettered prometheus.Counter
	refused      prometheus.Counter
	up           prometheus.Gauge
	held         prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "icugate_influxdb_write_duration_seconds",
			Help:    "Duration of InfluxDB write requests, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_influxdb_write_errors_total",
			Help: "Failed InfluxDB write requests, by reason (network, server, throttled, unauthorized, forbidden, not_found, rejected, unexpected_answer, bad_point, too_large).",
		}, []string{"reason"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_influxdb_points_written_total",
			Help: "Points accepted by InfluxDB (a point replayed after a crash may count twice).",
		}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_influxdb_points_dead_lettered_total",
			Help: "Points InfluxDB refused for themselves, kept in the dead-letter file.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_influxdb_points_unencodable_total",
			Help: "Points refused before queueing because line protocol cannot carry them (NaN, Inf, bad names).",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_influxdb_up",
			Help: "1 when the last InfluxDB write succeeded, 0 when writes are failing.",
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_influxdb_held",
			Help: "1 when InfluxDB refuses our writes (credentials, permissions, missing database) or something else answers for it: points are held, not dropped.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.latency, m.errors, m.written, m.deadLettered, m.refused, m.up, m.held} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(reason string, d time.Duration) {
	m.latency.WithLabelValues(reason).Observe(d.Seconds())
	if reason != "ok" {
		m.errors.WithLabelValues(reason).Inc()
	}
}
