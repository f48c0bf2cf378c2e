package gateway

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/icugate/icugate/alerts"
	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/store"
)

// usageDays is how many days of daily usage the device page shows.
const usageDays = 14

// Backend adapts the gateway to the HTTP API. It is safe for concurrent
// use: every read is of an already-built snapshot or a locked map.
type Backend struct{ g *Gateway }

var _ api.Backend = Backend{}

// Backend returns the gateway as the API's backend.
func (g *Gateway) Backend() Backend { return Backend{g: g} }

// Snapshot is the latest snapshot.
func (b Backend) Snapshot() pipeline.Snapshot { return b.g.Snapshot() }

// Site is the configuration in force.
func (b Backend) Site() *config.Site { return b.g.Site() }

// Device is one device with its last values, history and daily usage.
func (b Backend) Device(id string) (api.DeviceDetail, bool) {
	snap := b.g.Snapshot()
	var st *pipeline.DeviceStatus
	for i := range snap.Devices {
		if snap.Devices[i].ID == id {
			st = &snap.Devices[i]
			break
		}
	}
	if st == nil {
		return api.DeviceDetail{}, false
	}
	vals, hist := b.g.details.get(id)
	d := api.DeviceDetail{DeviceStatus: *st, History: hist}
	// Utilisation since the device was first configured: earlier runs
	// (from the store) plus this one.
	u := b.g.details.usageOf(st)
	d.Utilisation = pipeline.Utilisation{
		Offline: u["offline"], Fault: u["fault"], Maintenance: u["maintenance"], InUse: u["in_use"], Standby: u["standby"],
	}
	d.Values = make([]api.DeviceValue, 0, len(vals.Values))
	for _, v := range vals.Values {
		d.Values = append(d.Values, api.DeviceValue{Name: v.Name, Value: v.Value, Text: v.Text, Unit: v.Unit, MDC: v.MDC})
	}
	d.Usage = b.g.deviceUsage(id, b.g.now(), usageDays)
	if dev := deviceByID(b.g.Site(), id); dev != nil {
		d.PMDue = dev.PMDue
	}
	d.WorkOrders = []api.WorkOrder{}
	if b.g.store != nil {
		orders, err := b.g.store.WorkOrders(id, workOrdersShown)
		if err != nil {
			b.g.log.Error("reading work orders", "device", id, "err", err)
		}
		now := b.g.now()
		for _, o := range orders {
			wo := workOrder(o, now)
			if o.End == nil && d.MaintenanceBy != "" {
				d.WorkOrder = &wo
			}
			d.WorkOrders = append(d.WorkOrders, wo)
		}
	}
	return d, true
}

// workOrdersShown is how many work orders a device page shows.
const workOrdersShown = 20

// workOrder is o as the API serves it at now.
func workOrder(o store.WorkOrder, now time.Time) api.WorkOrder {
	return api.WorkOrder{WorkOrder: o, Overdue: o.End == nil && o.ExpectedReturn != nil && now.After(*o.ExpectedReturn)}
}

// Maintenance lists the open work orders (overdue first, then oldest)
// and the devices whose preventive maintenance is overdue or due within
// api.PMDueSoonDays.
func (b Backend) Maintenance() (api.MaintenanceView, error) {
	now := b.g.now()
	v := api.MaintenanceView{AsOf: now, Open: []api.WorkOrder{}, PMOverdue: []api.PMItem{}, PMDueSoon: []api.PMItem{}}
	flags, err := b.g.store.Maintenance()
	if err != nil {
		return v, fmt.Errorf("maintenance flags: %w", err)
	}
	site := b.g.Site()
	for dev, f := range flags {
		if !f.On || deviceByID(site, dev) == nil {
			continue
		}
		v.Open = append(v.Open, workOrder(store.WorkOrder{Device: dev, Reason: f.Reason, Ticket: f.Ticket, By: f.By,
			Start: f.At, ExpectedReturn: f.ExpectedReturn}, now))
	}
	sort.Slice(v.Open, func(i, j int) bool {
		if v.Open[i].Overdue != v.Open[j].Overdue {
			return v.Open[i].Overdue
		}
		return v.Open[i].Start.Before(v.Open[j].Start)
	})
	snap := b.g.Snapshot()
	where := map[string]pipeline.DeviceStatus{}
	for _, d := range snap.Devices {
		where[d.ID] = d
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local)
	for i := range site.Devices {
		dev := &site.Devices[i]
		due, ok := dev.PMDueDate()
		if !ok {
			continue
		}
		days := int(due.Sub(today).Hours() / 24)
		st := where[dev.ID]
		it := api.PMItem{Device: dev.ID, Kind: dev.Kind, Unit: st.Unit, At: st.At, Due: dev.PMDue, Days: days}
		switch {
		case days < 0:
			v.PMOverdue = append(v.PMOverdue, it)
		case days <= api.PMDueSoonDays:
			v.PMDueSoon = append(v.PMDueSoon, it)
		}
	}
	sort.Slice(v.PMOverdue, func(i, j int) bool { return v.PMOverdue[i].Days < v.PMOverdue[j].Days })
	sort.Slice(v.PMDueSoon, func(i, j int) bool { return v.PMDueSoon[i].Days < v.PMDueSoon[j].Days })
	return v, nil
}

