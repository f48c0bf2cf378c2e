package report

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalid is wrapped by Check errors: the report is well-formed JSON
// but its content breaks the format's rules.
var ErrInvalid = errors.New("invalid report")

// Check verifies what a schema validator would and the arithmetic the
// counts must satisfy, so the aggregator never sums a report that
// contradicts itself (equipped = occupied + available, total = equipped +
// degraded, nothing negative).
func (r *Report) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: hospital %q: %s", ErrInvalid, r.Hospital.ID, fmt.Sprintf(format, args...))
	}
	switch {
	case r.Schema != Schema:
		return bad("schema %q, want %q", r.Schema, Schema)
	case r.Hospital.ID == "":
		return bad("empty hospital id")
	case r.Sequence == 0 || r.Sequence > MaxSequence:
		return bad("sequence %d outside 1..%d", r.Sequence, uint64(MaxSequence))
	case r.AsOf.IsZero():
		return bad("missing as_of")
	case r.Hospital.TotalBeds < 0:
		return bad("negative total_beds")
	case !(r.IntervalSeconds >= 0) || math.IsInf(r.IntervalSeconds, 0):
		return bad("interval_seconds %v", r.IntervalSeconds)
	}
	if r.Classes == nil || r.Units == nil || r.Evidence.Stale == nil || r.Evidence.Missing == nil {
		return bad("classes, units, evidence.stale and evidence.missing must be arrays, not null")
	}
	if err := r.Totals.check(); err != nil {
		return bad("totals: %v", err)
	}
	for i := range r.Classes {
		if err := r.Classes[i].check(); err != nil {
			return bad("class %q: %v", r.Classes[i].Class, err)
		}
	}
	for i := range r.Units {
		if err := r.Units[i].check(); err != nil {
			return bad("unit %q: %v", r.Units[i].Unit, err)
		}
	}
	return nil
}

func (c *Counts) check() error {
	if c.Devices == nil || c.Evidence.Stale == nil || c.Evidence.Missing == nil {
		return errors.New("devices, evidence.stale and evidence.missing must not be null")
	}
	for _, n := range []int{c.BedsTotal, c.BedsEquipped, c.BedsOccupied, c.BedsAvailable, c.BedsDegraded, c.ConvertibleReady} {
		if n < 0 {
			return errors.New("negative count")
		}
	}
	if c.BedsEquipped != c.BedsOccupied+c.BedsAvailable {
		return fmt.Errorf("beds_equipped %d != occupied %d + available %d", c.BedsEquipped, c.BedsOccupied, c.BedsAvailable)
	}
	if c.BedsTotal != c.BedsEquipped+c.BedsDegraded {
		return fmt.Errorf("beds_total %d != equipped %d + degraded %d", c.BedsTotal, c.BedsEquipped, c.BedsDegraded)
	}
	for k, d := range c.Devices {
		if d.Total < 0 || d.InUse < 0 || d.Standby < 0 || d.Offline < 0 || d.Fault < 0 || d.Maintenance < 0 {
			return fmt.Errorf("devices %q: negative count", k)
		}
		if d.Total != d.InUse+d.Standby+d.Offline+d.Fault+d.Maintenance {
			return fmt.Errorf("devices %q: total %d is not the sum of its states", k, d.Total)
		}
	}
	return nil
}
