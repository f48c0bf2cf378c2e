package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/store"
)

// fakeUsageDays is how many days, today included, fakeUsage has data for.
const fakeUsageDays = 10

// fakeUsage is the test backend's daily usage: every configured device
// has data for the last fakeUsageDays days up to now, none before. On
// each such day a device of even index is 8 h in use, one of odd index 2
// h, and each is 20 h minus that in standby, 2 h offline, 1 h in fault
// and 1 h in maintenance. Devices count toward the unit of their place
// as configured (UsageStoreUnit for the hospital's store).
func fakeUsage(site *config.Site, q UsageQuery, now time.Time) UsageReport {
	rep := UsageReport{AsOf: now, From: q.From, To: q.To, By: q.By, ID: q.ID}
	unitOf := map[string]string{}
	for _, u := range site.Units {
		for _, b := range u.Beds {
			unitOf[b] = u.ID
		}
	}
	for _, p := range site.Pools {
		unitOf[p.ID] = p.Unit
		if p.Unit == "" {
			unitOf[p.ID] = UsageStoreUnit
		}
	}
	type member struct {
		id, unit string
		inUse    float64
	}
	var order []string
	members := map[string][]member{}
	kinds := map[string]string{}
	for i, d := range site.Devices {
		group := map[string]string{UsageByDevice: d.ID, UsageByKind: d.Kind, UsageByUnit: unitOf[d.At]}[q.By]
		if q.ID != "" && group != q.ID {
			continue
		}
		if _, ok := members[group]; !ok {
			order = append(order, group)
		}
		members[group] = append(members[group], member{d.ID, unitOf[d.At], float64(2 + 6*((i+1)%2))})
		kinds[d.ID] = d.Kind
	}
	today := now.In(time.Local).Format(time.DateOnly)
	first := now.In(time.Local).AddDate(0, 0, 1-fakeUsageDays).Format(time.DateOnly)
	from, _ := time.ParseInLocation(time.DateOnly, q.From, time.Local)
	to, _ := time.ParseInLocation(time.DateOnly, q.To, time.Local)
	all := UsageRow{ID: UsageAllID}
	allDevices := map[string]bool{}
	for _, g := range order {
		total := UsageRow{ID: g}
		if q.By == UsageByDevice {
			total.Kind = kinds[g]
		}
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			day := d.Format(time.DateOnly)
			r := UsageRow{Day: day, ID: g, Kind: total.Kind}
			if day >= first && day <= today {
				for _, m := range members[g] {
					r.InUse += m.inUse
					r.Standby += 20 - m.inUse
					r.Offline += 2
					r.Fault++
					r.Maintenance++
					r.Devices++
					allDevices[m.id] = true
					if q.By == UsageByDevice {
						r.Units = []string{m.unit}
					}
				}
			}
			total.InUse, total.Standby, total.Offline = total.InUse+r.InUse, total.Standby+r.Standby, total.Offline+r.Offline
			total.Fault, total.Maintenance = total.Fault+r.Fault, total.Maintenance+r.Maintenance
			total.Devices = max(total.Devices, r.Devices)
			total.Units = r.Units
			r.Finish()
			rep.Rows = append(rep.Rows, r)
		}
		all.InUse, all.Standby, all.Offline = all.InUse+total.InUse, all.Standby+total.Standby, all.Offline+total.Offline
		all.Fault, all.Maintenance = all.Fault+total.Fault, all.Maintenance+total.Maintenance
		total.Finish()
		rep.Totals = append(rep.Totals, total)
	}
	all.Devices = len(allDevices)
	all.Finish()
	rep.Total = all
	return rep
}

// usageDay is the fixture's local day n days before today.
func usageDay(f *fixture, n int) string {
	return f.b.Snapshot().AsOf.In(time.Local).AddDate(0, 0, -n).Format(time.DateOnly)
}

func TestUsageJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	w := f.do(t, "GET", "/api/v1/usage?by=unit&days=30", "")
	rep := decode[UsageReport](t, w)
	if w.Code != 200 || rep.By != "unit" || rep.From != usageDay(f, 29) || rep.To != usageDay(f, 0) || rep.RetentionDays != store.UsageRetentionDays {
		t.Fatalf("GET by=unit&days=30: %d %s %s..%s retention %d", w.Code, rep.By, rep.From, rep.To, rep.RetentionDays)
	}
	var ids []string
	for _, r := range rep.Totals {
		ids = append(ids, r.ID)
	}
	if want := []string{"icu-a", "ccu", "(store)"}; !slices.Equal(ids, want) {
		t.Errorf("unit groups %v, want %v", ids, want)
	}
	if len(rep.Rows) != 3*30 {
		t.Fatalf("%d rows, want 90", len(rep.Rows))
	}
	// icu-a today: 8 devices (its pool's ECMO included), 5 of them 8 h in
	// use, 3 of them 2 h.
	r := rep.Rows[29]
	if r.ID != "icu-a" || r.Day != rep.To || r.Devices != 8 || r.Observed != 8*24 || r.InUse != 5*8+3*2 ||
		r.AvailabilityPct == nil || *r.AvailabilityPct != 83.33 || r.UtilisationPct == nil || *r.UtilisationPct != 28.75 {
		t.Errorf("icu-a today: %+v", r)
	}
	if r := rep.Rows[0]; !r.NoData || r.AvailabilityPct != nil || r.Devices != 0 {
		t.Errorf("a day without data: %+v", r)
	}
	// The defaults: by device, the 7 days to today; Accept: JSON wins.
	w = f.do(t, "GET", "/api/v1/usage", "", "Accept", "application/json, text/csv")
	rep = decode[UsageReport](t, w)
	if w.Code != 200 || rep.By != "device" || rep.From != usageDay(f, 6) || len(rep.Totals) != len(f.b.site.Devices) || len(rep.Rows) != 7*len(f.b.site.Devices) {
		t.Errorf("defaults: %d by %s from %s, %d groups", w.Code, rep.By, rep.From, len(rep.Totals))
	}
	w = f.do(t, "GET", "/api/v1/usage?by=device&id=vent-a1&from="+usageDay(f, 2)+"&to="+usageDay(f, 1), "")
	rep = decode[UsageReport](t, w)
	if w.Code != 200 || len(rep.Rows) != 2 || rep.Totals[0].ID != "vent-a1" || rep.Totals[0].Kind != "ventilator" || rep.Rows[0].Units[0] != "icu-a" {
		t.Errorf("one device, two days: %d %+v", w.Code, rep)
	}
}

// readUsageCSV checks a CSV answer's headers and parses it.
func readUsageCSV(t *testing.T, w *httptest.ResponseRecorder, filename string) [][]string {
	t.Helper()
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("CSV: %d %q %.200s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename=`+filename {
		t.Errorf("Content-Disposition %q, want the file %s", cd, filename)
	}
	recs, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	return recs
}

func TestUsageCSV(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	from, to := usageDay(f, 29), usageDay(f, 0)
	recs := readUsageCSV(t, f.do(t, "GET", "/api/v1/usage?by=device&id=vent-a1&days=30&format=csv", ""),
		fmt.Sprintf("h1-usage-device-vent-a1-%s_%s.csv", from, to))
	if got := strings.Join(recs[0], ","); got != "day,device,kind,units,devices,in_use_hours,standby_hours,offline_hours,fault_hours,maintenance_hours,observed_hours,availability_pct,utilisation_pct" {
		t.Errorf("header: %s", got)
	}
	if len(recs) != 1+30+1+1 {
		t.Fatalf("%d lines, want header, 30 days, the device's total and the total of all", len(recs))
	}
	if got := strings.Join(recs[1], ","); got != from+",vent-a1,ventilator,,0,0.000,0.000,0.000,0.000,0.000,0.000,," {
		t.Errorf("a day without data: %s", got)
	}
	if got := strings.Join(recs[30], ","); got != to+",vent-a1,ventilator,icu-a,1,2.000,18.000,2.000,1.000,1.000,24.000,83.33,10.00" {
		t.Errorf("today: %s", got)
	}
	if got := strings.Join(recs[31], ","); got != "total,vent-a1,ventilator,icu-a,1,20.000,180.000,20.000,10.000,10.000,240.000,83.33,10.00" {
		t.Errorf("the device's total: %s", got)
	}
	if got := recs[32][:2]; got[0] != "total" || got[1] != "(all)" {
		t.Errorf("last line %v, want the total of all", recs[32])
	}
	// Accept: text/csv asks for CSV too; the store's file name loses its
	// parentheses.
	recs = readUsageCSV(t, f.do(t, "GET", "/api/v1/usage?by=unit&id=(store)", "", "Accept", "text/csv"),
		fmt.Sprintf("h1-usage-unit-store-%s_%s.csv", usageDay(f, 6), to))
	if recs[0][1] != "unit" || recs[1][1] != "(store)" || len(recs) != 1+7+2 {
		t.Errorf("the store's CSV: %v", recs)
	}
	readUsageCSV(t, f.do(t, "GET", "/api/v1/usage?by=kind&format=csv", ""), fmt.Sprintf("h1-usage-by-kind-%s_%s.csv", usageDay(f, 6), to))
}

func TestUsageBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	tomorrow := usageDay(f, -1)
	tests := []struct{ query, reason string }{
		{"by=bed", `parameter "by": "bed" is not one of device, kind, unit`},
		{"color=red", `parameter "color" is not one of by, days, format, from, id, to`},
		{"by=unit&by=kind", `parameter "by": given 2 times`},
		{"format=xml", `parameter "format": "xml" is not one of json, csv`},
		{"from=2026-13-01", `parameter "from": "2026-13-01" is not a date; want YYYY-MM-DD`},
		{"to=yesterday", `parameter "to": "yesterday" is not a date`},
		{"to=" + tomorrow, `parameter "to": ` + tomorrow + " is after today (" + usageDay(f, 0) + ")"},
		{"from=" + usageDay(f, 0) + "&to=" + usageDay(f, 1), `parameter "from": ` + usageDay(f, 0) + " is after to"},
		{"from=" + usageDay(f, 3) + "&days=3", `parameter "days": give from or days, not both`},
		{"days=0", `parameter "days": "0": want a number of days from 1 to 366`},
		{"days=367", `parameter "days": "367": want a number of days from 1 to 366`},
		{"from=" + usageDay(f, 366), `parameter "from": the range ` + usageDay(f, 366) + " to " + usageDay(f, 0) + " is 367 days; at most 366 per request"},
		{"from=" + usageDay(f, 735) + "&to=" + usageDay(f, 725), `parameter "from": ` + usageDay(f, 735) + " is before the oldest day kept, " + usageDay(f, 730) + " (usage is kept 731 days)"},
		{"to=" + usageDay(f, 800), `parameter "to": ` + usageDay(f, 800) + " is before the oldest day kept, " + usageDay(f, 730)},
		{"id=a/b", `parameter "id": "a/b" is not an id`},
		{"by=unit&id=nowhere", `parameter "id": "nowhere" is no unit configured or with usage from`},
		{"by=device&id=icu-a", `parameter "id": "icu-a" is no device configured`},
	}
	for _, tc := range tests {
		w := f.do(t, "GET", "/api/v1/usage?"+tc.query, "")
		e := decode[apiError](t, w)
		if w.Code != http.StatusBadRequest || !strings.Contains(e.Reason, tc.reason) || !strings.HasPrefix(e.Reason, "/api/v1/usage") {
			t.Errorf("%s: %d %+v\nwant 400 with %q", tc.query, w.Code, e, tc.reason)
		}
	}
	// The oldest day kept is accepted.
	if w := f.do(t, "GET", "/api/v1/usage?from="+usageDay(f, 730)+"&to="+usageDay(f, 725), ""); w.Code != 200 {
		t.Errorf("the oldest day kept: %d %s", w.Code, w.Body)
	}
}

// failingUsage is the test backend with a failing Usage.
type failingUsage struct {
	*testBackend
	err error
}

func (b failingUsage) Usage(ctx context.Context, q UsageQuery) (UsageReport, error) {
	return UsageReport{}, b.err
}

func TestUsageBackendFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		code int
		what string
	}{
		{errors.New("reading daily usage: disk on fire"), 500, "usage unavailable"},
		{fmt.Errorf("reading daily usage: %w", context.DeadlineExceeded), 503, "gateway busy"},
	} {
		reg := prometheus.NewRegistry()
		srv, err := New(Config{}, failingUsage{newTestBackend(t), tc.err}, Deps{Registerer: reg, Gatherer: reg, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, newRequest(context.Background(), "GET", "/api/v1/usage?format=csv", ""))
		e := decode[apiError](t, w)
		if w.Code != tc.code || e.Error != tc.what || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%v: %d %+v, want %d %q as JSON", tc.err, w.Code, e, tc.code, tc.what)
		}
	}
}

// The formulas, and what has no denominator.
func TestUsageRowFinish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		row        UsageRow
		avail, use string
	}{
		{UsageRow{InUse: 6, Standby: 12, Offline: 2, Fault: 1, Maintenance: 3}, "75", "33.33"},
		{UsageRow{Maintenance: 24}, "0", "null"},
		{UsageRow{InUse: 1.0 / 3, Standby: 2.0 / 3}, "100", "33.33"},
		{UsageRow{}, "null", "null"},
	}
	str := func(p *float64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprint(*p)
	}
	for _, tc := range tests {
		r := tc.row
		r.Finish()
		if str(r.AvailabilityPct) != tc.avail || str(r.UtilisationPct) != tc.use || r.NoData != (tc.avail == "null") {
			t.Errorf("%+v: availability %s, utilisation %s, no data %v; want %s, %s", tc.row, str(r.AvailabilityPct), str(r.UtilisationPct), r.NoData, tc.avail, tc.use)
		}
	}
	r := UsageRow{InUse: 1.0 / 3}
	r.Finish()
	if r.InUse != 0.333 || r.Observed != 0.333 {
		t.Errorf("hours rounded to %v, %v; want 0.333", r.InUse, r.Observed)
	}
}

// BenchmarkUsageEncode: a year (366 days) of 130 devices, as JSON and as
// CSV (47,580 rows).
func BenchmarkUsageEncode(b *testing.B) {
	rep := UsageReport{By: UsageByDevice, Rows: make([]UsageRow, 0, 130*366)}
	for d := range 130 {
		for day := range 366 {
			r := UsageRow{Day: time.Date(2026, 1, 1+day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), ID: fmt.Sprintf("dev-%03d", d),
				Kind: "ventilator", Units: []string{"gicu"}, Devices: 1, InUse: 11.1, Standby: 11.2, Offline: 0.8, Fault: 0.3, Maintenance: 0.6}
			r.Finish()
			rep.Rows = append(rep.Rows, r)
		}
	}
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			writeJSON(discardWriter{}, 200, rep)
		}
	})
	b.Run("csv", func(b *testing.B) {
		for b.Loop() {
			if err := writeUsageCSV(discardWriter{}, &rep); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return io.Discard.Write(p) }
func (discardWriter) WriteHeader(int)             {}
