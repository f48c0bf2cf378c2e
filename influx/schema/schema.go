// Package schema is what icugate writes to InfluxDB (PRODUCT §6): the
// measurements, their tags and fields, built from the engine's snapshot,
// transitions and observations. The influx package delivers points; this
// package decides what they say. Tags stay low-cardinality: ids, kinds and
// classes only, never values, times or free text. A dashboard or query
// written against these names keeps working; change them only with a note
// in the README's upgrade section.
package schema

import (
	"math"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/influx"
	"github.com/icugate/icugate/outbox"
	"github.com/icugate/icugate/pipeline"
)

// The measurements of PRODUCT §6.
const (
	// MeasureDeviceState is a device's state, written on every change and
	// with every snapshot.
	MeasureDeviceState = "device_state"
	// MeasureDeviceTelemetry holds a profile's telemetry values, one point
	// per observation.
	MeasureDeviceTelemetry = "device_telemetry"
	// MeasureBedState is a bed's state, on change and with every snapshot.
	MeasureBedState = "bed_state"
	// MeasureCapacity holds the counts per hospital, class and unit.
	MeasureCapacity = "icu_capacity"
	// MeasureGateway is the gateway's own health.
	MeasureGateway = "gateway"
)

// bedTag is the bed tag of a device: its bed, or "pool" when it is stored.
func bedTag(d *pipeline.DeviceStatus) string {
	if d.AtType == "pool" {
		return "pool"
	}
	return d.At
}

func unitTag(u string) string {
	if u == "" {
		return "hospital"
	}
	return u
}

// Device is a device_state point at t.
func Device(hospital string, d *pipeline.DeviceStatus, t time.Time) influx.Point {
	since := -1.0
	if d.LastSeen != nil {
		since = t.Sub(*d.LastSeen).Seconds()
		if since < 0 {
			since = 0
		}
	}
	return influx.NewPoint(MeasureDeviceState, influx.State, map[string]string{
		"hospital": hospital, "unit": unitTag(d.Unit), "bed": bedTag(d), "device": d.ID, "kind": d.Kind,
	}, t,
		influx.String("state", d.State.String()),
		influx.Bool("online", d.State != pipeline.Offline),
		influx.Bool("in_use", d.State == pipeline.InUse),
		influx.Bool("fault", d.State == pipeline.Fault),
		influx.Float("seconds_since_seen", since),
		influx.String("cause", d.Cause),
	)
}

// Bed is a bed_state point at t.
func Bed(hospital string, b *pipeline.BedStatus, t time.Time) influx.Point {
	return influx.NewPoint(MeasureBedState, influx.State, map[string]string{
		"hospital": hospital, "unit": b.Unit, "class": b.Class, "bed": b.ID,
	}, t,
		influx.String("state", b.State.String()),
		influx.Bool("equipped", b.State.Equipped()),
		influx.Bool("occupied", b.State == pipeline.Occupied),
		influx.String("reason", strings.Join(b.Reason, "; ")),
	)
}

// Capacity returns the icu_capacity points of a snapshot: one per unit,
// per class and for the hospital.
func Capacity(hospital string, c *pipeline.CapacityReport, t time.Time) []influx.Point {
	out := make([]influx.Point, 0, 1+len(c.Classes)+len(c.Units))
	add := func(cp *pipeline.Capacity) {
		fields := []influx.Field{
			influx.Int("beds_total", int64(cp.BedsTotal)),
			influx.Int("beds_equipped", int64(cp.BedsEquipped)),
			influx.Int("beds_occupied", int64(cp.BedsOccupied)),
			influx.Int("beds_available", int64(cp.BedsAvailable)),
			influx.Int("beds_degraded", int64(cp.BedsDegraded)),
			influx.Int("convertible_ready", int64(cp.ConvertibleReady)),
			influx.Bool("verified", cp.Verified),
			influx.Float("coverage", cp.Evidence.Coverage),
		}
		for kind, k := range cp.Kinds {
			fields = append(fields,
				influx.Int(kind+"_total", int64(k.Total)),
				influx.Int(kind+"_in_use", int64(k.InUse)),
				influx.Int(kind+"_standby", int64(k.Standby)),
				influx.Int(kind+"_offline", int64(k.Offline)),
				influx.Int(kind+"_fault", int64(k.Fault)),
				influx.Int(kind+"_maintenance", int64(k.Maintenance)),
			)
		}
		out = append(out, influx.NewPoint(MeasureCapacity, influx.State, map[string]string{
			"hospital": hospital, "unit": cp.Unit, "class": cp.Class,
		}, t, fields...))
	}
	add(&c.Hospital)
	for i := range c.Classes {
		add(&c.Classes[i])
	}
	for i := range c.Units {
		add(&c.Units[i])
	}
	return out
}

