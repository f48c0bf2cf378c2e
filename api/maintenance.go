package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/icugate/icugate/store"
)

// WorkOrder is one maintenance work order of a device; Overdue is true
// while it is open past its expected return.
type WorkOrder struct {
	store.WorkOrder
	Overdue bool `json:"overdue"`
}

// PMItem is a device whose preventive maintenance is due.
type PMItem struct {
	Device string `json:"device"`
	Kind   string `json:"kind"`
	Unit   string `json:"unit"`
	At     string `json:"at"`
	Due    string `json:"due"`
	// Days until due (negative: overdue by that many days).
	Days int `json:"days"`
}

// MaintenanceView is GET /api/v1/maintenance: the open work orders
// (overdue first) and preventive maintenance overdue or due within
// PMDueSoonDays.
type MaintenanceView struct {
	AsOf      time.Time   `json:"as_of"`
	Open      []WorkOrder `json:"open"`
	PMOverdue []PMItem    `json:"pm_overdue"`
	PMDueSoon []PMItem    `json:"pm_due_soon"`
}

// PMDueSoonDays is how far ahead "due soon" looks.
const PMDueSoonDays = 30

// Limits of a work order's text fields.
const (
	maxReasonLen = 200
	maxTicketLen = 64
)

func (s *Server) getMaintenance(w http.ResponseWriter, r *http.Request) {
	v, err := s.backend.Maintenance()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "maintenance unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// maintenanceBody is the JSON of PUT .../maintenance.
type maintenanceBody struct {
	On             *bool   `json:"on"`
	Reason         *string `json:"reason"`
	Ticket         *string `json:"ticket"`
	ExpectedReturn *string `json:"expected_return"`
}

// request checks the body and makes the backend's request of it. now is
// the server's clock: an expected return must lie ahead.
func (b maintenanceBody) request(method, path string, now time.Time) (MaintenanceRequest, *requestError) {
	bad := func(format string, args ...any) (MaintenanceRequest, *requestError) {
		return MaintenanceRequest{}, &requestError{http.StatusBadRequest, "bad field", fmt.Sprintf("%s %s: ", method, path) + fmt.Sprintf(format, args...)}
	}
	if b.On == nil {
		return MaintenanceRequest{}, &requestError{http.StatusBadRequest, "missing field",
			fmt.Sprintf("%s %s: field \"on\" is required (true or false)", method, path)}
	}
	req := MaintenanceRequest{On: *b.On}
	if !req.On {
		if b.Reason != nil || b.Ticket != nil || b.ExpectedReturn != nil {
			return bad("reason, ticket and expected_return describe a work order being opened: send them with \"on\": true")
		}
		return req, nil
	}
	if b.Reason != nil {
		req.Reason = strings.TrimSpace(*b.Reason)
		if len(req.Reason) > maxReasonLen || strings.ContainsAny(req.Reason, "\r\n") {
			return bad("field \"reason\": one line of at most %d bytes", maxReasonLen)
		}
	}
	if b.Ticket != nil {
		req.Ticket = strings.TrimSpace(*b.Ticket)
		if len(req.Ticket) > maxTicketLen || strings.ContainsAny(req.Ticket, "\r\n\t") {
			return bad("field \"ticket\": one line of at most %d bytes", maxTicketLen)
		}
	}
	if b.ExpectedReturn != nil && *b.ExpectedReturn != "" {
		t, err := parseReturn(*b.ExpectedReturn)
		if err != nil {
			return bad("field \"expected_return\" %q: want a date (2027-03-31) or a time (2027-03-31T17:00:00+08:00)", clip(*b.ExpectedReturn))
		}
		if !t.After(now) {
			return bad("field \"expected_return\" %q is not in the future", clip(*b.ExpectedReturn))
		}
		req.ExpectedReturn = &t
	}
	return req, nil
}

// parseReturn reads an expected return: a date means the end of that day
// (local time), a time is taken as given.
func parseReturn(s string) (time.Time, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Second), nil
	}
	return time.Parse(time.RFC3339, s)
}

// auditDetail is the work order as the audit trail records it.
func (req MaintenanceRequest) auditDetail() string {
	d := "on=" + strconv.FormatBool(req.On)
	if req.Reason != "" {
		d += " reason=" + strconv.Quote(req.Reason)
	}
	if req.Ticket != "" {
		d += " ticket=" + strconv.Quote(req.Ticket)
	}
	if req.ExpectedReturn != nil {
		d += " expected_return=" + req.ExpectedReturn.Format(time.RFC3339)
	}
	return d
}
