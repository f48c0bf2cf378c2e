package gateway

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/pipeline"
)

// Observations offered to the intake reach the engine: devices follow their
// values, beds follow their devices, the device page shows the last values
// (without clinical ones) and the transitions, and the gateway counts what
// it took.
func TestLoopFollowsDevicesIntoBedsAndDetails(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		allStandby(t, h, site)
		s := h.sync(t)
		for _, d := range s.Devices {
			if d.State != pipeline.Standby {
				t.Errorf("%s = %v after an idle answer, want standby", d.ID, d.State)
			}
		}
		if b := bed(t, s, "icu-01"); b.State != pipeline.Available {
			t.Errorf("icu-01 = %v with both devices in standby, want available", b.State)
		}

		h.offer(t, pipeline.Observation{Device: "mon-1", Time: time.Now(), Values: sample(t, site, "mon-1",
			map[string]float64{"patient_connected": 1, "battery_pct": 80, "heart_rate": 72})})
		s = h.sync(t)
		if d := device(t, s, "mon-1"); d.State != pipeline.InUse {
			t.Errorf("mon-1 = %v with a patient connected, want in_use", d.State)
		}
		if b := bed(t, s, "icu-01"); b.State != pipeline.Occupied {
			t.Errorf("icu-01 = %v with its monitor in use, want occupied", b.State)
		}

		d, ok := h.g.Backend().Device("mon-1")
		if !ok {
			t.Fatal("Backend().Device(mon-1) not found")
		}
		vals := map[string]float64{}
		for _, v := range d.Values {
			vals[v.Name] = v.Value
		}
		if vals["battery_pct"] != 80 || vals["patient_connected"] != 1 {
			t.Errorf("device page values %v, want battery_pct 80 and patient_connected 1", vals)
		}
		if _, ok := vals["heart_rate"]; ok {
			t.Error("the device page shows heart_rate, a clinical value")
		}
		if i := slices.IndexFunc(d.History, func(tr pipeline.Transition) bool { return tr.To == "in_use" }); i < 0 {
			t.Errorf("history %+v lacks the change to in_use", d.History)
		}
		if _, ok := h.g.Backend().Device("no-such-device"); ok {
			t.Error("an unknown device has a device page")
		}
		if n := h.g.counts.observations.Load(); n != 5 {
			t.Errorf("observations counted %d, want 5", n)
		}
	})
}

// A failed poll is counted as failed and keeps no values; an observation
// from a device the site does not configure is counted as unknown.
func TestLoopCountsFailedAndUnknownObservations(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		h.offer(t,
			pipeline.Observation{Device: "vent-1", Time: time.Now(), Err: errors.New("connection refused")},
			pipeline.Observation{Device: "ghost", Time: time.Now(), Values: sample(t, site, "mon-1", nil)},
		)
		s := h.sync(t)
		if got := h.g.counts.failed.Load(); got != 1 {
			t.Errorf("failed observations %d, want 1", got)
		}
		if got := testCounter(h.g.m.unknown); got != 1 {
			t.Errorf("icugate_observations_unknown_total = %v, want 1", got)
		}
		if d := device(t, s, "vent-1"); d.LastError == "" || d.LastSeen != nil {
			t.Errorf("vent-1 after a failed poll: last error %q, last seen %v; want an error and never seen", d.LastError, d.LastSeen)
		}
		if vals, _ := h.g.details.get("vent-1"); len(vals.Values) != 0 {
			t.Errorf("a failed poll left values %+v", vals.Values)
		}
	})
}

// A device clock ahead of the gateway's does not move the engine's clock:
// the observation counts as now. A change an observation caused is dated
// when the device said it happened, even if the engine's clock was ahead.
func TestLoopDatesObservationsByTheDeviceWithinNow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		events := h.g.hub.Subscribe(t.Context())

		now := time.Now()
		h.offer(t, pipeline.Observation{Device: "mon-1", Time: now.Add(time.Hour), Values: sample(t, site, "mon-1", nil)})
		s := h.sync(t)
		if d := device(t, s, "mon-1"); d.LastSeen == nil || !d.LastSeen.Equal(now) {
			t.Errorf("mon-1 last seen %v for an answer dated an hour ahead, want now (%v)", d.LastSeen, now)
		}
		if s.AsOf.After(now) {
			t.Errorf("snapshot as of %v, after now %v", s.AsOf, now)
		}

		// The loop's ticks move the engine to now+3s; an answer from 2 s
		// ago turns mon-2 standby as of then.
		time.Sleep(3 * time.Second)
		then := time.Now().Add(-2 * time.Second)
		h.offer(t, pipeline.Observation{Device: "mon-2", Time: then, Values: sample(t, site, "mon-2", nil)})
		h.sync(t)
		for {
			tr := <-events
			if tr.Type == pipeline.TransitionDevice && tr.ID == "mon-2" {
				if !tr.Time.Equal(then) {
					t.Errorf("mon-2's change dated %v, want the observation's %v", tr.Time, then)
				}
				break
			}
		}
	})
}

