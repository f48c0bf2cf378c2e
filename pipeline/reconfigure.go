package pipeline

import (
	"fmt"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

// Reconfigure applies a new site config at time at (the clock first
// advances to at) without losing what is known. The new engine is built
// and checked first; on error the engine is unchanged (PRODUCT §7: a reload
// applies a new config or keeps the old one).
//
// A device whose id, kind and profile persist keeps its state, history,
// failures, maintenance flag and utilisation. Its place follows the new
// config when the config moved it, and otherwise stays where a run-time
// move put it (if that place still exists). Its state is then re-derived
// under the new config (freshness window, failure limit, expected serial),
// recording transitions for any change. A bed whose id persists keeps its
// held state and pending change; every bed is then re-evaluated, so beds
// new or changed follow the hold time like any other change.
func (e *Engine) Reconfigure(site *config.Site, at time.Time) error {
	e.Advance(at)
	ne, err := New(site, e.now)
	if err != nil {
		return fmt.Errorf("pipeline: reconfigure: %w", err)
	}
	ne.pending = e.pending
	ne.stats = e.stats
	// Unit utilisation carries over by unit id.
	for ui, u := range e.units {
		if nu, ok := ne.unitIndex(u.cfg.ID); ok {
			ne.unitUtil[nu] = e.unitUtil[ui]
		}
	}
	for bi := range e.beds {
		ob := &e.beds[bi]
		l, ok := ne.locByID[ob.id]
		if !ok || l.kind != locBed {
			continue
		}
		nb := &ne.beds[l.idx]
		nb.state, nb.since, nb.reason = ob.state, ob.since, ob.reason
		if ob.pending {
			nb.pending, nb.pendingState, nb.pendingSince, nb.pendingDue = true, ob.pendingState, ob.pendingSince, ob.pendingDue
			ne.timers.push(timer{at: nb.pendingDue, kind: timerHold, idx: l.idx})
		}
	}
	for odi := range e.devices {
		od := &e.devices[odi]
		ndi, ok := ne.devByID[od.cfg.ID]
		if !ok {
			continue
		}
		nd := &ne.devices[ndi]
		if nd.cfg.Kind != od.cfg.Kind || nd.cfg.Profile != od.cfg.Profile {
			continue // a different device under an old id: start afresh
		}
		ne.carryDevice(e, int32(odi), ndi)
	}
	for di := range ne.devices {
		ne.reevaluate(int32(di))
	}
	for bi := range ne.beds {
		ne.evalBed(int32(bi))
	}
	*e = *ne
	return nil
}

// carryDevice copies device odi of old into device ndi of e, which was
// just built by New.
func (e *Engine) carryDevice(old *Engine, odi, ndi int32) {
	od, nd := &old.devices[odi], &e.devices[ndi]
	cfg, prof, kind, window, limit, at := nd.cfg, nd.prof, nd.kind, nd.window, nd.limit, nd.at
	*nd = *od
	nd.cfg, nd.prof, nd.kind, nd.window, nd.limit = cfg, prof, kind, window, limit
	nd.cacheVals = append([]rules.Sample(nil), od.cacheVals...)
	nd.cacheOK = od.cacheOK && prof == od.prof
	nd.serialBad = od.seen && serialUntrusted(cfg, prof, od.serialGot)
	nd.fresh = od.seen && e.now.Before(od.lastSeen.Add(window))
	nd.inHeap = false
	if nd.fresh {
		nd.inHeap = true
		e.timers.push(timer{at: od.lastSeen.Add(window), kind: timerFresh, idx: ndi})
	}
	// Place: the new config wins when it changed the device's place;
	// otherwise a run-time move persists if its place still exists.
	nd.at = at
	if old.site.Devices[odi].At == cfg.At {
		if l, ok := e.locByID[old.locID(od.at)]; ok && l != at {
			e.detach(ndi, at)
			nd.at = l
			e.attach(ndi, l)
		}
	}
	if from, to := old.locID(od.at), e.locID(nd.at); from != to {
		e.pending = append(e.pending, Transition{
			Time: e.now, Type: TransitionMove, ID: cfg.ID, Kind: cfg.Kind,
			Unit: e.unitID(e.locUnit(nd.at)), At: to, From: from, To: to,
			Cause: "moved to " + to + " by config reload",
		})
	}
	// Utilisation since the last unit change belongs to the old unit if
	// the device now sits in another one.
	oldUnit, newUnit := old.unitID(old.locUnit(od.at)), e.unitID(e.locUnit(nd.at))
	if oldUnit != newUnit {
		nd.settle(e.now)
		if ou, ok := e.unitIndex(oldUnit); ok {
			for s := range nd.util {
				e.unitUtil[ou][s] += nd.util[s] - nd.utilMark[s]
			}
		}
		nd.utilMark = nd.util
	}
}

func (e *Engine) unitIndex(id string) (int32, bool) {
	if id == "" {
		return -1, false
	}
	for ui := range e.units {
		if e.units[ui].cfg.ID == id {
			return int32(ui), true
		}
	}
	return -1, false
}
