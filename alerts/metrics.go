package alerts

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the alerting series (README, "Metrics"): alerts by status
// and severity, notifications by receiver and result, what waits per
// receiver, and whether each receiver works.
type metrics struct {
	active        *prometheus.GaugeVec
	notifications *prometheus.CounterVec
	queued        *prometheus.GaugeVec
	receiverUp    *prometheus.GaugeVec

	mu sync.Mutex // serialises updateQueued's reset and set
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "icugate_alerts",
			Help: "Native alerts now, by status (pending, firing) and severity.",
		}, []string{"status", "severity"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_alert_notifications_total",
			Help: "Alert notifications by receiver and result: delivered, failed (an attempt; retried), damaged (unreadable in the store; dropped).",
		}, []string{"receiver", "result"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "icugate_alert_notifications_queued",
			Help: "Alert notifications waiting for their receiver, kept in the state store.",
		}, []string{"receiver"}),
		receiverUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "icugate_alert_receiver_up",
			Help: "1 when the receiver's last delivery or check worked, 0 when it failed.",
		}, []string{"receiver"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.active, m.notifications, m.queued, m.receiverUp} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) setActive(list []Alert) {
	m.active.Reset()
	for _, s := range []string{Pending, Firing} {
		for _, sev := range []string{"critical", "warning", "info"} {
			m.active.WithLabelValues(s, sev).Set(0)
		}
	}
	for _, a := range list {
		m.active.WithLabelValues(a.Status, a.Severity).Inc()
	}
}

func (m *metrics) updateQueued(st Store) {
	n, err := st.QueueLen()
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, v := range n {
		m.queued.WithLabelValues(name).Set(float64(v))
	}
}

// forget drops the series of a receiver no longer configured (its queue,
// if any, still counts in icugate_alert_notifications_queued).
func (m *metrics) forget(name string) {
	m.receiverUp.DeleteLabelValues(name)
}
