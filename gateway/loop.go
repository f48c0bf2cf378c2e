package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/influx"
	"github.com/icugate/icugate/influx/schema"
	"github.com/icugate/icugate/internal/backoff"
	"github.com/icugate/icugate/pipeline"
)

const (
	// tickEvery is how often the loop advances the engine's clock when no
	// observation does (freshness expiry, bed holds).
	tickEvery = 200 * time.Millisecond
	// snapshotEvery bounds how stale the served snapshot can be.
	snapshotEvery = 250 * time.Millisecond
	// heartbeatEvery is how often every device_state, bed_state and
	// icu_capacity point is written even without a change, so a dashboard
	// query over a recent window always finds every device.
	heartbeatEvery = time.Minute
	// telemetryEvery bounds device_telemetry points per device: a 1 Hz
	// poll does not need a 1 Hz time series of operational values.
	telemetryEvery = 10 * time.Second
	// healthEvery is how often the gateway measurement is written.
	healthEvery = 10 * time.Second
	// usageEvery is how often accumulated usage is saved to the store.
	usageEvery = time.Minute
	// gapAfter is the longest pause between two turns of the loop that is
	// still ordinary (the loop turns at least every tickEvery). A longer
	// one means the gateway itself could not observe, and the engine is
	// told to excuse it (pipeline.Engine.Excuse).
	gapAfter = 2 * time.Second
)

// outBatch is what the loop hands the output goroutine: points to make
// durable, then acknowledgements to release (late MQTT acks).
type outBatch struct {
	points []influx.Point
	acks   []func()
}

// loopState is what the engine loop keeps between iterations; only the
// loop goroutine touches it.
type loopState struct {
	trans         []pipeline.Transition
	points        []influx.Point
	acks          []func()
	dirty         bool
	lastSnap      time.Time
	lastBeat      time.Time
	lastUsage     time.Time
	lastHealth    time.Time
	lastCapacity  *pipeline.CapacityReport
	lastTelemetry map[string]time.Time
	devIndex      map[string]int
	lastTurn      time.Time
	// site and siteDevs index the config in force by device id.
	site     *config.Site
	siteDevs map[string]*config.Device
	// devIndexSite is the config devIndex was built for.
	devIndexSite *config.Site
}

// loop owns the engine: it takes observations, admin commands and clock
// ticks, and after each burst drains transitions to subscribers and
// points to the outputs. It returns when ctx ends, after taking every
// observation still queued (drivers have stopped by then).
func (g *Gateway) loop(ctx context.Context, eng *pipeline.Engine) {
	// The first heartbeat comes a minute after start: at start every
	// device is "not yet seen", which is no fact worth a point, and what
	// the broker replays must not be followed by a later "offline".
	ls := &loopState{lastTelemetry: map[string]time.Time{}, dirty: true, lastBeat: g.now(), lastTurn: g.now()}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	g.publishSnapshot(eng, ls)
	for {
		select {
		case <-ctx.Done():
			g.turn(eng, ls)
			for {
				b := g.in.take()
				if len(b) == 0 {
					break
				}
				g.observeAll(eng, ls, b)
			}
			g.afterBurst(eng, ls, true)
			g.saveUsage()
			return
		case <-g.in.ready:
			g.turn(eng, ls)
			g.observeAll(eng, ls, g.in.take())
		case c := <-g.cmds:
			g.turn(eng, ls)
			c.fn(eng)
			ls.dirty = true
			ls.lastSnap = time.Time{} // admin changes show at once
			g.afterBurst(eng, ls, false)
			close(c.done)
			continue
		case <-tick.C:
			g.turn(eng, ls)
			eng.Advance(g.now())
		}
		g.afterBurst(eng, ls, false)
	}
}

// turn starts one turn of the loop. When the time since the last turn is
// far beyond the loop's own tick, the gateway was not watching: the loop
// was held up, the process stopped (SIGSTOP) or the host suspended, or the
// wall clock jumped forward. That gap must not count against the devices,
// which kept answering; the engine excuses it before it sees anything
// else, so no healthy device turns offline on account of the gateway.
func (g *Gateway) turn(eng *pipeline.Engine, ls *loopState) {
	now := g.now()
	mono := now.Sub(ls.lastTurn)                   // monotonic when both have it
	wall := now.Round(0).Sub(ls.lastTurn.Round(0)) // what the engine's clock sees
	ls.lastTurn = now
	if mono > gapAfter || wall-mono > gapAfter {
		eng.Excuse(wall)
		g.m.gaps.Inc()
		g.log.Warn("the gateway could not observe for a while; device freshness excuses the gap",
			"gap", mono.Round(time.Millisecond), "clock_jump", (wall - mono).Round(time.Millisecond))
	} else if mono-wall > gapAfter {
		g.log.Warn("the wall clock went back; state times may repeat until it catches up", "by", (mono - wall).Round(time.Millisecond))
	}
}

