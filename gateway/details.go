package gateway

import (
	"sync"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
)

// historyLen is how many transitions per device the API keeps in memory
// for the device page; the full history is in InfluxDB.
const historyLen = 256

// details keeps, per device, what the API's device page shows beyond the
// snapshot: the last decoded values and recent transitions. Written by the
// engine loop, read by API handlers.
type details struct {
	mu      sync.RWMutex
	values  map[string]*rawValues
	history map[string][]pipeline.Transition
	// base is usage accumulated in earlier runs, by device and state.
	base map[string]map[string]float64
	// days is the usage per day, device and unit (usage.go).
	days dailyUsage
}

// DeviceValues are a device's last decoded values.
type DeviceValues struct {
	Time   time.Time    `json:"time"`
	Values []ValueEntry `json:"values"`
}

// ValueEntry is one decoded value with its unit and code.
type ValueEntry struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Text     string  `json:"text,omitempty"`
	Unit     string  `json:"unit,omitempty"`
	MDC      string  `json:"mdc,omitempty"`
	Clinical bool    `json:"clinical,omitempty"`
}

func newDetails() *details {
	return &details{
		values:  map[string]*rawValues{},
		history: map[string][]pipeline.Transition{},
		base:    map[string]map[string]float64{},
	}
}

// rawValues are a device's last samples as the driver decoded them. They
// are copied into the same slice on every poll (no allocation per poll)
// and turned into DeviceValues only when the device page asks.
type rawValues struct {
	t    time.Time
	prof *config.Profile
	vals []rules.Sample
}

// setValues records a device's last values.
func (d *details) setValues(dev string, prof *config.Profile, vals []rules.Sample, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rv := d.values[dev]
	if rv == nil {
		rv = &rawValues{}
		d.values[dev] = rv
	}
	rv.t, rv.prof = t, prof
	rv.vals = append(rv.vals[:0], vals...)
}

// valuesOf builds a device's DeviceValues. Clinical values are kept out
// unless their profile marks them and the site enables clinical data,
// which the caller of setValues checks through the profile passed.
func (rv *rawValues) valuesOf() DeviceValues {
	if rv == nil {
		return DeviceValues{}
	}
	out := DeviceValues{Time: rv.t, Values: make([]ValueEntry, 0, len(rv.prof.Values))}
	for i := range rv.prof.Values {
		if i >= len(rv.vals) {
			break
		}
		v := &rv.prof.Values[i]
		if v.Clinical {
			continue
		}
		out.Values = append(out.Values, ValueEntry{Name: v.Name, Value: rv.vals[i].Num, Text: rv.vals[i].Str, Unit: v.Unit, MDC: v.MDC})
	}
	return out
}

func (d *details) addHistory(ts []pipeline.Transition) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range ts {
		h := append(d.history[t.ID], t)
		if len(h) > historyLen {
			h = h[len(h)-historyLen:]
		}
		d.history[t.ID] = h
	}
}

func (d *details) get(dev string) (DeviceValues, []pipeline.Transition) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	h := d.history[dev]
	return d.values[dev].valuesOf(), append([]pipeline.Transition(nil), h...)
}

func (d *details) setBaseUsage(u map[string]map[string]float64) {
	d.mu.Lock()
	d.base = u
	d.mu.Unlock()
}

// usageOf is the accumulated seconds per state of a device: earlier runs
// plus this one.
func (d *details) usageOf(dev *pipeline.DeviceStatus) map[string]float64 {
	d.mu.RLock()
	b := d.base[dev.ID]
	d.mu.RUnlock()
	u := dev.Utilisation
	return map[string]float64{
		"offline":     b["offline"] + u.Offline,
		"fault":       b["fault"] + u.Fault,
		"maintenance": b["maintenance"] + u.Maintenance,
		"in_use":      b["in_use"] + u.InUse,
		"standby":     b["standby"] + u.Standby,
	}
}

func (d *details) totalUsage(snap *pipeline.Snapshot) map[string]map[string]float64 {
	out := make(map[string]map[string]float64, len(snap.Devices))
	for i := range snap.Devices {
		out[snap.Devices[i].ID] = d.usageOf(&snap.Devices[i])
	}
	return out
}

// deviceByID finds a device of the site by id.
func deviceByID(site *config.Site, id string) *config.Device {
	for i := range site.Devices {
		if site.Devices[i].ID == id {
			return &site.Devices[i]
		}
	}
	return nil
}
