package gateway

import (
	"sync"
	"time"

	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/store"
)

// Daily usage: how long each device spent in each state per local day
// (the gateway's time zone) and per unit it sat in. The engine keeps each
// device's time per state since start; after every snapshot the growth
// since the previous one is added to the records of the days it spans.
// The records of today and yesterday (and any not yet saved) live in
// memory and are written, whole, with the usage totals by the loop's
// once-a-minute saveUsage, so a kill loses at most a minute; at start
// they are read back, so a restart continues the day. Older days are only
// in the state store, which keeps store.UsageRetentionDays of them.
//
// A device moved during a day has one record per unit: each snapshot's
// growth goes to the unit the device is in at that snapshot (snapshots
// are at most a second apart). Time the gateway was not running is in no
// state: a day's hours then add up to less than 24.

// usageKey identifies one daily record.
type usageKey struct{ day, device, unit string }

// dailyUsage is the in-memory part of daily usage. account and the save
// calls belong to the engine loop; the API reads through copies.
type dailyUsage struct {
	mu sync.Mutex
	// last is each device's utilisation at lastAt, the previous snapshot.
	last   map[string]pipeline.Utilisation
	lastAt time.Time
	recs   map[usageKey]*store.DayUsage
	dirty  map[usageKey]bool
	// prunedDay is the day the store's old days were last pruned.
	prunedDay string
}

// usageSplitMax bounds how many days one snapshot's growth is spread
// over: today and yesterday, the days whose records are in memory.
// Snapshots are less than a second apart; only a suspended host or a
// clock jump makes an interval span more, and then the part before
// yesterday is not counted (a stored day is final, never overwritten by
// a part of itself).
const usageSplitMax = 2

func localDay(t time.Time) string { return t.In(time.Local).Format(time.DateOnly) }

// daysBefore is the local day n calendar days before t's (a day of 23 or
// 25 hours is still one day).
func daysBefore(t time.Time, n int) string { return localDay(t.In(time.Local).AddDate(0, 0, -n)) }

// dayPart is the part of an interval that falls on one local day.
type dayPart struct {
	day   string
	share float64
}

// dayShares splits the interval (from, to] at local midnights: each day,
// newest first, with its share of the interval.
func dayShares(from, to time.Time) []dayPart {
	if from.IsZero() || !to.After(from) || localDay(from) == localDay(to) {
		return []dayPart{{localDay(to), 1}}
	}
	total := to.Sub(from).Seconds()
	var out []dayPart
	for end := to; len(out) < usageSplitMax && end.After(from); {
		// The day of the last instant before end.
		l := end.Add(-time.Nanosecond).In(time.Local)
		start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.Local)
		if start.Before(from) {
			start = from
		}
		out = append(out, dayPart{l.Format(time.DateOnly), end.Sub(start).Seconds() / total})
		end = start
	}
	return out
}

// accountDaily adds each device's growth in time per state since the
// previous snapshot to its day records. Called by the loop after each
// snapshot.
func (d *details) accountDaily(snap *pipeline.Snapshot) { d.days.account(snap) }

// account adds each device's growth in time per state since the previous
// snapshot to its day records. A device whose times went back (removed
// and configured again by a reload) starts counting afresh.
func (u *dailyUsage) account(snap *pipeline.Snapshot) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		u.last = map[string]pipeline.Utilisation{}
		u.recs = map[usageKey]*store.DayUsage{}
		u.dirty = map[usageKey]bool{}
	}
	shares := dayShares(u.lastAt, snap.AsOf)
	u.lastAt = snap.AsOf
	for i := range snap.Devices {
		dev := &snap.Devices[i]
		prev, ok := u.last[dev.ID]
		cur := dev.Utilisation
		u.last[dev.ID] = cur
		d := pipeline.Utilisation{InUse: cur.InUse - prev.InUse, Standby: cur.Standby - prev.Standby,
			Offline: cur.Offline - prev.Offline, Fault: cur.Fault - prev.Fault, Maintenance: cur.Maintenance - prev.Maintenance}
		if !ok || d.InUse < 0 || d.Standby < 0 || d.Offline < 0 || d.Fault < 0 || d.Maintenance < 0 ||
			d.InUse+d.Standby+d.Offline+d.Fault+d.Maintenance == 0 {
			continue
		}
		for _, s := range shares {
			k := usageKey{s.day, dev.ID, dev.Unit}
			r := u.recs[k]
			if r == nil {
				r = &store.DayUsage{Day: s.day, Device: dev.ID, Unit: dev.Unit}
				u.recs[k] = r
			}
			r.Kind = dev.Kind
			r.InUse += d.InUse * s.share
			r.Standby += d.Standby * s.share
			r.Offline += d.Offline * s.share
			r.Fault += d.Fault * s.share
			r.Maintenance += d.Maintenance * s.share
			u.dirty[k] = true
		}
	}
}

// load puts records read from the store at start into memory, so that
// the day goes on from what they hold. Call it before the first account.
func (u *dailyUsage) load(recs []store.DayUsage) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.recs == nil {
		u.last = map[string]pipeline.Utilisation{}
		u.recs = map[usageKey]*store.DayUsage{}
		u.dirty = map[usageKey]bool{}
	}
	for i := range recs {
		r := recs[i]
		u.recs[usageKey{r.Day, r.Device, r.Unit}] = &r
	}
}

// toSave copies the records changed since the last save.
func (u *dailyUsage) toSave() []store.DayUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]store.DayUsage, 0, len(u.dirty))
	for k := range u.dirty {
		out = append(out, *u.recs[k])
	}
	return out
}

// saved marks what toSave returned as stored (the loop accounts nothing
// in between) and forgets the records of days before yesterday: they are
// final, and in the store.
func (u *dailyUsage) saved(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.dirty)
	keepFrom := daysBefore(now, 1)
	for k := range u.recs {
		if k.day < keepFrom {
			delete(u.recs, k)
		}
	}
}

// copyRange copies the records in memory from day from to day to.
func (u *dailyUsage) copyRange(from, to string, keep func(day, device, unit string) bool) []store.DayUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []store.DayUsage
	for k, r := range u.recs {
		if k.day >= from && k.day <= to && (keep == nil || keep(k.day, k.device, k.unit)) {
			out = append(out, *r)
		}
	}
	return out
}

// restoreUsageDays reads yesterday's and today's records at start.
func (g *Gateway) restoreUsageDays() {
	now := g.now()
	var recs []store.DayUsage
	err := g.store.UsageDays(daysBefore(now, 1), localDay(now), nil, func(r store.DayUsage) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		g.log.Error("reading stored daily usage; today starts again from zero", "err", err)
		return
	}
	g.details.days.load(recs)
}

// pruneUsageDays deletes, once a day, the days beyond the retention.
func (g *Gateway) pruneUsageDays(now time.Time) {
	today := localDay(now)
	if g.details.days.prunedDay == today {
		return
	}
	before := daysBefore(now, store.UsageRetentionDays-1)
	n, err := g.store.PruneUsageDays(before)
	if err != nil {
		g.log.Error("pruning old daily usage", "before", before, "err", err)
		return
	}
	g.details.days.prunedDay = today
	if n > 0 {
		g.log.Info("pruned daily usage beyond the retention", "before", before, "records", n)
	}
}
