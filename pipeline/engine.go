package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/icugate/icugate/config"
)

// Engine derives device states, bed states and capacity from observations
// and admin events (PRODUCT §4, §5). It holds no goroutines and never reads
// the wall clock: time moves only with the events it is given, and never
// backwards. An Engine is not safe for concurrent use; the gateway
// serialises calls.
type Engine struct {
	site *config.Site
	hold time.Duration
	now  time.Time

	kinds   []string // kind id -> name, in order of first appearance
	devices []device
	devByID map[string]int32
	beds    []bed
	units   []unitInfo
	pools   []poolInfo
	locByID map[string]loc

	timers  timerHeap
	pending []Transition
	stats   Stats
	// unitUtil holds the time devices spent in each unit before they
	// moved out of it, by unit index (the hospital store is not a unit).
	unitUtil [][numDeviceStates]time.Duration
}

// Stats counts what the engine was fed.
type Stats struct {
	// Observations taken (including failed polls).
	Observations uint64 `json:"observations"`
	// Late observations dropped because they were older than the device's
	// previous one.
	Late uint64 `json:"late"`
	// Unknown observations dropped because their device is not configured.
	Unknown uint64 `json:"unknown"`
	// Excused is how long, in total, the gateway could not observe (see
	// Engine.Excuse), and Gaps how many such gaps there were.
	Excused time.Duration `json:"excused_ns"`
	Gaps    uint64        `json:"gaps"`
}

type locKind uint8

const (
	locBed locKind = iota + 1
	locPool
)

// loc is where a device is: a bed or a pool, by index.
type loc struct {
	kind locKind
	idx  int32
}

type kindNeed struct {
	kind int
	n    int
}

type unitInfo struct {
	cfg       *config.Unit
	need      []kindNeed // required kinds with multiplicity, in config order
	occupancy []int      // kind ids whose in_use marks a bed occupied
	beds      []int32
	pools     []int32
}

type poolInfo struct {
	cfg     *config.Pool
	unit    int32 // -1: the hospital's store
	devices []int32
}

// ErrUnknown is wrapped by errors about devices, beds or pools that the site
// does not configure.
var ErrUnknown = errors.New("not configured")

// New builds an engine for site, with every device offline (never seen)
// and every bed degraded as of start. It returns an error naming the
// device, bed or pool when the site is inconsistent.
func New(site *config.Site, start time.Time) (*Engine, error) {
	if site == nil {
		return nil, errors.New("pipeline: nil site")
	}
	e := &Engine{
		site:    site,
		hold:    site.HoldTime(),
		now:     start.Round(0),
		devByID: make(map[string]int32, len(site.Devices)),
		locByID: make(map[string]loc),
	}
	if e.hold < 0 {
		return nil, fmt.Errorf("pipeline: negative hold time %v", e.hold)
	}
	unitByID := make(map[string]int32, len(site.Units))
	for ui := range site.Units {
		u := &site.Units[ui]
		if _, dup := unitByID[u.ID]; dup || u.ID == "" {
			return nil, fmt.Errorf("pipeline: unit %q: duplicate or empty id", u.ID)
		}
		unitByID[u.ID] = int32(ui)
		info := unitInfo{cfg: u}
		for _, k := range u.RequiredKinds() {
			info.addNeed(e.kindID(k))
		}
		for _, k := range u.OccupancyKinds() {
			info.occupancy = append(info.occupancy, e.kindID(k))
		}
		for _, b := range u.Beds {
			if _, dup := e.locByID[b]; dup || b == "" {
				return nil, fmt.Errorf("pipeline: unit %s: bed %q: duplicate or empty id", u.ID, b)
			}
			e.locByID[b] = loc{locBed, int32(len(e.beds))}
			info.beds = append(info.beds, int32(len(e.beds)))
			e.beds = append(e.beds, bed{id: b, unit: int32(ui), since: e.now})
		}
		e.units = append(e.units, info)
	}
	e.unitUtil = make([][numDeviceStates]time.Duration, len(e.units))
	for pi := range site.Pools {
		p := &site.Pools[pi]
		if _, dup := e.locByID[p.ID]; dup || p.ID == "" {
			return nil, fmt.Errorf("pipeline: pool %q: duplicate or empty id (bed and pool ids share one namespace)", p.ID)
		}
		owner := int32(-1)
		if p.Unit != "" {
			ui, ok := unitByID[p.Unit]
			if !ok {
				return nil, fmt.Errorf("pipeline: pool %s: unit %q: %w", p.ID, p.Unit, ErrUnknown)
			}
			owner = ui
			e.units[ui].pools = append(e.units[ui].pools, int32(pi))
		}
		e.locByID[p.ID] = loc{locPool, int32(pi)}
		e.pools = append(e.pools, poolInfo{cfg: p, unit: owner})
	}
	e.devices = make([]device, 0, len(site.Devices))
	for di := range site.Devices {
		if err := e.addDevice(&site.Devices[di]); err != nil {
			return nil, err
		}
	}
	for bi := range e.beds {
		e.beds[bi].state = e.bedTarget(int32(bi))
		e.beds[bi].reason = e.bedReasons(int32(bi))
	}
	return e, nil
}

