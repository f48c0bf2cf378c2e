package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AuditQuery selects audit entries: all conditions hold (empty ones match
// everything), newest first, at most Limit.
type AuditQuery struct {
	// From and To bound the time (inclusive; zero: open).
	From, To time.Time
	// Who, Device and Action match exactly.
	Who, Device, Action string
	// Limit is how many entries at most (the newest).
	Limit int
}

// Audit query limits.
const (
	// DefaultAuditLimit is how many entries GET /api/v1/audit returns
	// without a limit parameter.
	DefaultAuditLimit = 500
	// MaxAuditLimit is the most it returns in one answer.
	MaxAuditLimit = 10000
)

// AuditReader is implemented by a backend that keeps the audit trail
// (the gateway does, in state.db) and serves it on GET /api/v1/audit.
type AuditReader interface {
	// AuditTrail returns the entries matching q, newest first.
	AuditTrail(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// auditView is the JSON answer of GET /api/v1/audit.
type auditView struct {
	Entries []AuditEntry `json:"entries"`
	// Limited is true when more entries matched than were returned.
	Limited bool `json:"limited"`
}

// getAudit serves the audit trail: who changed what, from where, and what
// came of it; filtered by device, who, action and time, as JSON or CSV
// (format=csv). It needs the engineer role when tokens are configured.
func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) {
	id, rerr := s.identify(r)
	if rerr == nil {
		rerr = s.needRole(r, id, RoleEngineer, "reading the audit trail")
	}
	if rerr != nil {
		s.metrics.refused.WithLabelValues("audit_read", rerr.what).Inc()
		if rerr.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="icugate"`)
		}
		writeError(w, rerr.code, rerr.what, rerr.reason)
		return
	}
	ar, ok := s.backend.(AuditReader)
	if !ok {
		writeError(w, http.StatusNotImplemented, "no audit trail", "this backend keeps no audit trail")
		return
	}
	q, csvOut, rerr := auditQuery(r)
	if rerr != nil {
		writeError(w, rerr.code, rerr.what, rerr.reason)
		return
	}
	want := q.Limit
	q.Limit++ // one more tells whether the answer is cut
	entries, err := ar.AuditTrail(r.Context(), q)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			writeError(w, http.StatusServiceUnavailable, "gateway busy", err.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, "audit trail unavailable", err.Error())
		return
	}
	v := auditView{Entries: entries}
	if len(entries) > want {
		v.Entries, v.Limited = entries[:want], true
	}
	if v.Entries == nil {
		v.Entries = []AuditEntry{}
	}
	if csvOut {
		writeAuditCSV(w, v, s.now())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// auditQuery parses the parameters of GET /api/v1/audit.
func auditQuery(r *http.Request) (AuditQuery, bool, *requestError) {
	v := r.URL.Query()
	q := AuditQuery{Who: v.Get("who"), Device: v.Get("device"), Action: v.Get("action"), Limit: DefaultAuditLimit}
	bad := func(param, format string, args ...any) *requestError {
		return &requestError{http.StatusBadRequest, "bad parameter", fmt.Sprintf("parameter %q: ", param) + fmt.Sprintf(format, args...)}
	}
	for _, p := range []struct {
		name string
		to   *time.Time
		end  bool
	}{{"from", &q.From, false}, {"to", &q.To, true}} {
		raw := v.Get(p.name)
		if raw == "" {
			continue
		}
		t, err := parseAuditTime(raw, p.end)
		if err != nil {
			return q, false, bad(p.name, "%q is neither a date (2026-12-05) nor a time (2026-12-05T08:00:00Z)", clip(raw))
		}
		*p.to = t
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return q, false, bad("to", "%s is before from %s", v.Get("to"), v.Get("from"))
	}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > MaxAuditLimit {
			return q, false, bad("limit", "%q: want a number from 1 to %d", clip(raw), MaxAuditLimit)
		}
		q.Limit = n
	}
	csvOut := false
	switch f := v.Get("format"); f {
	case "", "json":
	case "csv":
		csvOut = true
	default:
		return q, false, bad("format", "%q: want json or csv", clip(f))
	}
	return q, csvOut, nil
}

// parseAuditTime reads an RFC 3339 time, or a date in the gateway's time
// zone: its start for from, its end for to.
func parseAuditTime(raw string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, raw, time.Local)
	if err != nil {
		return time.Time{}, err
	}
	if end {
		return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	return d, nil
}

// writeAuditCSV answers with the entries as a CSV download (UTF-8 with a
// byte-order mark, so that spreadsheet programs show Chinese text right).
func writeAuditCSV(w http.ResponseWriter, v auditView, now time.Time) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="icugate-audit-%s.csv"`, now.Format("20060102-150405")))
	var b strings.Builder
	b.WriteString("\ufeff")
	cw := csv.NewWriter(&b)
	_ = cw.Write([]string{"time", "who", "remote", "action", "device", "detail", "status", "result"})
	for _, e := range v.Entries {
		status := ""
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		_ = cw.Write([]string{e.Time.Format(time.RFC3339), csvSafe(e.Who), csvSafe(e.Remote), csvSafe(e.Action),
			csvSafe(e.Device), csvSafe(e.Detail), status, csvSafe(e.Result)})
	}
	cw.Flush()
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}

// csvSafe keeps a cell that a spreadsheet would run as a formula (it
// starts with = + - @, tab or CR; the text is caller-supplied) as text.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
