package pipeline

import (
	"fmt"
	"time"
)

// SetMaintenance sets or clears the engineer's maintenance flag of a
// device at time at (the clock first advances to at). While set, the
// device is in maintenance whatever it reports: an engineer took it out of
// service. An unknown device is an error that changes nothing.
func (e *Engine) SetMaintenance(device string, on bool, at time.Time, by string) error {
	di, ok := e.devByID[device]
	if !ok {
		return fmt.Errorf("pipeline: set maintenance of device %q: %w", device, ErrUnknown)
	}
	e.Advance(at)
	d := &e.devices[di]
	if d.admin == on {
		return nil
	}
	d.admin = on
	d.adminBy = by
	n := len(e.pending)
	e.reevaluate(di)
	if !on && len(e.pending) > n {
		// causeOf explains the new state; record who released it too.
		t := &e.pending[n]
		t.Cause = "maintenance cleared by " + by + "; " + t.Cause
	}
	return nil
}

// Move assigns a device to a bed or pool at time at (the clock first
// advances to at), recording a move transition and re-evaluating the beds
// it left and joined. An unknown device or place is an error that changes
// nothing; moving a device where it already is does nothing.
func (e *Engine) Move(device, to string, at time.Time, by string) error {
	di, ok := e.devByID[device]
	if !ok {
		return fmt.Errorf("pipeline: move device %q: %w", device, ErrUnknown)
	}
	dst, ok := e.locByID[to]
	if !ok {
		return fmt.Errorf("pipeline: move device %s to %q: no such bed or pool: %w", device, to, ErrUnknown)
	}
	e.Advance(at)
	d := &e.devices[di]
	src := d.at
	if src == dst {
		return nil
	}
	// Time so far belongs to the unit the device is leaving.
	d.settle(e.now)
	if u := e.locUnit(src); u >= 0 {
		for s := range d.util {
			e.unitUtil[u][s] += d.util[s] - d.utilMark[s]
		}
	}
	d.utilMark = d.util

	e.detach(di, src)
	d.at = dst
	e.attach(di, dst)
	kind := "pool"
	if dst.kind == locBed {
		kind = "bed"
	}
	e.pending = append(e.pending, Transition{
		Time:  e.now,
		Type:  TransitionMove,
		ID:    d.cfg.ID,
		Kind:  e.kinds[d.kind],
		Unit:  e.unitID(e.locUnit(dst)),
		At:    to,
		From:  e.locID(src),
		To:    to,
		Cause: fmt.Sprintf("moved to %s %s by %s", kind, to, by),
	})
	if src.kind == locBed {
		e.evalBed(src.idx)
	}
	if dst.kind == locBed {
		e.evalBed(dst.idx)
	}
	return nil
}
