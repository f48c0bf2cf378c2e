package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/influx"
	"github.com/icugate/icugate/outbox"
)

// drainPoints takes every point the loop pushed to the spool so far.
func drainPoints(h *loopHarness) []influx.Point {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []influx.Point
	for {
		bs, ok := h.g.spool.pop(ctx)
		if !ok {
			return out
		}
		for _, b := range bs {
			out = append(out, b.points...)
		}
	}
}

// byMeasurement counts points per measurement, and per measurement and
// tag value of key for the state and telemetry points.
func byMeasurement(ps []influx.Point) map[string]int {
	out := map[string]int{}
	for _, p := range ps {
		out[p.Measurement]++
		for _, tg := range p.Tags {
			if tg.Key == "device" || tg.Key == "bed" && p.Measurement == "bed_state" {
				out[p.Measurement+" "+tg.Value]++
			}
		}
	}
	return out
}

func field(p influx.Point, key string) any {
	for _, f := range p.Fields {
		if f.Key == key {
			return f.Value()
		}
	}
	return nil
}

func tag(p influx.Point, key string) string {
	for _, tg := range p.Tags {
		if tg.Key == key {
			return tg.Value
		}
	}
	return ""
}

// The loop writes what PRODUCT §6 promises, no more: counts at start,
// a state point per change (with the state it changed to), telemetry at
// most every 10 s per device, its own health every 10 s, every state on the
// minute's heartbeat, and a last health point at stop.
func TestLoopWritesStatePointsOnChangeAndHeartbeat(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{queue: &fakeQueue{}, noOutput: true})
		s := h.sync(t)
		counts := 1 + len(s.Capacity.Classes) + len(s.Capacity.Units) // hospital, classes, units
		got := byMeasurement(drainPoints(h))
		if got["icu_capacity"] != counts || got["gateway"] != 1 || got["device_state"] != 0 || got["bed_state"] != 0 {
			t.Errorf("at start: %v; want the %d capacity points and one gateway point only", got, counts)
		}

		allStandby(t, h, site)
		h.sync(t)
		ps := drainPoints(h)
		got = byMeasurement(ps)
		for _, d := range site.Devices {
			if got["device_state "+d.ID] != 1 || got["device_telemetry "+d.ID] != 1 {
				t.Errorf("%s: %d state and %d telemetry points on its first answer, want 1 and 1", d.ID, got["device_state "+d.ID], got["device_telemetry "+d.ID])
			}
		}
		if got["bed_state icu-01"] != 1 || got["bed_state icu-02"] != 1 || got["icu_capacity"] != counts {
			t.Errorf("after every device answered: %v; want one bed_state per bed and new counts", got)
		}
		for _, p := range ps {
			if p.Measurement == "device_state" && field(p, "state") != "standby" {
				t.Errorf("device_state of %s says %v, want standby", tag(p, "device"), field(p, "state"))
			}
			if p.Measurement == "bed_state" && field(p, "state") != "available" {
				t.Errorf("bed_state of %s says %v, want available", tag(p, "bed"), field(p, "state"))
			}
		}

		// 25 s of unchanged answers: telemetry at 10 and 20 s only, health
		// every 10 s, no state point.
		for range 25 {
			time.Sleep(time.Second)
			allStandby(t, h, site)
		}
		h.sync(t)
		got = byMeasurement(drainPoints(h))
		if got["device_telemetry"] != 8 || got["device_state"] != 0 || got["bed_state"] != 0 || got["icu_capacity"] != 0 {
			t.Errorf("25 s without a change: %v; want 2 telemetry points per device and no state point", got)
		}
		if n := got["gateway"]; n < 2 || n > 3 {
			t.Errorf("%d gateway points in 25 s, want one every 10 s", n)
		}

		// The heartbeat a minute after start: every device, bed and count.
		for range 35 {
			time.Sleep(time.Second)
			allStandby(t, h, site)
		}
		h.sync(t)
		got = byMeasurement(drainPoints(h))
		if got["device_state"] != 4 || got["bed_state"] != 2 || got["icu_capacity"] != counts {
			t.Errorf("the heartbeat wrote %v; want every device, bed and count", got)
		}

		// At stop, the last health point carries the final counts.
		h.stop()
		ps = drainPoints(h)
		last := ps[len(ps)-1]
		if last.Measurement != "gateway" || field(last, "observations") != int64(h.g.counts.observations.Load()) {
			t.Errorf("last point %s observations=%v, want gateway with %d", last.Measurement, field(last, "observations"), h.g.counts.observations.Load())
		}
	})
}

