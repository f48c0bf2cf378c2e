package pipeline

import (
	"fmt"
	"slices"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

const causeNeverSeen = "never seen"

// device is the engine's view of one configured device.
type device struct {
	cfg    *config.Device
	prof   *config.Profile
	kind   int
	window time.Duration
	limit  int
	at     loc

	state DeviceState
	cause string
	since time.Time

	observed bool      // any observation, valid or not
	lastObs  time.Time // the device's clock: its latest observation
	seen     bool      // a valid observation ever
	lastSeen time.Time // latest valid observation
	fresh    bool      // lastSeen within the freshness window
	inHeap   bool      // a freshness timer is pending
	failures int       // consecutive failed observations
	lastErr  string

	// Rule cache: the last values given to Derive and what it said.
	cacheVals []rules.Sample
	// env is the rule environment, reused from poll to poll.
	env       map[string]any
	cacheOK   bool
	cacheCond rules.Condition
	cacheErr  string
	// cond is the condition of the latest valid observation.
	cond rules.Condition

	serialBad bool   // the latest valid observation reported a wrong serial
	serialGot string // the serial of the latest valid observation

	admin   bool // maintenance set by an engineer
	adminBy string

	// Utilisation: util holds time per state up to accFrom; utilMark is
	// util when the device last changed unit.
	util     [numDeviceStates]time.Duration
	accFrom  time.Time
	utilMark [numDeviceStates]time.Duration
}

// derive runs the profile's state rules over values, unless they equal the
// values of the previous call. It returns "" or the rule error's message.
func (d *device) derive(values []rules.Sample) string {
	if d.cacheOK && slices.Equal(values, d.cacheVals) {
		if d.cacheErr == "" {
			d.cond = d.cacheCond
		}
		return d.cacheErr
	}
	d.cacheVals = append(d.cacheVals[:0], values...)
	d.cacheOK = true
	if d.env == nil {
		d.env = make(map[string]any, len(d.prof.Values))
	}
	c, err := d.prof.Rules.DeriveIn(d.env, values)
	if err != nil {
		d.cacheErr = err.Error()
		return d.cacheErr
	}
	d.cacheErr = ""
	d.cacheCond = c
	d.cond = c
	return ""
}

// target is the state the device's evidence says it is in, in order of
// precedence: an engineer's maintenance flag; offline (stale or failing);
// untrusted identity; reported fault; reported service mode; in use;
// standby.
func (d *device) target() DeviceState {
	switch {
	case d.admin:
		return Maintenance
	case !d.fresh, d.failures >= d.limit:
		return Offline
	case d.serialBad, d.cond.Fault:
		return Fault
	case d.cond.Maintenance:
		return Maintenance
	case d.cond.InUse:
		return InUse
	default:
		return Standby
	}
}

// causeOf explains target(); it allocates, so it is called only on change.
func (d *device) causeOf() string {
	switch {
	case d.admin:
		return "maintenance set by " + d.adminBy
	case !d.seen:
		return causeNeverSeen
	case !d.fresh:
		return fmt.Sprintf("no valid answer for %v", d.window)
	case d.failures >= d.limit:
		return fmt.Sprintf("%d consecutive failed polls: %s", d.failures, d.lastErr)
	case d.serialBad && d.serialGot == "":
		return fmt.Sprintf("not trusted: the device reports no serial, want %s (if this model never reports one, set trust_empty_serial: true in profile %s)", d.cfg.Serial, d.prof.Name)
	case d.serialBad:
		return fmt.Sprintf("serial mismatch: want %s got %s", d.cfg.Serial, d.serialGot)
	case d.cond.Fault:
		return d.because("fault rule true", rules.FaultRule)
	case d.cond.Maintenance:
		return d.because("maintenance rule true (device reports service mode)", rules.MaintenanceRule)
	case d.cond.InUse:
		return d.because("in_use rule true", rules.InUseRule)
	default:
		return "online, healthy, in_use rule false"
	}
}

// serialUntrusted reports whether a device that reported serial got is not
// the one configured: another serial, or none where one is expected
// (unless its profile trusts an empty serial).
func serialUntrusted(cfg *config.Device, prof *config.Profile, got string) bool {
	if cfg.Serial == "" || got == cfg.Serial {
		return false
	}
	return got != "" || prof == nil || !prof.TrustEmptySerial
}

// because adds to what the values that made rule r true were: "fault rule
// true: tech_fault = true (discrete 9)".
func (d *device) because(what string, r rules.Rule) string {
	if d.prof == nil || d.prof.Rules == nil {
		return what
	}
	if why := d.prof.Rules.Explain(r, d.cacheVals); why != "" {
		return what + ": " + why
	}
	return what
}

// settle adds the time since accFrom to the current state's utilisation.
func (d *device) settle(t time.Time) {
	if t.After(d.accFrom) {
		d.util[d.state] += t.Sub(d.accFrom)
		d.accFrom = t
	}
}

// utilAt is the device's utilisation up to t without changing it.
func (d *device) utilAt(t time.Time) [numDeviceStates]time.Duration {
	u := d.util
	if t.After(d.accFrom) {
		u[d.state] += t.Sub(d.accFrom)
	}
	return u
}

// reevaluate recomputes device di's state at the engine's clock and, on a
// change, records the transition and re-evaluates its bed.
func (e *Engine) reevaluate(di int32) {
	d := &e.devices[di]
	s := d.target()
	if s == d.state {
		return
	}
	d.settle(e.now)
	from := d.state
	d.state = s
	d.since = e.now
	d.cause = d.causeOf()
	e.pending = append(e.pending, Transition{
		Time:  e.now,
		Type:  TransitionDevice,
		ID:    d.cfg.ID,
		Kind:  e.kinds[d.kind],
		Unit:  e.unitID(e.deviceUnit(di)),
		At:    e.locID(d.at),
		From:  from.String(),
		To:    s.String(),
		Cause: d.cause,
	})
	if d.at.kind == locBed {
		e.evalBed(d.at.idx)
	}
}

// deviceUnit is the index of the unit device di belongs to through its
// place, or -1 for the hospital's store.
func (e *Engine) deviceUnit(di int32) int32 {
	return e.locUnit(e.devices[di].at)
}

func (e *Engine) locUnit(l loc) int32 {
	if l.kind == locBed {
		return e.beds[l.idx].unit
	}
	return e.pools[l.idx].unit
}

func (e *Engine) unitID(ui int32) string {
	if ui < 0 {
		return ""
	}
	return e.units[ui].cfg.ID
}

func (e *Engine) locID(l loc) string {
	if l.kind == locBed {
		return e.beds[l.idx].id
	}
	return e.pools[l.idx].cfg.ID
}

// attach and detach keep the per-place device lists sorted by config order,
// so evaluation order never depends on the history of moves.
func (e *Engine) attach(di int32, l loc) {
	list := e.placeDevices(l)
	i, _ := slices.BinarySearch(*list, di)
	*list = slices.Insert(*list, i, di)
}

func (e *Engine) detach(di int32, l loc) {
	list := e.placeDevices(l)
	if i, ok := slices.BinarySearch(*list, di); ok {
		*list = slices.Delete(*list, i, i+1)
	}
}

func (e *Engine) placeDevices(l loc) *[]int32 {
	if l.kind == locBed {
		return &e.beds[l.idx].devices
	}
	return &e.pools[l.idx].devices
}
