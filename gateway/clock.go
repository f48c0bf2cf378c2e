package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/internal/clockwatch"
)

// clockSkewLimit is how far the gateway's clock may be from its servers'
// (beyond the measurement's uncertainty) before health says so. The region
// rejects a report stamped more than a minute in its future; half of that
// leaves time to fix the clock before reports are refused. The metric
// icugate_clock_offset_seconds shows any offset, for tighter alerts.
const clockSkewLimit = 30 * time.Second

// clockObserver is the OnAnswer hook that feeds the clock watch with the
// Date of source's HTTP answers.
func (g *Gateway) clockObserver(source string) func(sent, received time.Time, h http.Header) {
	return func(sent, received time.Time, h http.Header) {
		g.clock.ObserveHTTP(source, sent, received, h)
	}
}

// clockReason is the health reason when the clock is off, or "".
func (g *Gateway) clockReason() string {
	off := g.clock.Skewed(clockSkewLimit)
	if len(off) == 0 {
		return ""
	}
	parts := make([]string, 0, len(off))
	for _, s := range off {
		dir := "behind"
		if s.Offset < 0 {
			dir = "ahead of"
		}
		d := s.Offset
		if d < 0 {
			d = -d
		}
		parts = append(parts, fmt.Sprintf("%s %s (±%s)", d.Round(time.Second), dir+" "+s.Source, s.Uncertainty.Round(100*time.Millisecond)))
	}
	return "this machine's clock is " + strings.Join(parts, ", ") +
		": counts and reports carry wrong times and the region rejects reports stamped over a minute ahead; run NTP (chrony or systemd-timesyncd)"
}

// clockCollector exports each source's offset estimate.
type clockCollector struct {
	w                   *clockwatch.Watch
	offset, uncertainty *prometheus.Desc
}

func newClockCollector(w *clockwatch.Watch) *clockCollector {
	return &clockCollector{
		w: w,
		offset: prometheus.NewDesc("icugate_clock_offset_seconds",
			"The server's clock minus this machine's, from the Date of its HTTP answers in the last 10 minutes (positive: this clock is behind), by source (influxdb, report).",
			[]string{"source"}, nil),
		uncertainty: prometheus.NewDesc("icugate_clock_offset_uncertainty_seconds",
			"How far icugate_clock_offset_seconds may be off (half a second for the Date's resolution plus half the round trip).",
			[]string{"source"}, nil),
	}
}

func (c *clockCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.offset
	ch <- c.uncertainty
}

func (c *clockCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.w.Sources() {
		ch <- prometheus.MustNewConstMetric(c.offset, prometheus.GaugeValue, s.Offset.Seconds(), s.Source)
		ch <- prometheus.MustNewConstMetric(c.uncertainty, prometheus.GaugeValue, s.Uncertainty.Seconds(), s.Source)
	}
}