func (u *unitInfo) addNeed(kind int) {
	for i := range u.need {
		if u.need[i].kind == kind {
			u.need[i].n++
			return
		}
	}
	u.need = append(u.need, kindNeed{kind: kind, n: 1})
}

// kindID interns a device kind.
func (e *Engine) kindID(k string) int {
	for i, n := range e.kinds {
		if n == k {
			return i
		}
	}
	e.kinds = append(e.kinds, k)
	return len(e.kinds) - 1
}

func (e *Engine) addDevice(c *config.Device) error {
	if _, dup := e.devByID[c.ID]; dup || c.ID == "" {
		return fmt.Errorf("pipeline: device %q: duplicate or empty id", c.ID)
	}
	at, ok := e.locByID[c.At]
	if !ok {
		return fmt.Errorf("pipeline: device %s: at %q: %w", c.ID, c.At, ErrUnknown)
	}
	prof := e.site.Profiles[c.Profile]
	if prof == nil {
		return fmt.Errorf("pipeline: device %s: profile %q: %w", c.ID, c.Profile, ErrUnknown)
	}
	di := int32(len(e.devices))
	e.devByID[c.ID] = di
	e.devices = append(e.devices, device{
		cfg:     c,
		prof:    prof,
		kind:    e.kindID(c.Kind),
		window:  c.FreshnessWindow(),
		limit:   c.FailureLimit(),
		at:      at,
		state:   Offline,
		cause:   causeNeverSeen,
		since:   e.now,
		accFrom: e.now,
	})
	e.attach(di, at)
	return nil
}

// Now is the engine's clock: the latest time it has been given.
func (e *Engine) Now() time.Time { return e.now }

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats { return e.stats }

// Observe takes one poll result or message. It first advances the clock to
// o.Time. An observation older than the device's previous one is dropped
// (counted as late): a device's clock never moves backwards. Values equal
// to the device's previous values reuse the cached rule result, which
// keeps the steady state free of allocation. Observe does not call o.Ack;
// acknowledgement is the caller's, once what follows from o is durable.
func (e *Engine) Observe(o Observation) error {
	di, ok := e.devByID[o.Device]
	if !ok {
		e.stats.Unknown++
		return fmt.Errorf("pipeline: observation from device %q: %w", o.Device, ErrUnknown)
	}
	t := o.Time.Round(0)
	e.Advance(t)
	d := &e.devices[di]
	if d.observed && t.Before(d.lastObs) {
		e.stats.Late++
		return nil
	}
	d.observed = true
	d.lastObs = t
	e.stats.Observations++
	if o.Err != nil {
		e.fail(di, o.Err.Error())
		return nil
	}
	if msg := d.derive(o.Values); msg != "" {
		e.fail(di, msg)
		return nil
	}
	d.failures = 0
	d.serialGot = o.Serial
	d.serialBad = serialUntrusted(d.cfg, d.prof, o.Serial)
	if !d.seen || t.After(d.lastSeen) {
		d.lastSeen = t
	}
	d.seen = true
	d.fresh = e.now.Before(d.lastSeen.Add(d.window))
	if d.fresh && !d.inHeap {
		d.inHeap = true
		e.timers.push(timer{at: d.lastSeen.Add(d.window), kind: timerFresh, idx: di})
	}
	e.reevaluate(di)
	return nil
}

