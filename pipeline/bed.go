package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// bed is the engine's view of one bed.
type bed struct {
	id      string
	unit    int32
	devices []int32 // devices at the bed, in config order

	state  BedState
	since  time.Time
	reason []string // why the bed is degraded; nil when equipped

	// A pending change: the live condition differs from the held state
	// since pendingSince and becomes the state at pendingDue unless it
	// flips back first.
	pending      bool
	pendingState BedState
	pendingSince time.Time
	pendingDue   time.Time
}

// bedTarget is the bed's live condition from its devices' current states:
// equipped when every required kind has enough healthy (in_use or standby)
// devices at the bed; occupied when equipped and an occupancy-kind device
// is in use.
func (e *Engine) bedTarget(bi int32) BedState {
	b := &e.beds[bi]
	u := &e.units[b.unit]
	for _, need := range u.need {
		healthy := 0
		for _, di := range b.devices {
			d := &e.devices[di]
			if d.kind == need.kind && d.state.healthy() {
				healthy++
			}
		}
		if healthy < need.n {
			return Degraded
		}
	}
	for _, di := range b.devices {
		d := &e.devices[di]
		if d.state == InUse && u.occupies(d.kind) {
			return Occupied
		}
	}
	return Available
}

func (u *unitInfo) occupies(kind int) bool {
	for _, k := range u.occupancy {
		if k == kind {
			return true
		}
	}
	return false
}

// bedReasons lists why the bed is not equipped: each required device that
// is offline, faulted or in maintenance, and each required kind with too
// few devices at the bed. Empty when the bed is equipped.
func (e *Engine) bedReasons(bi int32) []string {
	b := &e.beds[bi]
	u := &e.units[b.unit]
	var out []string
	for _, need := range u.need {
		healthy, present := 0, 0
		var bad []string
		for _, di := range b.devices {
			d := &e.devices[di]
			if d.kind != need.kind {
				continue
			}
			present++
			if d.state.healthy() {
				healthy++
			} else {
				bad = append(bad, fmt.Sprintf("%s %s %s", e.kinds[need.kind], d.cfg.ID, d.state))
			}
		}
		if healthy >= need.n {
			continue
		}
		out = append(out, bad...)
		if miss := need.n - present; miss > 0 {
			if need.n == 1 {
				out = append(out, "missing "+e.kinds[need.kind])
			} else {
				out = append(out, fmt.Sprintf("missing %d of %d %s", miss, need.n, e.kinds[need.kind]))
			}
		}
	}
	return out
}

// missingKinds is, per required kind, how many more healthy devices the bed
// needs to be equipped.
func (e *Engine) missingKinds(bi int32) []kindNeed {
	b := &e.beds[bi]
	u := &e.units[b.unit]
	var out []kindNeed
	for _, need := range u.need {
		healthy := 0
		for _, di := range b.devices {
			d := &e.devices[di]
			if d.kind == need.kind && d.state.healthy() {
				healthy++
			}
		}
		if healthy < need.n {
			out = append(out, kindNeed{kind: need.kind, n: need.n - healthy})
		}
	}
	return out
}

// evalBed compares bed bi's live condition with its held state at the
// engine's clock: equal cancels a pending change; different starts (or
// keeps) a pending change, applied after the hold time, at once if zero.
func (e *Engine) evalBed(bi int32) {
	b := &e.beds[bi]
	live := e.bedTarget(bi)
	if live == b.state {
		b.pending = false
		if live == Degraded {
			b.reason = e.bedReasons(bi)
		}
		return
	}
	if e.hold == 0 {
		e.applyBed(bi, live)
		return
	}
	if b.pending && b.pendingState == live {
		return
	}
	b.pending = true
	b.pendingState = live
	b.pendingSince = e.now
	b.pendingDue = e.now.Add(e.hold)
	e.timers.push(timer{at: b.pendingDue, kind: timerHold, idx: bi})
}

// holdDue applies a bed's pending change whose hold has run out; timers of
// cancelled or restarted changes are ignored.
func (e *Engine) holdDue(t timer) {
	b := &e.beds[t.idx]
	if !b.pending || !b.pendingDue.Equal(t.at) {
		return
	}
	e.applyBed(t.idx, b.pendingState)
}

// applyBed sets bed bi's held state and records the transition.
func (e *Engine) applyBed(bi int32, to BedState) {
	b := &e.beds[bi]
	from := b.state
	b.state = to
	b.since = e.now
	b.pending = false
	b.reason = e.bedReasons(bi)
	e.pending = append(e.pending, Transition{
		Time:   e.now,
		Type:   TransitionBed,
		ID:     b.id,
		Unit:   e.units[b.unit].cfg.ID,
		From:   from.String(),
		To:     to.String(),
		Cause:  e.bedCause(bi),
		Reason: b.reason,
	})
}

func (e *Engine) bedCause(bi int32) string {
	b := &e.beds[bi]
	switch b.state {
	case Degraded:
		return "not equipped: " + strings.Join(b.reason, "; ")
	case Occupied:
		u := &e.units[b.unit]
		var users []string
		for _, di := range b.devices {
			d := &e.devices[di]
			if d.state == InUse && u.occupies(d.kind) {
				users = append(users, e.kinds[d.kind]+" "+d.cfg.ID)
			}
		}
		return "equipped, in use: " + strings.Join(users, ", ")
	default:
		return "equipped, no occupancy device in use"
	}
}