// observeAll feeds a batch taken from the intake to the engine and hands
// the slice back.
func (g *Gateway) observeAll(eng *pipeline.Engine, ls *loopState, b []pipeline.Observation) {
	for i := range b {
		g.observe(eng, ls, b[i])
	}
	g.in.recycle(b)
}

// observe feeds one observation to the engine and keeps what the API and
// the telemetry measurement need from it.
func (g *Gateway) observe(eng *pipeline.Engine, ls *loopState, o pipeline.Observation) {
	// A device clock ahead of ours must not move the engine's clock (and
	// so age every other device): no observation is from the future.
	if now := g.now(); o.Time.After(now) || o.Time.IsZero() {
		o.Time = now
	}
	if err := eng.Observe(o); err != nil {
		g.m.unknown.Inc()
	}
	// A state change an observation caused happened when the device said
	// so, not when the engine caught up with it: after a restart the
	// broker replays what queued meanwhile, and each change must land at
	// its own time, in order, rather than all at the restart.
	n := len(ls.trans)
	ls.trans = eng.Transitions(ls.trans)
	for j := n; j < len(ls.trans); j++ {
		if t := &ls.trans[j]; t.Type == pipeline.TransitionDevice && t.ID == o.Device && o.Time.Before(t.Time) {
			t.Time = o.Time
		}
	}
	g.m.observations.Inc()
	g.counts.observations.Add(1)
	if o.Err != nil {
		g.m.failed.Inc()
		g.counts.failed.Add(1)
	}
	if o.Ack != nil {
		ls.acks = append(ls.acks, o.Ack)
	}
	if o.Err != nil || len(o.Values) == 0 {
		return
	}
	site := g.Site()
	if ls.site != site {
		// A new config (start or reload): index its devices once, so
		// that each observation finds its device without a scan.
		ls.site = site
		ls.siteDevs = make(map[string]*config.Device, len(site.Devices))
		for i := range site.Devices {
			ls.siteDevs[site.Devices[i].ID] = &site.Devices[i]
		}
	}
	dev := ls.siteDevs[o.Device]
	if dev == nil {
		return
	}
	prof := site.Profiles[dev.Profile]
	if prof == nil {
		return
	}
	g.details.setValues(o.Device, prof, o.Values, o.Time)
	if len(prof.Telemetry) == 0 || g.writer == nil {
		return
	}
	if last, ok := ls.lastTelemetry[o.Device]; ok && o.Time.Sub(last) < telemetryEvery {
		return
	}
	snap := g.snap.Load()
	if snap == nil {
		return
	}
	i, ok := ls.devIndex[o.Device]
	if !ok {
		return
	}
	if p, ok := schema.Telemetry(site, prof, &snap.Devices[i], &o); ok {
		ls.points = append(ls.points, p)
		ls.lastTelemetry[o.Device] = o.Time
	}
}

// afterBurst drains transitions, refreshes the snapshot when due, and
// hands points and acks to the output goroutine.
func (g *Gateway) afterBurst(eng *pipeline.Engine, ls *loopState, final bool) {
	ls.trans = eng.Transitions(ls.trans)
	defer func() { ls.trans = ls.trans[:0] }()
	if len(ls.trans) > 0 {
		ls.dirty = true
		g.counts.transitions.Add(uint64(len(ls.trans)))
		g.hub.publish(ls.trans)
		g.details.addHistory(ls.trans)
		for i := range ls.trans {
			t := &ls.trans[i]
			g.m.transitions.WithLabelValues(t.Type, t.To).Inc()
			g.log.Info("transition", "type", t.Type, "id", t.ID, "unit", t.Unit, "from", t.From, "to", t.To, "cause", t.Cause)
		}
	}
	now := g.now()
	snapDue := ls.dirty && now.Sub(ls.lastSnap) >= snapshotEvery
	if snapDue || now.Sub(ls.lastSnap) >= time.Second || final || len(ls.trans) > 0 {
		g.publishSnapshot(eng, ls)
		ls.lastSnap = now
		ls.dirty = false
		snap := g.snap.Load()
		hospital := snap.Hospital
		if g.writer != nil {
			g.statePoints(ls, snap, hospital, now)
		}
	}
	if g.writer != nil && (now.Sub(ls.lastHealth) >= healthEvery || final) {
		ls.lastHealth = now
		ls.points = append(ls.points, g.gatewayPoint(g.Site().Hospital.ID, now))
	}
	if now.Sub(ls.lastUsage) >= usageEvery {
		ls.lastUsage = now
		g.saveUsage()
	}
	if len(ls.points) == 0 && len(ls.acks) == 0 {
		return
	}
	b := outBatch{points: ls.points, acks: ls.acks}
	ls.points, ls.acks = nil, nil
	g.spool.push(b)
}

