package region

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the instance's self-metrics, registered on the injected
// registry with the project's icugate_ prefix. Per-district series are
// bounded by the configured districts, per-hospital and per-part series
// by the registry.
type metrics struct {
	reports   *prometheus.CounterVec
	presence  *prometheus.CounterVec
	writes    *prometheus.CounterVec
	queueWait prometheus.Counter
	sweeps    prometheus.Counter
	connected prometheus.Gauge
	// notifications counts alert deliveries by receiver and result (sent,
	// failed, dropped); firing is the alerts firing now, by rule.
	notifications *prometheus.CounterVec
	firing        *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer, r *Region) *metrics {
	m := &metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_region_reports_total",
			Help: "Capacity reports received, by source (live, retained, http) and outcome (accepted, duplicate, or the rejection reason).",
		}, []string{"source", "outcome"}),
		presence: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_region_presence_total",
			Help: "Gateway presence messages received, by outcome (online, offline, unregistered, malformed).",
		}, []string{"outcome"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_region_influx_writes_total",
			Help: "InfluxDB writes of accepted reports, by result (ok, error).",
		}, []string{"result"}),
		queueWait: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_region_queue_full_total",
			Help: "Messages that waited because the verification queue was full (back-pressure on the broker connection).",
		}),
		sweeps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_region_sweeps_total",
			Help: "Sweeps of the broker's retained latest reports.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_region_mqtt_connected",
			Help: "1 while the shared-subscription connection is up.",
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_region_alert_notifications_total",
			Help: "Alert notifications about hospitals that do not report, by receiver and result (sent, failed attempt, dropped from a full queue).",
		}, []string{"receiver", "result"}),
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "icugate_region_alerts_firing",
			Help: "Alerts firing now, by rule (hospital_silent, hospital_partial).",
		}, []string{"rule"}),
	}
	for _, s := range []Source{Live, Retained, Posted} {
		for _, o := range outcomes {
			m.reports.WithLabelValues(string(s), string(o))
		}
	}
	for _, o := range []string{presenceOnline, presenceOffline, presenceUnregistered, presenceMalformed} {
		m.presence.WithLabelValues(o)
	}
	m.writes.WithLabelValues("ok")
	m.writes.WithLabelValues("error")
	for _, rule := range []string{ruleSilent, rulePartial} {
		m.firing.WithLabelValues(rule)
	}
	if reg != nil {
		reg.MustRegister(m.reports, m.presence, m.writes, m.queueWait, m.sweeps, m.connected, m.notifications, m.firing, newViewCollector(r))
	}
	return m
}
