package pipeline

import "github.com/icugate/icugate/config"

// All is the unit (and class) name of hospital-wide counts.
const All = "all"

// CapacityReport holds the counts of PRODUCT §5 per unit, per unit class
// and for the hospital.
type CapacityReport struct {
	Hospital Capacity `json:"hospital"`
	// Classes are general, specialty and convertible, in that order.
	Classes []Capacity `json:"classes"`
	// Units are in config order.
	Units []Capacity `json:"units"`
}

// Capacity is one set of counts. Bed counts use held bed states; device
// counts use current device states (no hold).
type Capacity struct {
	// Unit is the unit id, or "all" for class and hospital counts.
	Unit string `json:"unit"`
	// Class is the unit class, or "all" for the hospital.
	Class         string `json:"class"`
	BedsTotal     int    `json:"beds_total"`
	BedsEquipped  int    `json:"beds_equipped"`
	BedsOccupied  int    `json:"beds_occupied"`
	BedsAvailable int    `json:"beds_available"`
	BedsDegraded  int    `json:"beds_degraded"`
	// Kinds counts devices per kind: for a unit, those at its beds and in
	// its pools; for a class, the sum of its units; for the hospital,
	// every device including the hospital's store.
	Kinds map[string]KindCount `json:"kinds"`
	// ConvertibleReady is how many convertible beds are equipped or can be
	// equipped from healthy standby pool devices, no device counted twice.
	ConvertibleReady int `json:"convertible_ready"`
	// Verified is true when every device the counts depend on is fresh.
	Verified bool     `json:"verified"`
	Evidence Evidence `json:"evidence"`
}

// KindCount counts the devices of one kind by state.
type KindCount struct {
	Total       int `json:"total"`
	InUse       int `json:"in_use"`
	Standby     int `json:"standby"`
	Offline     int `json:"offline"`
	Fault       int `json:"fault"`
	Maintenance int `json:"maintenance"`
}

func (k *KindCount) add(s DeviceState, n int) {
	k.Total += n
	switch s {
	case InUse:
		k.InUse += n
	case Standby:
		k.Standby += n
	case Offline:
		k.Offline += n
	case Fault:
		k.Fault += n
	case Maintenance:
		k.Maintenance += n
	}
}

func (k *KindCount) plus(o KindCount) {
	k.Total += o.Total
	k.InUse += o.InUse
	k.Standby += o.Standby
	k.Offline += o.Offline
	k.Fault += o.Fault
	k.Maintenance += o.Maintenance
}

// Evidence says which devices a count depends on are not fresh. A unit
// depends on the devices at its beds and in its pools and, for a
// convertible unit, on the hospital's store it draws from.
type Evidence struct {
	// Stale devices were seen, but not within their freshness window.
	Stale []string `json:"stale"`
	// Missing devices were never seen.
	Missing    []string `json:"missing"`
	Fresh      int      `json:"fresh"`
	Configured int      `json:"configured"`
	// Coverage is Fresh / Configured (1 when nothing is configured).
	Coverage float64 `json:"coverage"`
}

// ReadyBed explains one convertible bed counted ready: Via is "equipped"
// (its held state is equipped), "installed" (its own devices now suffice;
// the bed state waits for the hold) or "pool" (Devices are the standby pool
// devices that would equip it; each is used for one bed only).
type ReadyBed struct {
	Unit    string   `json:"unit"`
	Bed     string   `json:"bed"`
	Via     string   `json:"via"`
	Devices []string `json:"devices,omitempty"`
}

var classOrder = [...]string{config.ClassGeneral, config.ClassSpecialty, config.ClassConvertible}

func (e *Engine) newCapacity(unit, class string) Capacity {
	c := Capacity{Unit: unit, Class: class, Kinds: make(map[string]KindCount, len(e.kinds))}
	for _, k := range e.kinds {
		c.Kinds[k] = KindCount{}
	}
	return c
}

func (c *Capacity) addBed(s BedState) {
	c.BedsTotal++
	switch s {
	case Occupied:
		c.BedsEquipped++
		c.BedsOccupied++
	case Available:
		c.BedsEquipped++
		c.BedsAvailable++
	default:
		c.BedsDegraded++
	}
}

func (c *Capacity) plus(o *Capacity) {
	c.BedsTotal += o.BedsTotal
	c.BedsEquipped += o.BedsEquipped
	c.BedsOccupied += o.BedsOccupied
	c.BedsAvailable += o.BedsAvailable
	c.BedsDegraded += o.BedsDegraded
	c.ConvertibleReady += o.ConvertibleReady
	for k, v := range o.Kinds {
		kc := c.Kinds[k]
		kc.plus(v)
		c.Kinds[k] = kc
	}
}