// statePoints adds the device_state and bed_state points of this burst's
// transitions, icu_capacity points when a count changed, and every
// state point on the heartbeat.
func (g *Gateway) statePoints(ls *loopState, snap *pipeline.Snapshot, hospital string, now time.Time) {
	beat := now.Sub(ls.lastBeat) >= heartbeatEvery
	if beat {
		ls.lastBeat = now
		for i := range snap.Devices {
			ls.points = append(ls.points, schema.Device(hospital, &snap.Devices[i], snap.AsOf))
		}
		for i := range snap.Beds {
			ls.points = append(ls.points, schema.Bed(hospital, &snap.Beds[i], snap.AsOf))
		}
	} else {
		bedIdx := map[string]int{}
		for i := range ls.trans {
			t := &ls.trans[i]
			switch t.Type {
			case pipeline.TransitionBed:
				if len(bedIdx) == 0 {
					for j := range snap.Beds {
						bedIdx[snap.Beds[j].ID] = j
					}
				}
				if j, ok := bedIdx[t.ID]; ok {
					// The state the transition went to, not the
					// snapshot's: a bed may change twice in one burst.
					b := snap.Beds[j]
					if err := b.State.UnmarshalText([]byte(t.To)); err == nil {
						b.Reason = t.Reason
						ls.points = append(ls.points, schema.Bed(hospital, &b, t.Time))
					}
				}
			default:
				if j, ok := ls.devIndex[t.ID]; ok {
					d := snap.Devices[j]
					if t.Type == pipeline.TransitionDevice {
						if err := d.State.UnmarshalText([]byte(t.To)); err != nil {
							continue
						}
						d.Cause = t.Cause
					}
					ls.points = append(ls.points, schema.Device(hospital, &d, t.Time))
				}
			}
		}
	}
	if beat || ls.lastCapacity == nil || countsChanged(ls.lastCapacity, &snap.Capacity) {
		c := snap.Capacity
		ls.lastCapacity = &c
		ls.points = append(ls.points, schema.Capacity(hospital, &snap.Capacity, snap.AsOf)...)
	}
}

// countsChanged reports whether any count (not the time or the evidence
// list) differs between two capacity reports.
func countsChanged(a, b *pipeline.CapacityReport) bool {
	if len(a.Units) != len(b.Units) || len(a.Classes) != len(b.Classes) {
		return true
	}
	same := func(x, y *pipeline.Capacity) bool {
		if x.BedsTotal != y.BedsTotal || x.BedsEquipped != y.BedsEquipped || x.BedsOccupied != y.BedsOccupied ||
			x.BedsAvailable != y.BedsAvailable || x.BedsDegraded != y.BedsDegraded ||
			x.ConvertibleReady != y.ConvertibleReady || x.Verified != y.Verified || len(x.Kinds) != len(y.Kinds) {
			return false
		}
		for k, v := range x.Kinds {
			if y.Kinds[k] != v {
				return false
			}
		}
		return true
	}
	if !same(&a.Hospital, &b.Hospital) {
		return true
	}
	for i := range a.Units {
		if !same(&a.Units[i], &b.Units[i]) {
			return true
		}
	}
	for i := range a.Classes {
		if !same(&a.Classes[i], &b.Classes[i]) {
			return true
		}
	}
	return false
}

func (g *Gateway) publishSnapshot(eng *pipeline.Engine, ls *loopState) {
	s := eng.Snapshot()
	g.snap.Store(&s)
	g.details.accountDaily(&s)
	// The engine keeps its devices in config order, so their positions
	// change only with the config: index them once per config, not on
	// every snapshot.
	if site := g.Site(); ls.devIndex == nil || ls.devIndexSite != site || len(ls.devIndex) != len(s.Devices) {
		ls.devIndexSite = site
		ls.devIndex = make(map[string]int, len(s.Devices))
		for i := range s.Devices {
			ls.devIndex[s.Devices[i].ID] = i
		}
	}
}

