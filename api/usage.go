package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icugate/icugate/store"
)

// Usage reports (GET /api/v1/usage): hours per device state, per device,
// kind or unit and local day, with availability and utilisation. The
// formulas are UsageRow.Finish's; docs/usage-reports.md explains them.

// Groupings of a usage report.
const (
	UsageByDevice = "device"
	UsageByKind   = "kind"
	UsageByUnit   = "unit"
)

// UsageStoreUnit is the id, in unit reports, of the hospital's store (the
// pools of no unit). No configured id can look like it.
const UsageStoreUnit = "(store)"

// UsageAllID is the id of the row that totals every group.
const UsageAllID = "(all)"

// UsageMaxDays is the longest range one request may ask for.
const UsageMaxDays = 366

// UsageQuery asks the backend for a usage report.
type UsageQuery struct {
	// From and To are local days (YYYY-MM-DD), both included; the server
	// has checked that From <= To, that To is not after today and that
	// the range lies within the retention.
	From, To string
	// By is UsageByDevice, UsageByKind or UsageByUnit.
	By string
	// ID, when not "", restricts the report to that device, kind or unit.
	ID string
}

// UsageRow is one group's usage on one day, or over the whole range (Day
// is then "").
type UsageRow struct {
	Day string `json:"day,omitempty"`
	// ID is the device, kind or unit (UsageStoreUnit for the hospital's
	// store; UsageAllID for the total of all groups).
	ID string `json:"id"`
	// Kind is a device row's kind.
	Kind string `json:"kind,omitempty"`
	// Units are the units a device row's device sat in (UsageStoreUnit
	// for the hospital's store), when it has data.
	Units []string `json:"units,omitempty"`
	// Devices is how many devices have data in the row.
	Devices int `json:"devices"`
	// Hours in each state.
	InUse       float64 `json:"in_use_hours"`
	Standby     float64 `json:"standby_hours"`
	Offline     float64 `json:"offline_hours"`
	Fault       float64 `json:"fault_hours"`
	Maintenance float64 `json:"maintenance_hours"`
	// Observed is the sum of the five: the device-hours the gateway
	// watched. What is missing from 24 h per device is time the gateway
	// was not running.
	Observed float64 `json:"observed_hours"`
	// AvailabilityPct and UtilisationPct are null when their denominator
	// is zero (a day without data is not a day at 0 %).
	AvailabilityPct *float64 `json:"availability_pct"`
	UtilisationPct  *float64 `json:"utilisation_pct"`
	// NoData is true when nothing was observed.
	NoData bool `json:"no_data,omitempty"`
}

// Finish computes Observed, the percentages and NoData from the hours,
// then rounds the hours to 3 decimals (3.6 s) and the percentages to 2:
//
//	observed        = in_use + standby + offline + fault + maintenance
//	availability %  = 100 × (in_use + standby) / observed
//	utilisation %   = 100 × in_use / (in_use + standby)
//
// Availability counts maintenance, fault and offline time as unavailable:
// a device in the workshop cannot equip a bed, whether its maintenance
// was planned or not. Utilisation is the share of the available time the
// device was in use on a patient, so a unit short of working devices
// shows as such and not as low demand.
func (r *UsageRow) Finish() {
	r.Observed = r.InUse + r.Standby + r.Offline + r.Fault + r.Maintenance
	r.AvailabilityPct, r.UtilisationPct = nil, nil
	r.NoData = r.Observed <= 0
	if !r.NoData {
		a := roundTo(100*(r.InUse+r.Standby)/r.Observed, 2)
		r.AvailabilityPct = &a
	}
	if up := r.InUse + r.Standby; up > 0 {
		u := roundTo(100*r.InUse/up, 2)
		r.UtilisationPct = &u
	}
	for _, h := range []*float64{&r.InUse, &r.Standby, &r.Offline, &r.Fault, &r.Maintenance, &r.Observed} {
		*h = roundTo(*h, 3)
	}
}

