package gateway

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/store"
)

// Usage reports: the daily records (usage.go) of a range of days, summed
// per device, kind or unit and day, with each group's and the overall
// totals. api.UsageRow.Finish holds the formulas.

// usageGroup accumulates one group's seconds per day of the report.
type usageGroup struct {
	id, kind string
	days     []usageAcc // by index in the report's days
}

// usageAcc sums records: seconds per state, and the devices and units
// that have data (small sets: a slice beats a map here).
type usageAcc struct {
	secs    store.DayUsage
	devices []string
	units   []string
}

func addOnce(set []string, s string) []string {
	if slices.Contains(set, s) {
		return set
	}
	return append(set, s)
}

func (a *usageAcc) add(r *store.DayUsage) {
	a.secs.InUse += r.InUse
	a.secs.Standby += r.Standby
	a.secs.Offline += r.Offline
	a.secs.Fault += r.Fault
	a.secs.Maintenance += r.Maintenance
	if r.Observed() > 0 {
		a.devices = addOnce(a.devices, r.Device)
		a.units = addOnce(a.units, reportUnit(r.Unit))
	}
}

func (a *usageAcc) merge(b *usageAcc) {
	a.secs.InUse += b.secs.InUse
	a.secs.Standby += b.secs.Standby
	a.secs.Offline += b.secs.Offline
	a.secs.Fault += b.secs.Fault
	a.secs.Maintenance += b.secs.Maintenance
	for _, d := range b.devices {
		a.devices = addOnce(a.devices, d)
	}
	for _, u := range b.units {
		a.units = addOnce(a.units, u)
	}
}

// row is the accumulated hours as a finished API row.
func (a *usageAcc) row(day, id, kind string, withUnits bool) api.UsageRow {
	r := api.UsageRow{Day: day, ID: id, Kind: kind, Devices: len(a.devices),
		InUse: a.secs.InUse / 3600, Standby: a.secs.Standby / 3600, Offline: a.secs.Offline / 3600,
		Fault: a.secs.Fault / 3600, Maintenance: a.secs.Maintenance / 3600}
	if withUnits && len(a.units) > 0 {
		r.Units = slices.Clone(a.units)
		slices.Sort(r.Units)
	}
	r.Finish()
	return r
}

// reportUnit is a record's unit as reports name it.
func reportUnit(unit string) string {
	if unit == "" {
		return api.UsageStoreUnit
	}
	return unit
}

