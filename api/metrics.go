package api

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's own Prometheus metrics. Route labels are chi's
// route patterns ("/api/v1/devices/{id}"), never raw paths, so that the
// label set stays bounded whatever clients request.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	sseClients prometheus.Gauge
	sseEvents  prometheus.Counter
	sseLagged  prometheus.Counter
	sseRefused prometheus.Counter
	// mutations counts every mutating call; refused those that never
	// reached the backend, which are not in the durable audit trail.
	mutations   *prometheus.CounterVec
	refused     *prometheus.CounterVec
	misdirected prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "icugate_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern (event streams excluded).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		sseClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "icugate_http_event_streams",
			Help: "Open server-sent event streams (GET /api/v1/events).",
		}),
		sseEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_http_events_sent_total",
			Help: "Transitions written to event streams, summed over streams.",
		}),
		sseLagged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_http_event_streams_lagged_total",
			Help: "Event streams closed because their client fell more than the event buffer behind.",
		}),
		sseRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_http_event_streams_refused_total",
			Help: "Event streams refused (503) because the most allowed were open.",
		}),
		mutations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_http_mutations_total",
			Help: "Mutating API calls, by action and whether they were accepted.",
		}, []string{"action", "result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icugate_http_mutations_refused_total",
			Help: "Mutating API calls refused before they reached the gateway (token, origin, body, unknown device or place), by action and reason; counted here instead of the audit trail.",
		}, []string{"action", "reason"}),
		misdirected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icugate_http_misdirected_requests_total",
			Help: "Requests refused (421) because their Host header does not name this gateway (see http.hosts).",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.sseClients, m.sseEvents, m.sseLagged,
		m.sseRefused, m.mutations, m.refused, m.misdirected} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("api: metrics already registered (two servers on one registry?): %w", err)
			}
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
	}
	return m, nil
}
