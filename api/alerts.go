package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/icugate/icugate/alerts"
	"github.com/icugate/icugate/alerts/notify"
)

// AlertsView is GET /api/v1/alerts: the native alerts firing and pending
// now, each receiver's delivery state, and the latest alert events.
type AlertsView struct {
	AsOf      time.Time               `json:"as_of"`
	Active    []ActiveAlert           `json:"active"`
	Receivers []alerts.ReceiverStatus `json:"receivers"`
	History   []alerts.HistoryEntry   `json:"history"`
}

// ActiveAlert is an alert with its summary in both languages.
type ActiveAlert struct {
	alerts.Alert
	Summary notify.Text `json:"summary"`
}

// maxAlertHistory caps ?history=.
const maxAlertHistory = 1000

func (s *Server) getAlerts(w http.ResponseWriter, r *http.Request) {
	n := 100
	if v := r.URL.Query().Get("history"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 0 || k > maxAlertHistory {
			writeError(w, http.StatusBadRequest, "bad query parameter",
				fmt.Sprintf("history=%q: want a number of events from 0 to %d", clip(v), maxAlertHistory))
			return
		}
		n = k
	}
	v, err := s.backend.Alerts(n)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "alerts unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// postAlertAck acknowledges a firing alert: its repeats stop. It needs a
// configured API token (who acknowledged is the token's name) and is
// audited like every change.
func (s *Server) postAlertAck(w http.ResponseWriter, r *http.Request) {
	c := s.newCall(w, r, "alert_ack")
	var body struct {
		ID      *string `json:"id"`
		Comment string  `json:"comment"`
	}
	if !s.tokensConfigured() {
		c.fail(&requestError{http.StatusForbidden, "token required",
			"acknowledging an alert needs an API token so that the audit trail says who: set http.token_file in the site config"})
		return
	}
	if !c.begin(&body) {
		return
	}
	if body.ID == nil || *body.ID == "" {
		c.fail(&requestError{http.StatusBadRequest, "missing field",
			fmt.Sprintf("%s %s: field \"id\" is required (the alert id, e.g. vent-offline/device/vent-01)", r.Method, r.URL.Path)})
		return
	}
	if len(body.Comment) > 500 {
		c.fail(&requestError{http.StatusBadRequest, "comment too long",
			fmt.Sprintf("%s %s: field \"comment\" has %d bytes; at most 500", r.Method, r.URL.Path, len(body.Comment))})
		return
	}
	c.device = clip(*body.ID)
	c.detail = "comment=" + clip(body.Comment)
	a, err := s.backend.AckAlert(c.ctx(), *body.ID, c.who, body.Comment)
	if err != nil {
		if errors.Is(err, alerts.ErrUnknown) {
			c.fail(&requestError{http.StatusNotFound, "unknown alert",
				fmt.Sprintf("%s %s: alert %q is not firing (it may have resolved)", r.Method, r.URL.Path, c.device)})
			return
		}
		c.fail(backendError(err, http.StatusNotFound, "unknown alert"))
		return
	}
	c.finish(a)
}

// alertsBackend is the part of Backend the alert routes use.
type alertsBackend interface {
	// Alerts returns the alerts view with up to history events.
	Alerts(history int) (AlertsView, error)
	// AckAlert acknowledges a firing alert on behalf of by; an alert
	// that is not firing is an error wrapping alerts.ErrUnknown.
	AckAlert(ctx context.Context, id, by, comment string) (alerts.Alert, error)
}