// usageReport aggregates the daily records of [q.From, q.To] by device,
// kind or unit (see api.UsageRow.Finish for the formulas). Every group
// the config knows is reported, with its days without data, and so is
// every group only the data knows (a device since removed).
func (g *Gateway) usageReport(ctx context.Context, q api.UsageQuery) (api.UsageReport, error) {
	rep := api.UsageReport{AsOf: g.now(), From: q.From, To: q.To, By: q.By, ID: q.ID}
	days := dayList(q.From, q.To)
	dayIndex := make(map[string]int, len(days))
	for i, d := range days {
		dayIndex[d] = i
	}
	var keep func(day, device, unit string) bool
	switch {
	case q.ID != "" && q.By == api.UsageByDevice:
		keep = func(_, device, _ string) bool { return device == q.ID }
	case q.ID != "" && q.By == api.UsageByUnit:
		keep = func(_, _, unit string) bool { return reportUnit(unit) == q.ID }
	}
	groups, order := usageGroups(g.Site(), q, len(days))
	configured := len(order)
	add := func(r *store.DayUsage) {
		id := r.Device
		switch q.By {
		case api.UsageByKind:
			id = r.Kind
		case api.UsageByUnit:
			id = reportUnit(r.Unit)
		}
		di, ok := dayIndex[r.Day]
		if !ok || (q.ID != "" && id != q.ID) {
			return
		}
		gr := groups[id]
		if gr == nil {
			gr = &usageGroup{id: id, days: make([]usageAcc, len(days))}
			groups[id] = gr
			order = append(order, id)
		}
		if q.By == api.UsageByDevice && gr.kind == "" {
			gr.kind = r.Kind
		}
		gr.days[di].add(r)
	}
	// A record in memory replaces the store's under the same key: memory
	// holds what was saved from it plus up to a minute not saved yet. A
	// save between the copy and the walk only makes the store newer than
	// the copy; no record is ever counted twice.
	recent := g.details.days.copyRange(q.From, q.To, keep)
	inMemory := make(map[usageKey]bool, len(recent))
	for _, r := range recent {
		inMemory[usageKey{r.Day, r.Device, r.Unit}] = true
	}
	if g.store != nil {
		n := 0
		err := g.store.UsageDays(q.From, q.To, keep, func(r store.DayUsage) error {
			if n++; n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if !inMemory[usageKey{r.Day, r.Device, r.Unit}] {
				add(&r)
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("reading daily usage: %w", err)
		}
	}
	for i := range recent {
		add(&recent[i])
	}
	// Configured groups in config order, then the ones only the data
	// knows, sorted.
	slices.Sort(order[configured:])

	withUnits := q.By == api.UsageByDevice
	rep.Rows = make([]api.UsageRow, 0, len(order)*len(days))
	var all usageAcc
	for _, id := range order {
		gr := groups[id]
		var total usageAcc
		for i, day := range days {
			rep.Rows = append(rep.Rows, gr.days[i].row(day, gr.id, gr.kind, withUnits))
			total.merge(&gr.days[i])
		}
		rep.Totals = append(rep.Totals, total.row("", gr.id, gr.kind, withUnits))
		all.merge(&total)
	}
	rep.Total = all.row("", api.UsageAllID, "", false)
	return rep, nil
}

// usageGroups are the groups the config knows, in its order (kinds
// sorted), restricted to q.ID when set, each with room for n days.
func usageGroups(site *config.Site, q api.UsageQuery, n int) (map[string]*usageGroup, []string) {
	groups := map[string]*usageGroup{}
	var order []string
	add := func(id, kind string) {
		if groups[id] != nil || (q.ID != "" && id != q.ID) {
			return
		}
		groups[id] = &usageGroup{id: id, kind: kind, days: make([]usageAcc, n)}
		order = append(order, id)
	}
	if site == nil {
		return groups, order
	}
	switch q.By {
	case api.UsageByDevice:
		for _, d := range site.Devices {
			add(d.ID, d.Kind)
		}
	case api.UsageByUnit:
		for _, u := range site.Units {
			add(u.ID, "")
		}
	case api.UsageByKind:
		var kinds []string
		for _, d := range site.Devices {
			if !slices.Contains(kinds, d.Kind) {
				kinds = append(kinds, d.Kind)
			}
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			add(k, "")
		}
	}
	return groups, order
}

// dayList is every local day from from to to, both included.
func dayList(from, to string) []string {
	f, err1 := time.ParseInLocation(time.DateOnly, from, time.Local)
	t, err2 := time.ParseInLocation(time.DateOnly, to, time.Local)
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// deviceUsage is a device's hours per state for the n days up to now,
// oldest first, days without data at zero (the device page's summary).
func (g *Gateway) deviceUsage(id string, now time.Time, n int) []api.UsageDay {
	q := api.UsageQuery{From: daysBefore(now, n-1), To: localDay(now), By: api.UsageByDevice, ID: id}
	rep, err := g.usageReport(context.Background(), q)
	if err != nil {
		g.log.Error("reading daily usage", "device", id, "err", err)
	}
	byDay := make(map[string]api.UsageRow, len(rep.Rows))
	for _, r := range rep.Rows {
		byDay[r.Day] = r
	}
	out := make([]api.UsageDay, 0, n)
	for _, day := range dayList(q.From, q.To) {
		r := byDay[day]
		out = append(out, api.UsageDay{Day: day, InUse: r.InUse, Standby: r.Standby, Offline: r.Offline, Fault: r.Fault, Maintenance: r.Maintenance})
	}
	return out
}