func roundTo(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// UsageReport is GET /api/v1/usage.
type UsageReport struct {
	AsOf time.Time `json:"as_of"`
	From string    `json:"from"`
	To   string    `json:"to"`
	By   string    `json:"by"`
	ID   string    `json:"id,omitempty"`
	// RetentionDays is how many days the gateway keeps (store.UsageRetentionDays).
	RetentionDays int `json:"retention_days"`
	// Rows are one per group and day, by group (devices and units in
	// config order, then kinds, then what only the data knows) and then
	// day; days without data included.
	Rows []UsageRow `json:"rows"`
	// Totals are one per group over the range, in the order of Rows.
	Totals []UsageRow `json:"totals"`
	// Total is every group over the range (ID UsageAllID).
	Total UsageRow `json:"total"`
}

// usageParams are the query parameters GET /api/v1/usage accepts.
var usageParams = []string{"by", "days", "format", "from", "id", "to"}

// usageID is what an id may look like (config's rule, and the store's).
var usageID = regexp.MustCompile(`^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63}|\(store\))$`)

// usageRequest is a checked GET /api/v1/usage.
type usageRequest struct {
	q   UsageQuery
	csv bool
}

// parseUsage checks the query against today (the gateway's local day).
func parseUsage(r *http.Request, today time.Time) (usageRequest, *requestError) {
	bad := func(param, format string, args ...any) (usageRequest, *requestError) {
		return usageRequest{}, &requestError{http.StatusBadRequest, "bad query parameter",
			fmt.Sprintf("%s: parameter %q: ", r.URL.Path, param) + fmt.Sprintf(format, args...)}
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return bad("query", "%v", err)
	}
	for name, v := range vals {
		if !slices.Contains(usageParams, name) {
			return usageRequest{}, &requestError{http.StatusBadRequest, "unknown query parameter",
				fmt.Sprintf("%s: parameter %q is not one of %s", r.URL.Path, clip(name), strings.Join(usageParams, ", "))}
		}
		if len(v) > 1 {
			return bad(name, "given %d times, want once", len(v))
		}
	}
	var req usageRequest
	switch req.q.By = vals.Get("by"); req.q.By {
	case "":
		req.q.By = UsageByDevice
	case UsageByDevice, UsageByKind, UsageByUnit:
	default:
		return bad("by", "%q is not one of device, kind, unit", clip(req.q.By))
	}
	switch f := vals.Get("format"); f {
	case "csv":
		req.csv = true
	case "json":
	case "":
		req.csv = acceptsCSV(r.Header.Get("Accept"))
	default:
		return bad("format", "%q is not one of json, csv", clip(f))
	}
	if id := vals.Get("id"); id != "" {
		if !usageID.MatchString(id) {
			return bad("id", "%q is not an id (1-64 letters, digits, '.', '_' or '-')", clip(id))
		}
		req.q.ID = id
	}
	day := func(param string) (time.Time, *requestError) {
		d, err := time.ParseInLocation(time.DateOnly, vals.Get(param), time.Local)
		if err != nil {
			_, rerr := bad(param, "%q is not a date; want YYYY-MM-DD", clip(vals.Get(param)))
			return time.Time{}, rerr
		}
		return d, nil
	}
	to := today
	if vals.Has("to") {
		var rerr *requestError
		if to, rerr = day("to"); rerr != nil {
			return usageRequest{}, rerr
		}
		if to.After(today) {
			return bad("to", "%s is after today (%s)", vals.Get("to"), today.Format(time.DateOnly))
		}
	}
	from := to.AddDate(0, 0, -6)
	switch {
	case vals.Has("from") && vals.Has("days"):
		return bad("days", "give from or days, not both")
	case vals.Has("from"):
		var rerr *requestError
		if from, rerr = day("from"); rerr != nil {
			return usageRequest{}, rerr
		}
		if from.After(to) {
			return bad("from", "%s is after to (%s)", vals.Get("from"), to.Format(time.DateOnly))
		}
	case vals.Has("days"):
		n, err := strconv.Atoi(vals.Get("days"))
		if err != nil || n < 1 || n > UsageMaxDays {
			return bad("days", "%q: want a number of days from 1 to %d", clip(vals.Get("days")), UsageMaxDays)
		}
		from = to.AddDate(0, 0, 1-n)
	}
	if n := daysBetween(from, to) + 1; n > UsageMaxDays {
		return bad("from", "the range %s to %s is %d days; at most %d per request", from.Format(time.DateOnly), to.Format(time.DateOnly), n, UsageMaxDays)
	}
	oldest := today.AddDate(0, 0, 1-store.UsageRetentionDays)
	if to.Before(oldest) {
		return bad("to", "%s is before the oldest day kept, %s (usage is kept %d days)",
			to.Format(time.DateOnly), oldest.Format(time.DateOnly), store.UsageRetentionDays)
	}
	if from.Before(oldest) {
		return bad("from", "%s is before the oldest day kept, %s (usage is kept %d days)",
			from.Format(time.DateOnly), oldest.Format(time.DateOnly), store.UsageRetentionDays)
	}
	req.q.From, req.q.To = from.Format(time.DateOnly), to.Format(time.DateOnly)
	return req, nil
}

// daysBetween counts calendar days from a to b (local midnights; a day
// of 23 or 25 hours counts once).
func daysBetween(a, b time.Time) int {
	ua := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	ub := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(ub.Sub(ua).Hours() / 24)
}

// acceptsCSV is true when the Accept header asks for CSV before JSON.
func acceptsCSV(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return true
		case "application/json", "*/*":
			return false
		}
	}
	return false
}