// A bed that changes twice in one burst gets a point for each state it
// went to, not two of its final state.
func TestLoopBedPointsFollowEachTransition(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{queue: &fakeQueue{}, noOutput: true})
		allStandby(t, h, site)
		h.sync(t)
		drainPoints(h)
		// One burst: vent-1 faults, then recovers.
		now := time.Now()
		h.offer(t,
			obs(t, site, "vent-1", now, map[string]float64{"status": 1}),
			obs(t, site, "vent-1", now, nil),
		)
		h.sync(t)
		var states []string
		for _, p := range drainPoints(h) {
			if p.Measurement == "bed_state" && tag(p, "bed") == "icu-01" {
				states = append(states, fmt.Sprint(field(p, "state")))
			}
		}
		if strings.Join(states, ",") != "degraded,available" {
			t.Errorf("bed_state points of icu-01 %v, want degraded then available", states)
		}
	})
}

// The gateway point carries the counters, and the outbox's and writer's
// figures when InfluxDB is configured.
func TestGatewayPointFields(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	site, path := smallSite(t, dir, nil, "")
	g, err := New(site, Options{SitePath: path, DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	g.counts.observations.Add(7)
	g.counts.failed.Add(2)
	g.counts.transitions.Add(3)
	at := time.Unix(1000, 0)
	p := g.gatewayPoint("test-hospital", at)
	if p.Measurement != "gateway" || p.Class != influx.State || !p.Time.Equal(at) || tag(p, "hospital") != "test-hospital" {
		t.Fatalf("gateway point %+v", p)
	}
	for k, want := range map[string]any{"observations": int64(7), "failed_observations": int64(2), "transitions": int64(3), "intake_depth": int64(0)} {
		if got := field(p, k); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if field(p, "outbox_points") != nil || field(p, "writer_state") != nil {
		t.Error("outbox and writer fields without InfluxDB configured")
	}

	box, err := outbox.Open(outbox.Options{Dir: filepath.Join(dir, "outbox")})
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	g.box = box
	g.writer = newTestWriter(t, box)
	if err := g.writer.Append(context.Background(), statePoint("a")); err != nil {
		t.Fatal(err)
	}
	p = g.gatewayPoint("test-hospital", at)
	if field(p, "outbox_points") != int64(1) || field(p, "writer_state") != "ok" {
		t.Errorf("outbox_points %v, writer_state %v; want 1 and ok", field(p, "outbox_points"), field(p, "writer_state"))
	}
}

// Every self-metric has the icugate_ prefix and is registered once; a
// second gateway on the same registry is refused, on its own one it works.
func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	site, path := smallSite(t, dir, nil, "")
	reg := prometheus.NewRegistry()
	g, err := New(site, Options{SitePath: path, DataDir: dir, Registry: reg, Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	g.spool.drop([]influx.Point{{Class: influx.Telemetry}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, mf := range mfs {
		var labels []string
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
		}
		names[mf.GetName()] = strings.Join(labels, ",")
	}
	for _, n := range []string{"icugate_observations_total", "icugate_intake_depth", "icugate_outbox_held_points", "icugate_events_dropped_total", "icugate_outbox_append_failures_total"} {
		if _, ok := names[n]; !ok {
			t.Errorf("%s not registered", n)
		}
	}
	if l := names["icugate_build_info"]; !strings.Contains(l, "version=1.2.3") {
		t.Errorf("icugate_build_info labels %q, want version=1.2.3", l)
	}
	if l := names["icugate_points_dropped_total"]; !strings.Contains(l, "class=state") || !strings.Contains(l, "class=telemetry") {
		t.Errorf("icugate_points_dropped_total labels %q, want both classes", l)
	}
	if _, err := New(site, Options{SitePath: path, DataDir: dir, Registry: reg}); err == nil {
		t.Error("a second gateway registered on the same registry")
	}
	if v, _ := buildVersion(""); v != "dev" {
		t.Errorf("buildVersion(\"\") = %q, want dev", v)
	}
}