// fail records a failed observation of device di.
func (e *Engine) fail(di int32, msg string) {
	d := &e.devices[di]
	d.failures++
	d.lastErr = msg
	e.reevaluate(di)
}

// Advance moves the clock to now (never backwards), applying, in time
// order, every freshness expiry and every bed hold that falls due.
func (e *Engine) Advance(now time.Time) {
	now = now.Round(0)
	for len(e.timers) > 0 && !e.timers[0].at.After(now) {
		t := e.timers.pop()
		if t.at.After(e.now) {
			e.now = t.at
		}
		switch t.kind {
		case timerFresh:
			e.expire(t)
		case timerHold:
			e.holdDue(t)
		}
	}
	if now.After(e.now) {
		e.now = now
	}
}

// Excuse tells the engine that for the last d the gateway could not
// observe: its loop was stalled, the process was stopped (SIGSTOP) or the
// host suspended, or the wall clock jumped forward by d. Freshness is
// judged on time the gateway was watching, so every device that was fresh
// keeps the window it had left when the gap began: its last-seen time
// moves d later. A device that was already stale stays stale. Without
// this, a 90 s stall of the gateway itself would mark every healthy device
// offline at once and empty the equipped-bed count.
//
// Call it before Advance or Observe with a time after the gap.
func (e *Engine) Excuse(d time.Duration) {
	if d <= 0 {
		return
	}
	for i := range e.devices {
		dv := &e.devices[i]
		if dv.seen && dv.fresh {
			dv.lastSeen = dv.lastSeen.Add(d)
		}
	}
	e.stats.Excused += d
	e.stats.Gaps++
}

// expire handles a freshness timer of a device.
func (e *Engine) expire(t timer) {
	d := &e.devices[t.idx]
	due := d.lastSeen.Add(d.window)
	if due.After(t.at) {
		// Refreshed since the timer was set: wait for the real deadline.
		e.timers.push(timer{at: due, kind: timerFresh, idx: t.idx})
		return
	}
	d.inHeap = false
	d.fresh = false
	e.reevaluate(t.idx)
}

// Transitions appends the transitions recorded since the last call to dst,
// in the order they happened, and forgets them. The gateway drains them
// after every call that can cause one; undrained transitions accumulate.
func (e *Engine) Transitions(dst []Transition) []Transition {
	dst = append(dst, e.pending...)
	clear(e.pending)
	e.pending = e.pending[:0]
	return dst
}

// Transition is one change of a device's state, a device's place, or a
// bed's state, with when and why.
type Transition struct {
	Time time.Time `json:"time"`
	// Type is "device" (a state change), "move" (From and To are bed or
	// pool ids) or "bed".
	Type string `json:"type"`
	// ID is the device or bed id.
	ID string `json:"id"`
	// Kind is the device kind (device and move transitions).
	Kind string `json:"kind,omitempty"`
	// Unit is the unit of the bed or of the device's place ("" for the
	// hospital's store).
	Unit string `json:"unit"`
	// At is, for device transitions, the bed or pool the device is at.
	At    string `json:"at,omitempty"`
	From  string `json:"from"`
	To    string `json:"to"`
	Cause string `json:"cause"`
	// Reason lists, for a bed becoming degraded, each missing or unhealthy
	// device.
	Reason []string `json:"reason,omitempty"`
}

// Transition types.
const (
	TransitionDevice = "device"
	TransitionMove   = "move"
	TransitionBed    = "bed"
)
