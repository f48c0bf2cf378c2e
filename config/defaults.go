package config

import "time"

// Defaults of PRODUCT §5 and §9, in one place so the engine, the drivers and
// the docs agree.
const (
	DefaultHold           = 15 * time.Second
	DefaultModbusInterval = 1 * time.Second
	DefaultModbusTimeout  = 1 * time.Second
	DefaultMQTTInterval   = 10 * time.Second
	DefaultFailures       = 3
	MinFreshness          = 5 * time.Second
)

// DefaultKinds is the default required set and occupancy set of a bed.
var defaultKinds = [...]string{"monitor", "ventilator"}

// RequiredKinds is what each bed of the unit needs to be equipped: the
// configured list, or one monitor and one ventilator. A kind listed twice is
// needed twice.
func (u *Unit) RequiredKinds() []string {
	if len(u.Requires) > 0 {
		return u.Requires
	}
	return defaultKinds[:]
}

// OccupancyKinds is which kinds, when in use at a bed, mark it occupied.
func (u *Unit) OccupancyKinds() []string {
	if len(u.Occupancy) > 0 {
		return u.Occupancy
	}
	return defaultKinds[:]
}

// HoldTime is how long a bed condition must hold before the bed state
// changes; zero is allowed.
func (s *Site) HoldTime() time.Duration {
	if s.Hold != nil {
		return *s.Hold
	}
	return DefaultHold
}

// FailureLimit is how many consecutive failed polls make a device offline.
func (d *Device) FailureLimit() int {
	if d.Failures > 0 {
		return d.Failures
	}
	return DefaultFailures
}
