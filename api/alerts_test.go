package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/icugate/icugate/alerts"
	"github.com/icugate/icugate/alerts/notify"
)

// sampleAlerts is one firing and one pending alert, one receiver, one
// history event.
func sampleAlerts(now time.Time) AlertsView {
	return AlertsView{
		AsOf: now,
		Active: []ActiveAlert{
			{Alert: alerts.Alert{ID: "vent-offline/device/vent-a2", Rule: "vent-offline", Condition: "device_offline",
				Severity: "critical", Status: alerts.Firing, Cause: "no valid answer for 6s",
				Subject:  alerts.Subject{Type: "device", ID: "vent-a2", Device: "vent-a2", Kind: "ventilator", Bed: "icu-a-2", Unit: "icu-a"},
				StartsAt: now.Add(-5 * time.Minute), FiredAt: now.Add(-3 * time.Minute)},
				Summary: notify.Text{EN: "Ventilator vent-a2 (bed icu-a-2, unit ICU A) is offline", ZH: "ICU A icu-a-2床 呼吸机 vent-a2离线"}},
			{Alert: alerts.Alert{ID: "bed/bed/icu-a-4", Rule: "bed", Condition: "bed_degraded", Severity: "warning",
				Status: alerts.Pending, Cause: "missing ventilator", Subject: alerts.Subject{Type: "bed", ID: "icu-a-4", Bed: "icu-a-4", Unit: "icu-a"},
				StartsAt: now.Add(-time.Minute)},
				Summary: notify.Text{EN: "Bed icu-a-4 (unit ICU A) is not equipped", ZH: "ICU A icu-a-4床设备不齐备"}},
		},
		Receivers: []alerts.ReceiverStatus{{Name: "biomed-hook", Type: "webhook", Up: false, Queued: 2,
			FailingSince: now.Add(-time.Minute), LastError: "connection refused"}},
		History: []alerts.HistoryEntry{{At: now.Add(-3 * time.Minute), Event: "fired", AlertID: "vent-offline/device/vent-a2",
			Rule: "vent-offline", Severity: "critical", Summary: notify.Text{EN: "Ventilator vent-a2 is offline", ZH: "呼吸机 vent-a2离线"}}},
	}
}

// TestAlertsAPI: GET serves the view and bounds ?history; acknowledging
// needs a configured token, names who in the audit trail, and says 404
// for an alert that is not firing.
func TestAlertsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withToken())
	f.b.mu.Lock()
	f.b.alerts = sampleAlerts(time.Now())
	f.b.mu.Unlock()

	w := f.do(t, http.MethodGet, "/api/v1/alerts?history=0", "")
	var v AlertsView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != http.StatusOK {
		t.Fatalf("GET alerts: %d %v", w.Code, err)
	}
	if len(v.Active) != 2 || v.Active[0].Summary.ZH == "" || len(v.History) != 0 || len(v.Receivers) != 1 {
		t.Errorf("GET alerts?history=0 = %+v", v)
	}
	for _, q := range []string{"-1", "1001", "x"} {
		if w := f.do(t, http.MethodGet, "/api/v1/alerts?history="+q, ""); w.Code != http.StatusBadRequest {
			t.Errorf("history=%s: %d, want 400", q, w.Code)
		}
	}

	ack := func(f *fixture, token, body string) (int, string) {
		h := []string{"Content-Type", "application/json"}
		if token != "" {
			h = append(h, "Authorization", "Bearer "+token)
		}
		w := f.do(t, http.MethodPost, "/api/v1/alerts/ack", body, h...)
		var e apiError
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		return w.Code, e.Error + ": " + e.Reason
	}
	if code, _ := ack(f, "", `{"id":"vent-offline/device/vent-a2"}`); code != http.StatusUnauthorized {
		t.Errorf("ack without token: %d", code)
	}
	if code, msg := ack(f, testToken, `{}`); code != http.StatusBadRequest || !strings.Contains(msg, `"id" is required`) {
		t.Errorf("ack without id: %d %s", code, msg)
	}
	if code, msg := ack(f, testToken, `{"id":"bed/bed/icu-a-4"}`); code != http.StatusNotFound || !strings.Contains(msg, "not firing") {
		t.Errorf("ack of a pending alert: %d %s", code, msg)
	}
	if code, msg := ack(f, testToken, `{"id":"vent-offline/device/vent-a2","comment":"replacing the cable"}`); code != http.StatusOK {
		t.Errorf("ack: %d %s", code, msg)
	}
	log := f.b.auditLog()
	if len(log) == 0 {
		t.Fatal("no audit entry")
	}
	last := log[len(log)-1]
	if last.Action != "alert_ack" || last.Who != "biomed" || last.Device != "vent-offline/device/vent-a2" ||
		last.Result != "ok" || !strings.Contains(last.Detail, "replacing the cable") {
		t.Errorf("audit entry = %+v", last)
	}

	// Without tokens configured nobody can acknowledge: the audit trail
	// could not say who.
	open := newFixture(t, Config{})
	if code, msg := ack(open, "", `{"id":"x"}`); code != http.StatusForbidden || !strings.Contains(msg, "http.token_file") {
		t.Errorf("ack without tokens configured: %d %s", code, msg)
	}
}