// output makes points durable and then releases acknowledgements, in the
// order the loop produced them. Without InfluxDB there is nothing to make
// durable, and acks are released at once. While the outbox cannot write
// (a full or failing disk), the batch is retried with backoff and the
// batches behind it wait in the spool, never blocking the engine.
func (g *Gateway) output(ctx context.Context) {
	var points []influx.Point
	for {
		bs, ok := g.spool.pop(ctx)
		if !ok {
			return
		}
		points = points[:0]
		for _, b := range bs {
			points = append(points, b.points...)
		}
		durable := true
		if g.writer != nil && len(points) > 0 {
			// Not durable: do not ack, so MQTT messages are redelivered
			// after the restart.
			durable = g.makeDurable(ctx, points)
		}
		clear(points)
		if !durable {
			continue
		}
		for _, b := range bs {
			for _, ack := range b.acks {
				ack()
			}
		}
	}
}

// appendRetry is the wait between makeDurable's attempts.
var appendRetry = backoff.Exponential{Min: 250 * time.Millisecond, Max: 5 * time.Second}

// makeDurable appends points to the outbox, retrying while it fails. It
// gives up only when the gateway stops (the points are counted as dropped
// and false is returned). A failure shows in /readyz, in
// icugate_outbox_append_failures_total and in a log line when it starts and
// every minute while it lasts, with how many points wait in memory.
func (g *Gateway) makeDurable(ctx context.Context, points []influx.Point) bool {
	for attempt := 0; ; attempt++ {
		err := g.writer.Append(ctx, points...)
		if errors.Is(err, influx.ErrRefused) {
			// The others are durable; retrying would queue them twice.
			g.log.Warn("points refused by the encoder", "err", err)
			err = nil
		}
		if err == nil {
			if g.appendFailing {
				g.appendFailing = false
				g.health.set("outbox", "")
				g.log.Info("outbox writes again; points held in memory follow in order", "held", g.spool.held())
			}
			return true
		}
		g.m.appendFailures.Inc()
		held := g.spool.held() + len(points)
		g.health.set("outbox", fmt.Sprintf("cannot write points to the outbox (%v); %d points held in memory, oldest telemetry dropped first beyond %d", err, held, spoolLimit))
		if now := time.Now(); !g.appendFailing || now.Sub(g.appendLogged) >= time.Minute {
			g.log.Error("outbox append failed; holding points in memory and retrying", "points", len(points), "held", held, "err", err)
			g.appendLogged = now
		}
		g.appendFailing = true
		if ctx.Err() != nil || errors.Is(err, context.Canceled) || g.spool.isClosed() {
			g.spool.drop(points)
			g.log.Error("points not made durable at shutdown", "points", len(points), "err", err)
			return false
		}
		select {
		case <-time.After(appendRetry.Delay(attempt)):
		case <-ctx.Done():
		}
	}
}

// restore applies what the store kept from the last run: maintenance
// flags and assignments made at run time.
func (g *Gateway) restore(eng *pipeline.Engine) {
	now := g.now()
	if as, err := g.store.Assignments(); err != nil {
		g.log.Error("reading stored assignments", "err", err)
	} else {
		for dev, a := range as {
			if err := eng.Move(dev, a.At, now, a.By); err != nil {
				g.log.Warn("stored assignment no longer applies", "device", dev, "at", a.At, "err", err)
			}
		}
	}
	if ms, err := g.store.Maintenance(); err != nil {
		g.log.Error("reading stored maintenance flags", "err", err)
	} else {
		for dev, f := range ms {
			if !f.On {
				continue
			}
			if err := eng.SetMaintenance(dev, true, now, f.By); err != nil {
				g.log.Warn("stored maintenance flag no longer applies", "device", dev, "err", err)
			}
		}
	}
	if us, err := g.store.Usage(); err != nil {
		g.log.Error("reading stored usage", "err", err)
	} else {
		g.details.setBaseUsage(us)
	}
	g.restoreUsageDays()
	eng.Transitions(nil)
}

// saveUsage stores accumulated usage (this run's plus earlier runs') and,
// in the same transaction, the daily usage changed since the last save;
// once a day it prunes the days beyond the retention.
func (g *Gateway) saveUsage() {
	snap := g.snap.Load()
	if snap == nil || g.store == nil {
		return
	}
	if err := g.store.SaveUsageDays(g.details.totalUsage(snap), g.details.days.toSave()); err != nil {
		g.health.set("state store", fmt.Sprintf("cannot save changes (%v)", err))
		g.log.Error("saving usage", "err", err)
		return
	}
	g.details.days.saved(g.now())
	g.pruneUsageDays(g.now())
	g.health.set("state store", "")
}
