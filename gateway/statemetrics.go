package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/pipeline"
)

// stateCollector exposes the site's state (devices, beds, counts) as
// metrics so that Prometheus can alert on it ("ventilator X offline").
// It reads the latest served snapshot when scraped, so the engine loop
// pays nothing per poll, and every series of one scrape comes from one
// snapshot. Series follow the config: a device or bed removed by a reload
// is gone from the next scrape.
//
// Cardinality is bounded by the config, never by values: five series per
// device for its state plus at most two for when it was seen, three per
// bed, six per unit and six for the hospital.
type stateCollector struct {
	snap func() *pipeline.Snapshot
	now  func() time.Time

	deviceState, deviceSeen, deviceLastSeen *prometheus.Desc
	bedState, unitBeds, unitVerified        *prometheus.Desc
}

// storeUnit is the unit label of devices in the hospital's store, as in
// the InfluxDB schema.
const storeUnit = "hospital"

func newStateCollector(snap func() *pipeline.Snapshot, now func() time.Time) *stateCollector {
	dev := []string{"device", "kind", "unit"}
	return &stateCollector{
		snap: snap,
		now:  now,
		deviceState: prometheus.NewDesc("icugate_device_state",
			"1 for the state the device is in, 0 for the others (offline, fault, maintenance, in_use, standby): five series per configured device. unit is \"hospital\" for the hospital's store.",
			append(dev, "state"), nil),
		deviceSeen: prometheus.NewDesc("icugate_device_seen",
			"1 once the device has given a valid answer, 0 while it never has (then icugate_device_last_seen_seconds is absent). One series per configured device.",
			dev, nil),
		deviceLastSeen: prometheus.NewDesc("icugate_device_last_seen_seconds",
			"Seconds since the device's latest valid answer, at scrape time; absent for a device never seen (see icugate_device_seen). One series per seen device.",
			dev, nil),
		bedState: prometheus.NewDesc("icugate_bed_state",
			"1 for the held state the bed is in, 0 for the others (degraded, available, occupied): three series per configured bed.",
			[]string{"bed", "unit", "class", "state"}, nil),
		unitBeds: prometheus.NewDesc("icugate_unit_beds",
			"Beds of a unit by what they are (total, equipped, occupied, available, degraded); unit=\"all\" class=\"all\" is the hospital's total, so leave it out when summing units. Five series per unit and five for the hospital.",
			[]string{"unit", "class", "what"}, nil),
		unitVerified: prometheus.NewDesc("icugate_unit_verified",
			"1 when every device the unit's counts depend on is fresh, 0 when a count rests on stale or missing devices; unit=\"all\" is the hospital. One series per unit and one for the hospital.",
			[]string{"unit"}, nil),
	}
}

// Describe sends the descriptors of every series the collector makes.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.deviceState, c.deviceSeen, c.deviceLastSeen, c.bedState, c.unitBeds, c.unitVerified} {
		ch <- d
	}
}

// deviceStateNames and bedStateNames are the state labels, in the order of
// pipeline's states (the index of a name is its state's value).
var (
	deviceStateNames = pipeline.DeviceStateNames()
	bedStateNames    = pipeline.BedStateNames()
)

// Collect sends the series of the latest snapshot; nothing before the
// engine has published one.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	if s == nil {
		return
	}
	now := c.now()
	for i := range s.Devices {
		d := &s.Devices[i]
		unit := d.Unit
		if unit == "" {
			unit = storeUnit
		}
		for st, name := range deviceStateNames {
			ch <- prometheus.MustNewConstMetric(c.deviceState, prometheus.GaugeValue,
				flag(int(d.State) == st), d.ID, d.Kind, unit, name)
		}
		ch <- prometheus.MustNewConstMetric(c.deviceSeen, prometheus.GaugeValue, flag(d.LastSeen != nil), d.ID, d.Kind, unit)
		if d.LastSeen != nil {
			// An answer stamped a little ahead of our clock is "just now",
			// not a negative age.
			age := max(now.Sub(*d.LastSeen).Seconds(), 0)
			ch <- prometheus.MustNewConstMetric(c.deviceLastSeen, prometheus.GaugeValue, age, d.ID, d.Kind, unit)
		}
	}
	for i := range s.Beds {
		b := &s.Beds[i]
		for st, name := range bedStateNames {
			ch <- prometheus.MustNewConstMetric(c.bedState, prometheus.GaugeValue,
				flag(int(b.State) == st), b.ID, b.Unit, b.Class, name)
		}
	}
	for i := range s.Capacity.Units {
		c.collectCounts(ch, &s.Capacity.Units[i])
	}
	if s.Capacity.Hospital.Unit != "" {
		c.collectCounts(ch, &s.Capacity.Hospital)
	}
}

// collectCounts sends one unit's (or the hospital's) bed counts and
// whether they are verified.
func (c *stateCollector) collectCounts(ch chan<- prometheus.Metric, cp *pipeline.Capacity) {
	for _, n := range [...]struct {
		what  string
		count int
	}{
		{"total", cp.BedsTotal},
		{"equipped", cp.BedsEquipped},
		{"occupied", cp.BedsOccupied},
		{"available", cp.BedsAvailable},
		{"degraded", cp.BedsDegraded},
	} {
		ch <- prometheus.MustNewConstMetric(c.unitBeds, prometheus.GaugeValue, float64(n.count), cp.Unit, cp.Class, n.what)
	}
	ch <- prometheus.MustNewConstMetric(c.unitVerified, prometheus.GaugeValue, flag(cp.Verified), cp.Unit)
}

// flag is a 0/1 gauge value.
func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
