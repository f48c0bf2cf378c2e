package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/icugate/icugate/api"
)

// TestWorkOrdersThroughTheGateway: a work order opened through the
// gateway shows on the device and in the maintenance list, turns overdue
// with the clock, survives a restart, and closes with its history; a
// device's pm_due feeds the preventive-maintenance lists.
func TestWorkOrdersThroughTheGateway(t *testing.T) {
	dir := t.TempDir()
	site, path := smallSite(t, dir, nil, "")
	for i := range site.Devices {
		switch site.Devices[i].ID {
		case "mon-1":
			site.Devices[i].PMDue = time.Now().AddDate(0, 0, -3).Format(time.DateOnly)
		case "mon-2":
			site.Devices[i].PMDue = time.Now().AddDate(0, 0, 5).Format(time.DateOnly)
		}
	}
	now := time.Now()
	clock := func() time.Time { return now }
	h := startLoop(t, site, path, dir, loopOptions{Options: Options{Now: clock}})
	back := now.Add(time.Hour)
	if err := h.g.SetWorkOrder(context.Background(), "vent-1", api.MaintenanceRequest{On: true, Reason: "annual PM", Ticket: "CM-7", ExpectedReturn: &back}, "biomed"); err != nil {
		t.Fatal(err)
	}
	h.sync(t)
	b := h.g.Backend()
	v, err := b.Maintenance()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Open) != 1 || v.Open[0].Device != "vent-1" || v.Open[0].Reason != "annual PM" || v.Open[0].Overdue {
		t.Errorf("open = %+v", v.Open)
	}
	if len(v.PMOverdue) != 1 || v.PMOverdue[0].Device != "mon-1" || v.PMOverdue[0].Days != -3 ||
		len(v.PMDueSoon) != 1 || v.PMDueSoon[0].Device != "mon-2" || v.PMDueSoon[0].Days != 5 {
		t.Errorf("pm overdue %+v, due soon %+v", v.PMOverdue, v.PMDueSoon)
	}
	h.stop()

	// A restart two hours later: the order is still open, now overdue.
	now = now.Add(2 * time.Hour)
	h = startLoop(t, site, path, dir, loopOptions{Options: Options{Now: clock}})
	h.sync(t)
	b = h.g.Backend()
	d, ok := b.Device("vent-1")
	if !ok || d.WorkOrder == nil || !d.WorkOrder.Overdue || d.WorkOrder.Ticket != "CM-7" || d.State.String() != "maintenance" {
		t.Fatalf("after restart: work order %+v, state %s", d.WorkOrder, d.State)
	}
	if err := h.g.SetWorkOrder(context.Background(), "vent-1", api.MaintenanceRequest{On: false}, "lead"); err != nil {
		t.Fatal(err)
	}
	h.sync(t)
	d, _ = b.Device("vent-1")
	if d.WorkOrder != nil || len(d.WorkOrders) != 1 || d.WorkOrders[0].EndedBy != "lead" {
		t.Errorf("after the end: %+v / %+v", d.WorkOrder, d.WorkOrders)
	}
	if v, _ := b.Maintenance(); len(v.Open) != 0 {
		t.Errorf("open after the end: %+v", v.Open)
	}
}
