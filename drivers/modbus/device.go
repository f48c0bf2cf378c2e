package modbus

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
)

// device is one polled device and its private state; only the endpoint
// worker that has taken it from the schedule touches it.
type device struct {
	id        string
	unit      byte
	interval  time.Duration
	timeout   time.Duration
	closeEach bool
	prof      *config.Profile
	plan      *Plan
	ep        *endpoint
	answers   answers
	samples   []rules.Sample
	serial    serialCache

	// Unit backoff: after two consecutive timeouts the unit is tried
	// only every 2, 4, 8... intervals, up to maxBackoff.
	timeouts   int
	skipUntil  time.Time
	lastErr    error
	maxBackoff time.Duration

	lastReason string
	// sinceTimeout counts polls since the last timeout (backed-off polls
	// excluded); suspect is set from it when the device is rescheduled.
	sinceTimeout int
	suspect      bool
	due          time.Time // next tick, while in the endpoint's schedule
	dueNs        int64     // due as Unix nanoseconds: the heap's cheap key
	seq          uint64
	polls        prometheus.Counter
	errs         *prometheus.CounterVec
	duration     prometheus.Observer
}

func newDevice(dev *config.Device, prof *config.Profile, plan *Plan, ep *endpoint, m *metrics, opts Options) *device {
	iv := dev.Modbus.Interval
	if iv <= 0 {
		iv = config.DefaultModbusInterval
	}
	to := dev.Modbus.Timeout
	if to <= 0 {
		to = config.DefaultModbusTimeout
	}
	dv := &device{
		id: dev.ID, unit: byte(dev.Modbus.UnitID), interval: iv, timeout: to,
		closeEach: dev.Modbus.CloseAfterPoll, prof: prof, plan: plan, ep: ep,
		answers: newAnswers(plan), samples: make([]rules.Sample, len(prof.Values)),
		maxBackoff: min(opts.MaxUnitBackoff, 16*iv), sinceTimeout: suspectPolls,
	}
	dv.polls, dv.errs, dv.duration = m.forDevice(dev.ID, dev.Transport())
	return dv
}

// poll reads the device once over the connection slot s and builds its
// observation.
func (dv *device) poll(ctx context.Context, s *connSlot) pipeline.Observation {
	start := time.Now()
	err := dv.read(ctx, s, start)
	return dv.observation(start, err, time.Now())
}

// observation builds the observation of a poll that started at start and
// ended at end with err (nil: the answers are in dv.answers), and counts
// it.
func (dv *device) observation(start time.Time, err error, end time.Time) pipeline.Observation {
	obs := pipeline.Observation{Device: dv.id, Time: end}
	if err == nil {
		obs.Serial, err = dv.plan.decodeAll(dv.prof, dv.answers, dv.samples, &dv.serial)
	}
	if err != nil {
		obs.Err = fmt.Errorf("device %s: %w", dv.id, err)
	} else {
		// The observation may wait in the intake while the next poll
		// decodes: hand over a copy, never the device's own buffer.
		obs.Values = slices.Clone(dv.samples)
	}
	dv.observe(obs.Time.Sub(start), obs.Err)
	return obs
}

// read runs the plan on the endpoint connection s, unless the unit is
// backed off.
func (dv *device) read(ctx context.Context, s *connSlot, now time.Time) error {
	if err := dv.precheck(now); err != nil {
		return err
	}
	if err := dv.ep.connect(ctx, s, dv.timeout); err != nil {
		return dv.ep.connectFailed(err)
	}
	err := readAll(ctx, s.c, dv.unit, dv.plan, dv.timeout, dv.answers)
	if !keepsConnection(err) || dv.closeEach {
		s.c.close()
		s.c = nil
	}
	dv.afterRead(err)
	return err
}

// setDue sets the device's next tick.
func (dv *device) setDue(t time.Time) { dv.due, dv.dueNs = t, t.UnixNano() }

// precheck refuses a poll while the unit is backed off.
func (dv *device) precheck(now time.Time) error {
	if now.Before(dv.skipUntil) {
		return &backoffError{what: "unit", err: dv.lastErr}
	}
	return nil
}

// afterRead keeps the unit's timeout count and backoff after a read that
// was sent (err nil or its error).
func (dv *device) afterRead(err error) {
	if Reason(err) == ReasonTimeout {
		dv.sinceTimeout = 0
		dv.timeouts++
		dv.lastErr = err
		if dv.timeouts >= 2 {
			dv.skipUntil = time.Now().Add(backoff(dv.interval, dv.maxBackoff, dv.timeouts-1))
		}
	} else {
		dv.sinceTimeout++
		dv.timeouts = 0
		dv.skipUntil = time.Time{}
	}
}

// observe counts a poll that took d (its round trips; decoding excluded).
func (dv *device) observe(d time.Duration, err error) {
	if dv.polls == nil {
		return
	}
	dv.polls.Inc()
	dv.duration.Observe(d.Seconds())
	if err != nil {
		dv.errs.WithLabelValues(Reason(err)).Inc()
	}
}