func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) {
	asOf := s.backend.Snapshot().AsOf
	if asOf.IsZero() {
		asOf = s.now()
	}
	asOf = asOf.In(time.Local)
	today := time.Date(asOf.Year(), asOf.Month(), asOf.Day(), 0, 0, 0, 0, time.Local)
	req, rerr := parseUsage(r, today)
	if rerr != nil {
		writeError(w, rerr.code, rerr.what, rerr.reason)
		return
	}
	rep, err := s.backend.Usage(r.Context(), req.q)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "gateway busy",
			fmt.Sprintf("the usage report was not ready in time (%v); ask for a shorter range or try again", err))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "usage unavailable", err.Error())
		return
	}
	if req.q.ID != "" && len(rep.Totals) == 0 {
		writeError(w, http.StatusBadRequest, "bad query parameter",
			fmt.Sprintf("%s: parameter \"id\": %q is no %s configured or with usage from %s to %s", r.URL.Path, req.q.ID, req.q.By, req.q.From, req.q.To))
		return
	}
	rep.RetentionDays = store.UsageRetentionDays
	if rep.Rows == nil {
		rep.Rows = []UsageRow{}
	}
	if rep.Totals == nil {
		rep.Totals = []UsageRow{}
	}
	if !req.csv {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	hospital := ""
	if site := s.backend.Site(); site != nil {
		hospital = site.Hospital.ID + "-"
	}
	name := fmt.Sprintf("%susage-by-%s-%s_%s.csv", hospital, rep.By, rep.From, rep.To)
	if rep.ID != "" {
		name = fmt.Sprintf("%susage-%s-%s-%s_%s.csv", hospital, rep.By, strings.Trim(rep.ID, "()"), rep.From, rep.To)
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := writeUsageCSV(w, &rep); err != nil {
		s.log.Warn("writing usage CSV", "err", err)
	}
}

// UsageCSVHeader is the CSV report's header; the second column is named
// after the grouping (device, kind or unit).
func UsageCSVHeader(by string) []string {
	return []string{"day", by, "kind", "units", "devices", "in_use_hours", "standby_hours", "offline_hours",
		"fault_hours", "maintenance_hours", "observed_hours", "availability_pct", "utilisation_pct"}
}

// writeUsageCSV writes the header, one row per group and day, then each
// group's total (day "total") and the total of all groups (id "(all)").
// Percentages without a denominator are empty cells.
func writeUsageCSV(w http.ResponseWriter, rep *UsageReport) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(UsageCSVHeader(rep.By)); err != nil {
		return err
	}
	num := func(x float64, places int) string { return strconv.FormatFloat(x, 'f', places, 64) }
	pct := func(p *float64) string {
		if p == nil {
			return ""
		}
		return num(*p, 2)
	}
	rec := make([]string, 0, 13)
	write := func(day string, r *UsageRow) error {
		rec = append(rec[:0], day, r.ID, r.Kind, strings.Join(r.Units, ";"), strconv.Itoa(r.Devices),
			num(r.InUse, 3), num(r.Standby, 3), num(r.Offline, 3), num(r.Fault, 3), num(r.Maintenance, 3),
			num(r.Observed, 3), pct(r.AvailabilityPct), pct(r.UtilisationPct))
		return cw.Write(rec)
	}
	for i := range rep.Rows {
		if err := write(rep.Rows[i].Day, &rep.Rows[i]); err != nil {
			return err
		}
	}
	for i := range rep.Totals {
		if err := write("total", &rep.Totals[i]); err != nil {
			return err
		}
	}
	if err := write("total", &rep.Total); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
