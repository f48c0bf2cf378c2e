package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWorkOrderAPI: maintenance with a reason, ticket and expected return
// opens a work order that the device and the maintenance list show, with
// who from the token; the old call without details still works; bad
// details are refused with the field named, and change nothing.
func TestWorkOrderAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withToken())
	put := func(dev, body string) (int, string) {
		w := f.do(t, http.MethodPut, "/api/v1/devices/"+dev+"/maintenance", body,
			"Content-Type", "application/json", "Authorization", "Bearer "+testToken)
		return w.Code, w.Body.String()
	}
	back := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	if code, body := put("vent-a2", `{"on":true,"reason":"annual PM","ticket":"CM-1042","expected_return":"`+back+`"}`); code != 200 {
		t.Fatalf("open a work order: %d %s", code, body)
	}
	var d DeviceDetail
	if err := json.Unmarshal(f.do(t, http.MethodGet, "/api/v1/devices/vent-a2", "").Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	wo := d.WorkOrder
	if wo == nil || wo.Reason != "annual PM" || wo.Ticket != "CM-1042" || wo.By != "biomed" || wo.Overdue ||
		wo.ExpectedReturn == nil || wo.ExpectedReturn.Format(time.DateOnly) != back || len(d.WorkOrders) != 1 {
		t.Fatalf("device work order = %+v (%d orders)", wo, len(d.WorkOrders))
	}
	if last := f.b.auditLog()[len(f.b.auditLog())-1]; !strings.Contains(last.Detail, `reason="annual PM"`) || !strings.Contains(last.Detail, `ticket="CM-1042"`) {
		t.Errorf("audit detail = %q", last.Detail)
	}
	// The old call, without details.
	if code, body := put("mon-a1", `{"on":true}`); code != 200 {
		t.Fatalf("old-style maintenance: %d %s", code, body)
	}
	var v MaintenanceView
	if err := json.Unmarshal(f.do(t, http.MethodGet, "/api/v1/maintenance", "").Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Open) != 2 {
		t.Errorf("open work orders = %+v", v.Open)
	}

	before := len(f.b.auditLog())
	for _, c := range []struct{ body, want string }{
		{`{"on":true,"expected_return":"2020-01-01"}`, `"expected_return" "2020-01-01" is not in the future`},
		{`{"on":true,"expected_return":"next week"}`, `want a date (2027-03-31) or a time`},
		{`{"on":false,"reason":"done"}`, `send them with "on": true`},
		{`{"on":true,"reason":"` + strings.Repeat("x", 201) + `"}`, `"reason": one line of at most 200 bytes`},
		{`{"on":true,"ticket":"a\nb"}`, `"ticket": one line`},
		{`{"on":true,"who":"someone else"}`, `unknown field "who"`},
	} {
		code, body := put("vent-a3", c.body)
		var e apiError
		_ = json.Unmarshal([]byte(body), &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Reason, c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, code, body, c.want)
		}
	}
	if n := len(f.b.auditLog()); n != before {
		t.Errorf("refused calls reached the audit trail: %d entries, want %d", n, before)
	}
	if d, _ := f.b.Device("vent-a3"); d.MaintenanceBy != "" {
		t.Errorf("a refused call changed vent-a3: %+v", d.DeviceStatus)
	}
	// Ending maintenance closes the order; the history keeps it.
	if code, body := put("vent-a2", `{"on":false}`); code != 200 {
		t.Fatalf("end maintenance: %d %s", code, body)
	}
	d, _ = f.b.Device("vent-a2")
	if d.WorkOrder != nil || len(d.WorkOrders) != 1 || d.WorkOrders[0].End == nil || d.WorkOrders[0].EndedBy != "biomed" {
		t.Errorf("after the end: open %+v, history %+v", d.WorkOrder, d.WorkOrders)
	}
}

// TestBrowserOverdueAndPM: a work order past its expected return marks
// the device's chip on the ward view and leads the maintenance view; the
// view lists preventive maintenance overdue and due soon from the config.
func TestBrowserOverdueAndPM(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withToken())
	past := time.Now().Add(-2 * time.Hour)
	if err := f.b.SetMaintenance(context.Background(), "vent-a2", MaintenanceRequest{On: true, Reason: "flow sensor", ExpectedReturn: &past}, "biomed"); err != nil {
		t.Fatal(err)
	}
	f.b.mu.Lock()
	for i := range f.b.site.Devices {
		switch f.b.site.Devices[i].ID {
		case "mon-a1":
			f.b.site.Devices[i].PMDue = time.Now().AddDate(0, 0, -10).Format(time.DateOnly)
		case "vent-c1":
			f.b.site.Devices[i].PMDue = time.Now().AddDate(0, 0, 12).Format(time.DateOnly)
		case "mon-c1":
			f.b.site.Devices[i].PMDue = time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
		}
	}
	f.b.mu.Unlock()
	b := newBrowser(t, f)
	b.do("the ward view marks the overdue device",
		chromedp.Navigate(b.url+"/#/ward"),
		b.visible(`a.dev[data-dev="vent-a2"][data-overdue="true"]`),
	)
	if n := b.eval(`String(document.querySelectorAll('a.dev[data-overdue]').length)`); n != "1" {
		t.Errorf("overdue chips = %s, want 1", n)
	}
	b.do("the maintenance view",
		b.hash("#/maintenance"),
		b.visible(`#wo-open tr[data-dev="vent-a2"][data-overdue="true"]`),
		b.visible(`#pm-overdue tr[data-dev="mon-a1"]`),
		b.visible(`#pm-soon tr[data-dev="vent-c1"]`),
	)
	if got := b.eval(`document.querySelector("#view-maintenance").textContent`); strings.Contains(got, "mon-c1") || !strings.Contains(got, "10 days overdue") {
		t.Errorf("maintenance view: %q", got)
	}
	b.screenshot("maintenance")
}
