package mqtt

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the driver's self-metrics, registered on the injected
// Registerer.
type metrics struct {
	received   prometheus.Counter
	accepted   prometheus.Counter
	dropped    *prometheus.CounterVec
	connected  prometheus.Gauge
	connects   prometheus.Counter
	lost       prometheus.Counter
	queueDepth prometheus.Gauge
	queueFull  prometheus.Counter
	unacked    prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, unacked func() float64) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_mqtt_messages_received_total",
			Help: "MQTT messages received on the device subscriptions.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_mqtt_messages_accepted_total",
			Help: "MQTT messages decoded and handed to the pipeline.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_mqtt_messages_dropped_total",
			Help: "MQTT messages refused and dropped, by reason; a dropped message changes no device state.",
		}, []string{"reason"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_mqtt_connected",
			Help: "1 while the gateway is connected to the MQTT broker.",
		}),
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_mqtt_connects_total",
			Help: "Successful connections to the MQTT broker, first one included.",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_mqtt_connection_lost_total",
			Help: "Connections to the MQTT broker lost.",
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_mqtt_queue_depth",
			Help: "Decoded messages waiting for the pipeline.",
		}),
		queueFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_mqtt_queue_full_total",
			Help: "Times a received message waited because the queue to the pipeline was full (the broker's in-flight window is larger than the queue).",
		}),
		unacked: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "icugate_mqtt_unacked_messages",
			Help: "Received QoS 1 messages not yet acknowledged to the broker.",
		}, unacked),
	}
	for _, c := range []prometheus.Collector{m.received, m.accepted, m.dropped, m.connected, m.connects, m.lost, m.queueDepth, m.queueFull, m.unacked} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("mqtt metrics (one driver per registry): %w", err)
		}
	}
	return m, nil
}
