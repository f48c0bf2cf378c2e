package alertmanagertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Alert is one alert as GET /api/v2/alerts returns it (gettableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	Fingerprint  string            `json:"fingerprint"`
	GeneratorURL string            `json:"generatorURL"`
	Status       Status            `json:"status"`
}

// Status is an alert's state in Alertmanager: "unprocessed" until the
// dispatcher routed it, then "active", or "suppressed" when silenced or
// inhibited.
type Status struct {
	State       string   `json:"state"`
	SilencedBy  []string `json:"silencedBy"`
	InhibitedBy []string `json:"inhibitedBy"`
}

// Alerts returns the alerts Alertmanager holds in every state (active,
// silenced, inhibited, unprocessed), narrowed by label matchers such as
// `alertname="vent-offline"`. Alertmanager's API never lists an alert
// whose endsAt has passed: a resolved alert is one that is no longer
// listed.
func (s *Server) Alerts(ctx context.Context, filter ...string) ([]Alert, error) {
	q := url.Values{}
	for _, k := range []string{"active", "silenced", "inhibited", "unprocessed"} {
		q.Set(k, "true")
	}
	for _, f := range filter {
		q.Add("filter", f)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/api/v2/alerts?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.api.Do(req)
	if err != nil {
		return nil, fmt.Errorf("alertmanager API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("alertmanager API GET /api/v2/alerts: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alertmanager API GET /api/v2/alerts: %s: %s", resp.Status, body)
	}
	var alerts []Alert
	if err := json.Unmarshal(body, &alerts); err != nil {
		return nil, fmt.Errorf("alertmanager API GET /api/v2/alerts: %w", err)
	}
	return alerts, nil
}

// WaitAlerts polls Alerts (with filter) up to 10 s until done accepts what
// it lists, and returns that; it fails the test, naming what, if done
// never does.
func (s *Server) WaitAlerts(t testing.TB, what string, done func([]Alert) bool, filter ...string) []Alert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		alerts, err := s.Alerts(ctx, filter...)
		if err == nil && done(alerts) {
			return alerts
		}
		select {
		case <-ctx.Done():
			t.Fatalf("alertmanagertest: %s: not within 10s; last listed %+v (error %v)", what, alerts, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
