package notify

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/alertmanagertest"
)

// byAlertID is a filter for one of our alerts in Alertmanager.
func byAlertID(id string) string { return `icugate_alert_id="` + id + `"` }

// TestAlertmanager against a real Alertmanager: a firing notification
// becomes an active alert with our labels and annotations and an endsAt
// four minutes ahead; its resolve notice ends it; Restate posts every
// firing notification at once; a refusal quotes Alertmanager's reason;
// Check passes while it runs and fails once it is stopped, as Send does.
func TestAlertmanager(t *testing.T) {
	t.Parallel()
	am := alertmanagertest.Start(t)
	now := time.Now().Truncate(time.Millisecond)
	r, err := New(config.AlertReceiver{Name: "am", Type: config.ReceiverAlertmanager, URL: am.URL() + "/", Timeout: 10 * time.Second},
		Deps{Hospital: "h-from-deps", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}

	fire := firingAt(now.Add(-3*time.Minute), "vent-offline/device/vent-a2")
	if err := r.Send(ctx, fire); err != nil {
		t.Fatalf("Send firing: %v", err)
	}
	got := am.WaitAlerts(t, "the firing alert active", func(a []alertmanagertest.Alert) bool {
		return len(a) == 1 && a[0].Status.State == "active"
	}, byAlertID(fire.AlertID))[0]
	wantLabels := map[string]string{
		"alertname": "vent-offline", "severity": "critical", "hospital": "h1", "icugate_alert_id": fire.AlertID,
		"device": "vent-a2", "kind": "ventilator", "bed": "icu-a-2", "unit": "icu-a",
	}
	wantAnnotations := map[string]string{
		"summary": fire.Summary.EN, "summary_zh": fire.Summary.ZH,
		"description": fire.Description.EN, "description_zh": fire.Description.ZH, "cause": fire.Cause,
	}
	if !maps.Equal(got.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", got.Labels, wantLabels)
	}
	if !maps.Equal(got.Annotations, wantAnnotations) {
		t.Errorf("annotations %v, want %v", got.Annotations, wantAnnotations)
	}
	if !got.StartsAt.Equal(fire.StartsAt) || !got.EndsAt.Equal(now.Add(4*time.Minute)) {
		t.Errorf("startsAt %v endsAt %v, want %v and now+4m %v", got.StartsAt, got.EndsAt, fire.StartsAt, now.Add(4*time.Minute))
	}

	if err := r.Send(ctx, resolvedAt(fire, now.Add(-time.Second))); err != nil {
		t.Fatalf("Send resolved: %v", err)
	}
	am.WaitAlerts(t, "the resolved alert no longer listed", func(a []alertmanagertest.Alert) bool { return len(a) == 0 },
		byAlertID(fire.AlertID))

	// Restate: two firing (one without a hospital: the deps' is used) in
	// one request; a resolved one among them is not posted.
	a := firingAt(now.Add(-time.Minute), "bed-degraded/bed/icu-a-3")
	a.Rule, a.Device, a.Kind, a.Bed = "bed-degraded", "", "", "icu-a-3"
	b := firingAt(now.Add(-time.Minute), "gateway/source/influxdb")
	b.Rule, b.Device, b.Kind, b.Bed, b.Unit, b.Source, b.Hospital = "gateway", "", "", "", "", "influxdb", ""
	gone := resolvedAt(firingAt(now.Add(-time.Hour), "old/device/x"), now.Add(-time.Minute))
	if err := r.(Restater).Restate(ctx, []Notification{a, b, gone}); err != nil {
		t.Fatalf("Restate: %v", err)
	}
	listed := am.WaitAlerts(t, "both restated alerts active", func(l []alertmanagertest.Alert) bool {
		return len(l) == 2 && l[0].Status.State == "active" && l[1].Status.State == "active"
	})
	for _, l := range listed {
		switch l.Labels["icugate_alert_id"] {
		case a.AlertID:
			if l.Labels["bed"] != "icu-a-3" || l.Labels["hospital"] != "h1" || l.Labels["device"] != "" {
				t.Errorf("restated %s: labels %v", a.AlertID, l.Labels)
			}
		case b.AlertID:
			if l.Labels["source"] != "influxdb" || l.Labels["hospital"] != "h-from-deps" {
				t.Errorf("restated %s: labels %v", b.AlertID, l.Labels)
			}
		default:
			t.Errorf("unexpected alert %v", l.Labels)
		}
	}
	if err := r.(Restater).Restate(ctx, []Notification{gone}); err != nil {
		t.Errorf("Restate with nothing firing: %v", err)
	}

	// A resolve notice that ends before it starts is Alertmanager's to
	// refuse; the error quotes why.
	bad := resolvedAt(firingAt(now, "bad/device/y"), now.Add(-time.Hour))
	err = r.Send(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "receiver am: Alertmanager "+am.URL()+"/ refused 1 alert(s): answered 400 Bad Request") {
		t.Errorf("Send of an invalid alert: %v", err)
	}

	am.Stop()
	for what, err := range map[string]error{"Check": r.Check(ctx), "Send": r.Send(ctx, fire)} {
		if err == nil || !strings.Contains(err.Error(), "receiver am: cannot ") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s against a stopped Alertmanager: %v", what, err)
		}
	}
}