// Stopping the loop takes every observation still queued first: what a
// driver handed over before it stopped is never lost.
func TestLoopTakesEveryQueuedObservationAtStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		const n = 1000
		var acked int
		for i := range n {
			o := pipeline.Observation{Device: site.Devices[i%4].ID, Time: time.Now(), Values: sample(t, site, site.Devices[i%4].ID, nil)}
			o.Ack = func() { acked++ }
			h.offer(t, o)
		}
		h.stop()
		if got := h.g.counts.observations.Load(); got != n {
			t.Errorf("the loop took %d observations before stopping, want %d", got, n)
		}
		if d := h.g.in.depth(); d != 0 {
			t.Errorf("%d observations left in the intake", d)
		}
		// Without InfluxDB nothing needs to be durable: every ack is released.
		if acked != n {
			t.Errorf("%d acks released, want %d", acked, n)
		}
	})
}

// Admin commands run on the loop, between observations, and show in the
// snapshot as soon as do returns.
func TestDoAppliesOnTheLoopAndServesAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		allStandby(t, h, site)
		h.sync(t)
		var seen pipeline.DeviceState
		if err := h.g.do(context.Background(), func(e *pipeline.Engine) {
			d, _ := e.Device("vent-2")
			seen = d.State
			if err := e.SetMaintenance("vent-2", true, time.Now(), "eng"); err != nil {
				t.Error(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if seen != pipeline.Standby {
			t.Errorf("the command saw vent-2 %v, want standby", seen)
		}
		if d := device(t, h.g.Snapshot(), "vent-2"); d.State != pipeline.Maintenance || d.MaintenanceBy != "eng" {
			t.Errorf("snapshot right after do: vent-2 %v by %q, want maintenance by eng", d.State, d.MaintenanceBy)
		}

		// A command on a stopped loop gives up with its context.
		h.stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := h.g.do(ctx, func(*pipeline.Engine) {}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("do on a stopped loop: %v, want the context's deadline", err)
		}
	})
}

func TestCountsChanged(t *testing.T) {
	t.Parallel()
	base := func() *pipeline.CapacityReport {
		return &pipeline.CapacityReport{
			Hospital: pipeline.Capacity{BedsTotal: 4, BedsEquipped: 3, Kinds: map[string]pipeline.KindCount{"monitor": {Total: 4}}},
			Units:    []pipeline.Capacity{{Unit: "icu", BedsTotal: 4, BedsEquipped: 3}},
			Classes:  []pipeline.Capacity{{Class: "general", BedsTotal: 4}},
		}
	}
	tests := []struct {
		name string
		edit func(*pipeline.CapacityReport)
		want bool
	}{
		{"same", func(*pipeline.CapacityReport) {}, false},
		{"only the time differs", func(c *pipeline.CapacityReport) { c.Hospital.Evidence.Coverage = 0.5 }, false},
		{"hospital equipped", func(c *pipeline.CapacityReport) { c.Hospital.BedsEquipped = 2 }, true},
		{"hospital verified", func(c *pipeline.CapacityReport) { c.Hospital.Verified = true }, true},
		{"unit occupied", func(c *pipeline.CapacityReport) { c.Units[0].BedsOccupied = 1 }, true},
		{"class convertible ready", func(c *pipeline.CapacityReport) { c.Classes[0].ConvertibleReady = 1 }, true},
		{"kind count", func(c *pipeline.CapacityReport) { c.Hospital.Kinds["monitor"] = pipeline.KindCount{Total: 4, InUse: 1} }, true},
		{"kind added", func(c *pipeline.CapacityReport) { c.Hospital.Kinds["ecmo"] = pipeline.KindCount{} }, true},
		{"unit added", func(c *pipeline.CapacityReport) { c.Units = append(c.Units, pipeline.Capacity{Unit: "nicu"}) }, true},
		{"class removed", func(c *pipeline.CapacityReport) { c.Classes = nil }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.edit(b)
			if got := countsChanged(a, b); got != tc.want {
				t.Errorf("countsChanged = %v, want %v", got, tc.want)
			}
		})
	}
}
