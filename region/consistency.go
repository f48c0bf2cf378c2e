package region

import (
	"fmt"
	"maps"
	"slices"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// CheckRows verifies that a report's rows agree with each other the way the
// gateway's engine makes them (pipeline/capacity.go); the aggregator
// rejects a report that fails it as Inconsistent. report.Check already
// verifies each row on its own (equipped = occupied + available, total =
// equipped + degraded, a kind's total = the sum of its states); a report
// can pass it and still contradict itself across rows, and the region sums
// the totals and the class rows, so such a report would count beds that
// none of its units has. What the engine guarantees, and so all that is
// checked:
//
//   - every unit is listed once, and its class has a class row;
//   - a class row's bed counts, convertible_ready and device counts are
//     the sums over the units of that class;
//   - the totals' bed counts and convertible_ready are the sums over the
//     class rows; the totals' device counts are at least those sums (the
//     hospital's central store belongs to no unit, so its devices count
//     only in the totals);
//   - convertible_ready is 0 for a unit that is not convertible; for a
//     convertible unit it is at least beds_equipped (an equipped bed is
//     ready) and at most beds_total.
//
// Evidence, verified and the policy indicators are not sums and are left
// alone.
func CheckRows(r *report.Report) error {
	classes := make(map[string]*rowSums, len(r.Classes))
	for i := range r.Classes {
		cl := r.Classes[i].Class
		if classes[cl] != nil {
			return fmt.Errorf("class %q has two rows", cl)
		}
		classes[cl] = &rowSums{devices: map[string]report.KindCount{}}
	}
	units := make(map[string]bool, len(r.Units))
	for i := range r.Units {
		u := &r.Units[i]
		if units[u.Unit] {
			return fmt.Errorf("unit %q has two rows", u.Unit)
		}
		units[u.Unit] = true
		if err := checkReady(u); err != nil {
			return fmt.Errorf("unit %q: %w", u.Unit, err)
		}
		sum := classes[u.Class]
		if sum == nil {
			return fmt.Errorf("unit %q: its class %q has no class row, so its beds are in no total", u.Unit, u.Class)
		}
		sum.add(u)
	}
	total := &rowSums{devices: map[string]report.KindCount{}}
	for i := range r.Classes {
		c := &r.Classes[i]
		if err := classes[c.Class].matches(c, "its units", true); err != nil {
			return fmt.Errorf("class %q: %w", c.Class, err)
		}
		total.add(c)
	}
	if err := total.matches(&r.Totals, "the class rows", false); err != nil {
		return fmt.Errorf("totals: %w", err)
	}
	return nil
}

// checkReady checks a unit's convertible_ready against its beds: only a
// convertible unit has ready beds, every equipped one of them is ready, and
// no bed is counted twice.
func checkReady(u *report.Counts) error {
	switch {
	case u.Class != config.ClassConvertible && u.ConvertibleReady != 0:
		return fmt.Errorf("convertible_ready %d in a %s unit (only convertible units have ready beds)", u.ConvertibleReady, u.Class)
	case u.ConvertibleReady > u.BedsTotal:
		return fmt.Errorf("convertible_ready %d is more than beds_total %d", u.ConvertibleReady, u.BedsTotal)
	case u.Class == config.ClassConvertible && u.ConvertibleReady < u.BedsEquipped:
		return fmt.Errorf("convertible_ready %d is less than beds_equipped %d (an equipped convertible bed is ready)", u.ConvertibleReady, u.BedsEquipped)
	}
	return nil
}

// rowSums accumulates rows' counts.
type rowSums struct {
	beds    [6]int
	devices map[string]report.KindCount
}

var bedNames = [6]string{"beds_total", "beds_equipped", "beds_occupied", "beds_available", "beds_degraded", "convertible_ready"}

func bedsOf(c *report.Counts) [6]int {
	return [6]int{c.BedsTotal, c.BedsEquipped, c.BedsOccupied, c.BedsAvailable, c.BedsDegraded, c.ConvertibleReady}
}

var stateNames = [6]string{"total", "in_use", "standby", "offline", "fault", "maintenance"}

func statesOf(k report.KindCount) [6]int {
	return [6]int{k.Total, k.InUse, k.Standby, k.Offline, k.Fault, k.Maintenance}
}

func (s *rowSums) add(c *report.Counts) {
	for i, n := range bedsOf(c) {
		s.beds[i] += n
	}
	for kind, k := range c.Devices {
		sum := s.devices[kind]
		sum.Total += k.Total
		sum.InUse += k.InUse
		sum.Standby += k.Standby
		sum.Offline += k.Offline
		sum.Fault += k.Fault
		sum.Maintenance += k.Maintenance
		s.devices[kind] = sum
	}
}

// matches checks row c against the sums of the rows below it (named by
// below): bed counts equal; device counts equal when exact, else at least
// the sums. A kind missing from a row counts as zero devices.
func (s *rowSums) matches(c *report.Counts, below string, exact bool) error {
	for i, n := range bedsOf(c) {
		if n != s.beds[i] {
			return fmt.Errorf("%s %d, but %s sum to %d", bedNames[i], n, below, s.beds[i])
		}
	}
	// Sorted, so the same report always gets the same reason.
	kinds := slices.Sorted(maps.Keys(c.Devices))
	for kind := range s.devices {
		if _, ok := c.Devices[kind]; !ok {
			kinds = append(kinds, kind)
		}
	}
	slices.Sort(kinds)
	for _, kind := range kinds {
		got, want := statesOf(c.Devices[kind]), statesOf(s.devices[kind])
		for i := range got {
			switch {
			case exact && got[i] != want[i]:
				return fmt.Errorf("devices %q %s %d, but %s sum to %d", kind, stateNames[i], got[i], below, want[i])
			case !exact && got[i] < want[i]:
				return fmt.Errorf("devices %q %s %d, less than the %d %s sum to", kind, stateNames[i], got[i], want[i], below)
			}
		}
	}
	return nil
}