// TestBrowserAlertsPanel: the alerts view lists active alerts with their
// text in the chosen language, the failing receiver and the history; the
// nav badge counts firing alerts; acknowledging asks to confirm and for
// the token, then shows who acknowledged.
func TestBrowserAlertsPanel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withToken())
	f.b.mu.Lock()
	f.b.alerts = sampleAlerts(time.Now())
	f.b.mu.Unlock()
	b := newBrowser(t, f)
	b.do("open the alerts view",
		chromedp.Navigate(b.url+"/#/alerts"),
		b.visible(`#alerts-active tr[data-alert="vent-offline/device/vent-a2"]`),
		b.visible(`#alerts-receivers li[data-receiver="biomed-hook"][data-up="false"]`),
		b.visible(`#alerts-history tr[data-event="fired"]`),
		b.visible(`#alert-badge`),
	)
	if got := b.eval(`document.querySelector("#alert-badge").textContent`); got != "1" {
		t.Errorf("badge = %q, want 1 (one firing, one pending)", got)
	}
	if got := b.eval(`document.querySelector('#alerts-active tr[data-alert="vent-offline/device/vent-a2"]').textContent`); !strings.Contains(got, "Ventilator vent-a2 (bed icu-a-2, unit ICU A) is offline") || !strings.Contains(got, "no valid answer for 6s") {
		t.Errorf("active row = %q", got)
	}
	if n := b.eval(`String(document.querySelectorAll('#alerts-active button.ack').length)`); n != "1" {
		t.Errorf("ack buttons = %s, want 1 (pending alerts cannot be acknowledged)", n)
	}
	b.do("switch to Chinese",
		b.click("#lang"),
		b.visible(`html[lang="zh-CN"]`),
	)
	b.waitFor("Chinese summary", `document.querySelector('#alerts-active').textContent.includes("呼吸机 vent-a2离线")`)
	b.do("switch back, acknowledge with the token",
		b.click("#lang"),
		b.visible(`html[lang="en"]`),
		b.click(`button[data-ack="vent-offline/device/vent-a2"]`),
		b.visible("#confirm-dialog[open]"),
		b.click("#confirm-ok"),
		b.visible("#token-dialog[open]"),
		chromedp.SendKeys(chromedp.CSS("#token-input"), testToken),
		b.click("#token-ok"),
		b.visible(`#alerts-active tr[data-alert="vent-offline/device/vent-a2"] .acked`),
	)
	if got := b.eval(`document.querySelector('#alerts-active .acked').textContent`); !strings.Contains(got, "by biomed") {
		t.Errorf("acknowledged cell = %q", got)
	}
	log := f.b.auditLog()
	if len(log) != 2 || log[0].Action != "sign_in" || log[1].Action != "alert_ack" || log[1].Who != "biomed" {
		t.Errorf("audit = %+v", log)
	}
	b.screenshot("alerts")
}
