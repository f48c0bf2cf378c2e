package pipeline

import (
	"slices"
	"time"
)

// Snapshot is a consistent picture of the site at AsOf: every device, every
// bed, the capacity counts and the policy indicators. It shares nothing
// with the engine and marshals to the JSON of the HTTP API and reports.
type Snapshot struct {
	AsOf        time.Time         `json:"as_of"`
	Hospital    string            `json:"hospital"`
	Devices     []DeviceStatus    `json:"devices"`
	Beds        []BedStatus       `json:"beds"`
	Capacity    CapacityReport    `json:"capacity"`
	Readiness   []ReadyBed        `json:"readiness"`
	Utilisation UtilisationReport `json:"utilisation"`
	Policy      Policy            `json:"policy"`
	Stats       Stats             `json:"stats"`
}

// DeviceStatus is one device in a snapshot.
type DeviceStatus struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Unit is the unit of the device's place, "" for the hospital's store.
	Unit string `json:"unit"`
	// At is the bed or pool id; AtType says which ("bed" or "pool").
	At     string      `json:"at"`
	AtType string      `json:"at_type"`
	State  DeviceState `json:"state"`
	Cause  string      `json:"cause"`
	Since  time.Time   `json:"since"`
	// LastSeen is the latest valid answer; nil when never seen.
	LastSeen            *time.Time `json:"last_seen"`
	LastError           string     `json:"last_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Fresh               bool       `json:"fresh"`
	// MaintenanceBy is who set the engineer's maintenance flag, when set.
	MaintenanceBy string      `json:"maintenance_by,omitempty"`
	Utilisation   Utilisation `json:"utilisation_seconds"`
}

// Utilisation is time spent in each device state, in seconds.
type Utilisation struct {
	Offline     float64 `json:"offline"`
	Fault       float64 `json:"fault"`
	Maintenance float64 `json:"maintenance"`
	InUse       float64 `json:"in_use"`
	Standby     float64 `json:"standby"`
}

func utilisationOf(u [numDeviceStates]time.Duration) Utilisation {
	return Utilisation{
		Offline:     u[Offline].Seconds(),
		Fault:       u[Fault].Seconds(),
		Maintenance: u[Maintenance].Seconds(),
		InUse:       u[InUse].Seconds(),
		Standby:     u[Standby].Seconds(),
	}
}

// UtilisationReport aggregates utilisation per device kind and per unit.
// Per unit, a device's time counts toward the unit it was in at the time;
// time in the hospital's store belongs to no unit.
type UtilisationReport struct {
	ByKind map[string]Utilisation `json:"by_kind"`
	ByUnit map[string]Utilisation `json:"by_unit"`
}

// BedStatus is one bed in a snapshot.
type BedStatus struct {
	ID       string    `json:"id"`
	Unit     string    `json:"unit"`
	Class    string    `json:"class"`
	State    BedState  `json:"state"`
	Equipped bool      `json:"equipped"`
	Since    time.Time `json:"since"`
	// Reason lists why the bed is degraded.
	Reason  []string `json:"reason"`
	Devices []string `json:"devices"`
	// Pending is a change waiting for the hold time, if any.
	Pending *PendingBed `json:"pending,omitempty"`
}

// PendingBed is a bed state change that applies at Due unless the
// condition flips back first.
type PendingBed struct {
	State BedState  `json:"state"`
	Since time.Time `json:"since"`
	Due   time.Time `json:"due"`
	// Reason lists what the pending state lacks when it is degraded.
	Reason []string `json:"reason,omitempty"`
}

// Snapshot returns the state of everything as of the engine's clock. Call
// Advance first to bring the clock (freshness, holds) up to date.
func (e *Engine) Snapshot() Snapshot {
	s := Snapshot{
		AsOf:     e.now,
		Hospital: e.site.Hospital.ID,
		Devices:  make([]DeviceStatus, len(e.devices)),
		Beds:     make([]BedStatus, len(e.beds)),
		Stats:    e.stats,
	}
	for di := range e.devices {
		s.Devices[di] = e.deviceStatus(int32(di))
	}
	for bi := range e.beds {
		b := &e.beds[bi]
		u := e.units[b.unit].cfg
		bs := BedStatus{
			ID:       b.id,
			Unit:     u.ID,
			Class:    u.Class,
			State:    b.state,
			Equipped: b.state.Equipped(),
			Since:    b.since,
			Reason:   append([]string{}, b.reason...),
			Devices:  make([]string, len(b.devices)),
		}
		for i, di := range b.devices {
			bs.Devices[i] = e.devices[di].cfg.ID
		}
		if b.pending {
			bs.Pending = &PendingBed{State: b.pendingState, Since: b.pendingSince, Due: b.pendingDue}
			if b.pendingState == Degraded {
				bs.Pending.Reason = e.bedReasons(int32(bi))
			}
		}
		s.Beds[bi] = bs
	}
	s.Capacity, s.Readiness = e.capacity()
	s.Utilisation = e.utilisation()
	s.Policy = e.policy(&s.Capacity)
	return s
}

func (e *Engine) deviceStatus(di int32) DeviceStatus {
	d := &e.devices[di]
	ds := DeviceStatus{
		ID:                  d.cfg.ID,
		Kind:                e.kinds[d.kind],
		Unit:                e.unitID(e.deviceUnit(di)),
		At:                  e.locID(d.at),
		AtType:              "pool",
		State:               d.state,
		Cause:               d.cause,
		Since:               d.since,
		LastError:           d.lastErr,
		ConsecutiveFailures: d.failures,
		Fresh:               d.fresh,
		Utilisation:         utilisationOf(d.utilAt(e.now)),
	}
	if d.at.kind == locBed {
		ds.AtType = "bed"
	}
	if d.seen {
		t := d.lastSeen
		ds.LastSeen = &t
	}
	if d.admin {
		ds.MaintenanceBy = d.adminBy
	}
	return ds
}

func (e *Engine) utilisation() UtilisationReport {
	byKind := make(map[string][numDeviceStates]time.Duration)
	byUnit := make([][numDeviceStates]time.Duration, len(e.units))
	copy(byUnit, e.unitUtil)
	for di := range e.devices {
		d := &e.devices[di]
		u := d.utilAt(e.now)
		k := byKind[e.kinds[d.kind]]
		for s := range u {
			k[s] += u[s]
		}
		byKind[e.kinds[d.kind]] = k
		if ui := e.deviceUnit(int32(di)); ui >= 0 {
			for s := range u {
				byUnit[ui][s] += u[s] - d.utilMark[s]
			}
		}
	}
	r := UtilisationReport{ByKind: map[string]Utilisation{}, ByUnit: map[string]Utilisation{}}
	for k, u := range byKind {
		r.ByKind[k] = utilisationOf(u)
	}
	for ui, u := range byUnit {
		r.ByUnit[e.units[ui].cfg.ID] = utilisationOf(u)
	}
	return r
}

// Device returns one device's status.
func (e *Engine) Device(id string) (DeviceStatus, bool) {
	di, ok := e.devByID[id]
	if !ok {
		return DeviceStatus{}, false
	}
	return e.deviceStatus(di), true
}

// Kinds lists the device kinds of the site (configured devices and
// required kinds), sorted.
func (e *Engine) Kinds() []string {
	k := slices.Clone(e.kinds)
	slices.Sort(k)
	return k
}