// Telemetry is the device_telemetry point of one observation: the
// profile's telemetry values, without clinical ones unless the site
// enables clinical collection. ok is false when there is nothing to write.
func Telemetry(site *config.Site, prof *config.Profile, d *pipeline.DeviceStatus, o *pipeline.Observation) (influx.Point, bool) {
	var fields []influx.Field
	for _, name := range prof.Telemetry {
		i := prof.Index(name)
		if i < 0 || i >= len(o.Values) {
			continue
		}
		v := &prof.Values[i]
		if v.Clinical && !site.Clinical {
			continue
		}
		if v.Type == config.TypeString {
			// InfluxDB fixes a field's type per measurement: a value that
			// is a number in one profile and text in another must not
			// share a field name, or one of them is refused forever.
			fields = append(fields, influx.String(name+"_text", o.Values[i].Str))
		} else if f := o.Values[i].Num; !math.IsNaN(f) && !math.IsInf(f, 0) {
			fields = append(fields, influx.Float(name, f))
		}
	}
	if len(fields) == 0 {
		return influx.Point{}, false
	}
	return influx.NewPoint(MeasureDeviceTelemetry, influx.Telemetry, map[string]string{
		"hospital": site.Hospital.ID, "unit": unitTag(d.Unit), "bed": bedTag(d), "device": d.ID, "kind": d.Kind,
	}, o.Time, fields...), true
}

// GatewayHealth is what the gateway reports about itself in the gateway
// measurement.
type GatewayHealth struct {
	Observations       uint64
	FailedObservations uint64
	Transitions        uint64
	IntakeDepth        int
	EventsDropped      uint64
	// Outbox is nil when the site has no InfluxDB output.
	Outbox *outbox.Stats
	// Writer is nil when the site has no InfluxDB output.
	Writer *influx.Status
}

// Gateway is the gateway's own health as a point: what it took, what waits
// in the outbox, what was lost and how the InfluxDB writer fares.
func Gateway(hospital string, h GatewayHealth, t time.Time) influx.Point {
	fields := []influx.Field{
		influx.Int("observations", int64(h.Observations)),
		influx.Int("failed_observations", int64(h.FailedObservations)),
		influx.Int("transitions", int64(h.Transitions)),
		influx.Int("intake_depth", int64(h.IntakeDepth)),
		influx.Int("events_dropped", int64(h.EventsDropped)),
	}
	if st := h.Outbox; st != nil {
		fields = append(fields,
			influx.Int("outbox_points", int64(st.Points())),
			influx.Int("outbox_bytes", st.Bytes),
			influx.Float("outbox_lag_seconds", st.Lag.Seconds()),
			influx.Int("outbox_dropped", int64(st.Dropped)),
			influx.Int("outbox_quarantined", int64(st.Quarantined)),
			influx.Int("outbox_torn", int64(st.Torn)),
			influx.Bool("outbox_over_budget", st.OverBudget),
		)
	}
	if ws := h.Writer; ws != nil {
		fields = append(fields,
			influx.String("writer_state", ws.State),
			influx.Int("points_written", int64(ws.Written)),
			influx.Int("points_dead_lettered", int64(ws.DeadLettered)),
		)
		if !ws.LastWrite.IsZero() {
			fields = append(fields, influx.Float("write_lag_seconds", t.Sub(ws.LastWrite).Seconds()))
		}
	}
	return influx.NewPoint(MeasureGateway, influx.State, map[string]string{"hospital": hospital}, t, fields...)
}
