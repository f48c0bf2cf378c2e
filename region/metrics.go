package region

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the instance's self-metrics, registered on the injected
// registry with the project's icugate_ prefix.
type metrics struct {
	reports   *prometheus.CounterVec
	writes    *prometheus.CounterVec
	queueWait prometheus.Counter
	sweeps    prometheus.Counter
	connected prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, r *Region) *metrics {
	m := &metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_region_reports_total",
			Help: "Capacity reports received, by source (live, retained, http) and outcome (accepted, duplicate, or the rejection reason).",
		}, []string{"source", "outcome"}),
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
	}
	for _, s := range []Source{Live, Retained, Posted} {
		for _, o := range outcomes {
			m.reports.WithLabelValues(string(s), string(o))
		}
	}
	m.writes.WithLabelValues("ok")
	m.writes.WithLabelValues("error")
	if reg != nil {
		reg.MustRegister(m.reports, m.writes, m.queueWait, m.sweeps, m.connected, newViewCollector(r))
	}
	return m
}

// viewCollector exports the current view's hospital statuses and bed
// totals at scrape time.
type viewCollector struct {
	r                       *Region
	hospitalsDesc, bedsDesc *prometheus.Desc
}

func newViewCollector(r *Region) *viewCollector {
	return &viewCollector{
		r:             r,
		hospitalsDesc: prometheus.NewDesc("icugate_region_hospitals", "Hospitals by status (reporting, silent, never) in this instance's view.", []string{"status"}, nil),
		bedsDesc:      prometheus.NewDesc("icugate_region_beds", "ICU-unit beds of the reporting hospitals in this instance's view, by state.", []string{"state"}, nil),
	}
}

func (c *viewCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hospitalsDesc
	ch <- c.bedsDesc
}

func (c *viewCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.r.View()
	t := v.Totals
	for status, n := range map[string]int{StatusReporting: t.Reporting, StatusSilent: t.Silent, StatusNever: t.Never} {
		ch <- prometheus.MustNewConstMetric(c.hospitalsDesc, prometheus.GaugeValue, float64(n), status)
	}
	for state, n := range map[string]int{"total": t.BedsTotal, "equipped": t.BedsEquipped, "occupied": t.BedsOccupied, "available": t.BedsAvailable, "degraded": t.BedsDegraded, "convertible_ready": t.ConvertibleReady} {
		ch <- prometheus.MustNewConstMetric(c.bedsDesc, prometheus.GaugeValue, float64(n), state)
	}
}