// SetMaintenance marks a device in or out of maintenance, with the work
// order's details.
func (b Backend) SetMaintenance(ctx context.Context, device string, req api.MaintenanceRequest, by string) error {
	return b.g.SetWorkOrder(ctx, device, req, by)
}

// Move assigns a device to a bed or pool.
func (b Backend) Move(ctx context.Context, device, to, by string) error {
	return b.g.Move(ctx, device, to, by)
}

// Reload re-reads the site file.
func (b Backend) Reload(ctx context.Context) error { return b.g.Reload(ctx) }

// Subscribe delivers transitions until ctx ends.
func (b Backend) Subscribe(ctx context.Context) <-chan pipeline.Transition {
	return b.g.hub.Subscribe(ctx)
}

// Ready is nil once the gateway polls.
func (b Backend) Ready() error { return b.g.Ready() }

// Audit stores one mutating API call in the durable audit trail.
func (b Backend) Audit(e api.AuditEntry) {
	b.g.log.Info("audit", "who", e.Who, "remote", e.Remote, "action", e.Action, "device", e.Device,
		"detail", e.Detail, "status", e.Status, "result", e.Result)
	if b.g.store == nil {
		return
	}
	if err := b.g.store.Audit(store.AuditEntry{
		Time: e.Time, Who: e.Who, Remote: e.Remote, Action: e.Action, Device: e.Device,
		Detail: e.Detail, Status: e.Status, Result: e.Result,
	}); err != nil {
		b.g.log.Error("audit trail write failed", "err", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Usage builds a usage report (gateway/usage.go).
func (b Backend) Usage(ctx context.Context, q api.UsageQuery) (api.UsageReport, error) {
	return b.g.usageReport(ctx, q)
}

// Degraded lists what the gateway is configured to do but cannot.
func (b Backend) Degraded() []string { return b.g.Degraded() }

// Alerts serves the native alerts: active ones with their summaries, the
// receivers' state and up to history events, newest first.
func (b Backend) Alerts(history int) (api.AlertsView, error) {
	m := b.g.alerts.Load()
	v := api.AlertsView{AsOf: b.g.now(), Active: []api.ActiveAlert{}, Receivers: []alerts.ReceiverStatus{}, History: []alerts.HistoryEntry{}}
	if m == nil {
		return v, nil
	}
	for _, a := range m.Active() {
		v.Active = append(v.Active, api.ActiveAlert{Alert: a, Summary: m.Summary(a)})
	}
	v.Receivers = m.Receivers()
	h, err := m.History(history)
	if err != nil {
		return v, fmt.Errorf("alert history: %w", err)
	}
	v.History = append(v.History, h...)
	return v, nil
}

// AckAlert acknowledges a firing alert on behalf of by.
func (b Backend) AckAlert(_ context.Context, id, by, comment string) (alerts.Alert, error) {
	m := b.g.alerts.Load()
	if m == nil {
		return alerts.Alert{}, fmt.Errorf("alert %q: %w", id, alerts.ErrUnknown)
	}
	return m.Ack(id, by, comment)
}
