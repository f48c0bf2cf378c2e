package modbus

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the driver's self-metrics. With no registerer they are off.
type metrics struct {
	polls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_modbus_polls_total",
			Help: "Modbus polls attempted, by device.",
		}, []string{"device"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_modbus_poll_errors_total",
			Help: "Modbus polls that failed, by device and reason (timeout, exception, crc, frame, refused, reset, range, backoff, io).",
		}, []string{"device", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "icugate_modbus_poll_duration_seconds",
			Help:    "Time of one Modbus poll on its endpoint's connection (dialling included), by transport.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"transport"}),
	}
	for _, c := range []prometheus.Collector{m.polls, m.errors, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("modbus metrics: %w", err)
		}
	}
	return m, nil
}

// forDevice returns the device's own series, resolved once so that a poll
// costs no label lookups.
func (m *metrics) forDevice(id, transport string) (prometheus.Counter, *prometheus.CounterVec, prometheus.Observer) {
	if m == nil {
		return nil, nil, nil
	}
	errs, _ := m.errors.CurryWith(prometheus.Labels{"device": id})
	return m.polls.WithLabelValues(id), errs, m.duration.WithLabelValues(transport)
}