// capacity computes the counts and the readiness allocation.
func (e *Engine) capacity() (CapacityReport, []ReadyBed) {
	units := make([]Capacity, len(e.units))
	for ui := range e.units {
		units[ui] = e.newCapacity(e.units[ui].cfg.ID, e.units[ui].cfg.Class)
		for _, bi := range e.units[ui].beds {
			units[ui].addBed(e.beds[bi].state)
		}
	}
	hosp := e.newCapacity(All, All)
	for di := range e.devices {
		d := &e.devices[di]
		k := e.kinds[d.kind]
		if ui := e.deviceUnit(int32(di)); ui >= 0 {
			kc := units[ui].Kinds[k]
			kc.add(d.state, 1)
			units[ui].Kinds[k] = kc
		}
		kc := hosp.Kinds[k]
		kc.add(d.state, 1)
		hosp.Kinds[k] = kc
	}
	ready := e.readiness()
	for _, r := range ready {
		units[r.unit].ConvertibleReady++
	}
	rep := CapacityReport{Units: units}
	for _, cl := range classOrder {
		c := e.newCapacity(All, cl)
		var member []bool
		for ui := range units {
			if e.units[ui].cfg.Class == cl {
				c.plus(&units[ui])
				member = e.unitMask(member, int32(ui))
			}
		}
		e.evidence(&c, member)
		rep.Classes = append(rep.Classes, c)
	}
	for ui := range units {
		e.evidence(&units[ui], e.unitMask(nil, int32(ui)))
	}
	for i := range rep.Classes {
		hosp.BedsTotal += rep.Classes[i].BedsTotal
		hosp.BedsEquipped += rep.Classes[i].BedsEquipped
		hosp.BedsOccupied += rep.Classes[i].BedsOccupied
		hosp.BedsAvailable += rep.Classes[i].BedsAvailable
		hosp.BedsDegraded += rep.Classes[i].BedsDegraded
		hosp.ConvertibleReady += rep.Classes[i].ConvertibleReady
	}
	all := make([]bool, len(e.devices))
	for i := range all {
		all[i] = true
	}
	e.evidence(&hosp, all)
	rep.Hospital = hosp
	out := make([]ReadyBed, len(ready))
	for i, r := range ready {
		out[i] = r.ReadyBed
	}
	return rep, out
}

// unitMask marks in mask (allocated when nil) the devices unit ui depends
// on: those of its beds and pools, and for a convertible unit the
// hospital's store.
func (e *Engine) unitMask(mask []bool, ui int32) []bool {
	if mask == nil {
		mask = make([]bool, len(e.devices))
	}
	conv := e.units[ui].cfg.Class == config.ClassConvertible
	for di := range e.devices {
		u := e.deviceUnit(int32(di))
		if u == ui || (conv && u < 0) {
			mask[di] = true
		}
	}
	return mask
}

// evidence fills c.Evidence and c.Verified from the devices in mask.
func (e *Engine) evidence(c *Capacity, mask []bool) {
	ev := Evidence{Stale: []string{}, Missing: []string{}, Coverage: 1}
	for di, in := range mask {
		if !in {
			continue
		}
		d := &e.devices[di]
		ev.Configured++
		switch {
		case d.fresh:
			ev.Fresh++
		case d.seen:
			ev.Stale = append(ev.Stale, d.cfg.ID)
		default:
			ev.Missing = append(ev.Missing, d.cfg.ID)
		}
	}
	if ev.Configured > 0 {
		ev.Coverage = float64(ev.Fresh) / float64(ev.Configured)
	}
	c.Evidence = ev
	c.Verified = ev.Fresh == ev.Configured
}

type readyBed struct {
	ReadyBed
	unit int32
}

// readiness matches convertible beds to standby pool devices: units and
// beds in config order; for each degraded bed, each missing device is
// taken from the unit's own pools first, then the hospital's store, each
// pool device at most once across the hospital. A bed that cannot be fully
// equipped takes nothing.
func (e *Engine) readiness() []readyBed {
	taken := make([]bool, len(e.devices))
	var out []readyBed
	for ui := range e.units {
		u := &e.units[ui]
		if u.cfg.Class != config.ClassConvertible {
			continue
		}
		for _, bi := range u.beds {
			r := readyBed{ReadyBed: ReadyBed{Unit: u.cfg.ID, Bed: e.beds[bi].id}, unit: int32(ui)}
			if e.beds[bi].state.Equipped() {
				r.Via = "equipped"
				out = append(out, r)
				continue
			}
			missing := e.missingKinds(bi)
			if len(missing) == 0 {
				r.Via = "installed"
				out = append(out, r)
				continue
			}
			picks, ok := e.pickFromPools(int32(ui), missing, taken)
			if !ok {
				continue
			}
			r.Via = "pool"
			for _, di := range picks {
				taken[di] = true
				r.Devices = append(r.Devices, e.devices[di].cfg.ID)
			}
			out = append(out, r)
		}
	}
	return out
}

// pickFromPools finds untaken standby pool devices covering missing, or
// reports false.
func (e *Engine) pickFromPools(ui int32, missing []kindNeed, taken []bool) ([]int32, bool) {
	var picks []int32
	for _, m := range missing {
		for n := 0; n < m.n; n++ {
			di, ok := e.findStandby(ui, m.kind, taken, picks)
			if !ok {
				return nil, false
			}
			picks = append(picks, di)
		}
	}
	return picks, true
}

func (e *Engine) findStandby(ui int32, kind int, taken []bool, picks []int32) (int32, bool) {
	try := func(pi int32) (int32, bool) {
		for _, di := range e.pools[pi].devices {
			d := &e.devices[di]
			if d.kind == kind && d.state == Standby && !taken[di] && !containsDev(picks, di) {
				return di, true
			}
		}
		return 0, false
	}
	for _, pi := range e.units[ui].pools {
		if di, ok := try(pi); ok {
			return di, true
		}
	}
	for pi := range e.pools {
		if e.pools[pi].unit < 0 {
			if di, ok := try(int32(pi)); ok {
				return di, true
			}
		}
	}
	return 0, false
}

func containsDev(list []int32, di int32) bool {
	for _, x := range list {
		if x == di {
			return true
		}
	}
	return false
}
