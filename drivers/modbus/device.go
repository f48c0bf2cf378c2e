package modbus

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// device is one polled device and its loop's private state; only its own
// goroutine touches it.
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
	samples   []config.Sample

	// Unit backoff: after two consecutive timeouts the unit is tried
	// only every 2, 4, 8... intervals, up to maxBackoff.
	timeouts   int
	skipUntil  time.Time
	lastErr    error
	maxBackoff time.Duration

	lastReason string
	polls      prometheus.Counter
	errs       *prometheus.CounterVec
	duration   prometheus.Observer
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
		answers: newAnswers(plan), samples: make([]config.Sample, len(prof.Values)),
		maxBackoff: min(opts.MaxUnitBackoff, 16*iv),
	}
	dv.polls, dv.errs, dv.duration = m.forDevice(dev.ID, dev.Transport())
	return dv
}

// poll reads the device once and builds its observation.
func (dv *device) poll(ctx context.Context) pipeline.Observation {
	start := time.Now()
	err := dv.read(ctx, start)
	obs := pipeline.Observation{Device: dv.id, Time: time.Now()}
	if err == nil {
		obs.Serial, err = dv.plan.decodeAll(dv.prof, dv.answers, dv.samples)
	}
	if err != nil {
		obs.Err = fmt.Errorf("device %s: %w", dv.id, err)
	} else {
		// The observation may wait in the intake while the next poll
		// decodes: hand over a copy, never the device's own buffer.
		obs.Values = slices.Clone(dv.samples)
	}
	dv.observe(start, obs.Err)
	return obs
}

// read runs the plan on a pooled connection, unless the unit is backed off.
func (dv *device) read(ctx context.Context, now time.Time) error {
	if now.Before(dv.skipUntil) {
		return &backoffError{what: "unit", err: dv.lastErr}
	}
	s, err := dv.ep.acquire(ctx)
	if err != nil {
		return err
	}
	defer dv.ep.release(s)
	if err := dv.ep.connect(ctx, s, dv.timeout); err != nil {
		return fmt.Errorf("connect %s: %w", dv.ep.key, err)
	}
	err = readAll(ctx, s.c, dv.unit, dv.plan, dv.timeout, dv.answers)
	if !keepsConnection(err) || dv.closeEach {
		s.c.close()
		s.c = nil
	}
	if Reason(err) == ReasonTimeout {
		dv.timeouts++
		dv.lastErr = err
		if dv.timeouts >= 2 {
			dv.skipUntil = time.Now().Add(backoff(dv.interval, dv.maxBackoff, dv.timeouts-1))
		}
	} else {
		dv.timeouts = 0
		dv.skipUntil = time.Time{}
	}
	return err
}

func (dv *device) observe(start time.Time, err error) {
	if dv.polls == nil {
		return
	}
	dv.polls.Inc()
	dv.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		dv.errs.WithLabelValues(Reason(err)).Inc()
	}
}
