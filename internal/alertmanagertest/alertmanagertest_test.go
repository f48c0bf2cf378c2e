package alertmanagertest

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestInstallHint: a test that lacks alertmanager is told how to build it.
func TestInstallHint(t *testing.T) {
	if !strings.Contains(ErrNotInstalled.Error(), "install-gotool.sh alertmanager") {
		t.Errorf("ErrNotInstalled does not say how to install: %v", ErrNotInstalled)
	}
}

func post(t *testing.T, s *Server, body string) {
	t.Helper()
	resp, err := http.Post(s.URL()+"/api/v2/alerts", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /api/v2/alerts: %s: %s", resp.Status, b)
	}
}

// TestAlertsListsAndFilters: a posted alert is listed with its labels,
// annotations and state; a filter narrows the list; a resolved alert is no
// longer listed; Stop stops the server.
func TestAlertsListsAndFilters(t *testing.T) {
	s := Start(t)
	starts := time.Now().UTC().Format(time.RFC3339)
	ends := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	post(t, s, `[{"labels":{"alertname":"a","bed":"icu-1"},"annotations":{"summary":"呼吸机离线"},"startsAt":"`+starts+`","endsAt":"`+ends+`"},
		{"labels":{"alertname":"b"},"startsAt":"`+starts+`","endsAt":"`+ends+`"}]`)
	all := s.WaitAlerts(t, "two active alerts", func(a []Alert) bool {
		return len(a) == 2 && a[0].Status.State == "active" && a[1].Status.State == "active"
	})
	var a Alert
	for _, x := range all {
		if x.Labels["alertname"] == "a" {
			a = x
		}
	}
	if a.Labels["bed"] != "icu-1" || a.Annotations["summary"] != "呼吸机离线" || a.Fingerprint == "" ||
		a.StartsAt.Format(time.RFC3339) != starts || a.EndsAt.Format(time.RFC3339) != ends {
		t.Errorf("alert a read back as %+v", a)
	}
	ctx := context.Background()
	only, err := s.Alerts(ctx, `alertname="b"`)
	if err != nil || len(only) != 1 || only[0].Labels["alertname"] != "b" {
		t.Errorf("filter alertname=b: %+v, %v", only, err)
	}
	// Ended the moment it started: resolved (ends not before starts).
	post(t, s, `[{"labels":{"alertname":"a","bed":"icu-1"},"startsAt":"`+starts+`","endsAt":"`+starts+`"}]`)
	s.WaitAlerts(t, "resolved alert a no longer listed", func(a []Alert) bool {
		return len(a) == 1 && a[0].Labels["alertname"] == "b"
	})
	s.Stop()
	s.Stop()
	if c, err := net.DialTimeout("tcp", s.addr(), time.Second); err == nil {
		c.Close()
		t.Error("alertmanager still answers after Stop")
	}
	if _, err := s.Alerts(ctx); err == nil {
		t.Error("Alerts succeeded after Stop")
	}
}
