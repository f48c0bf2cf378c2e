package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/icugate/icugate/config"
)

// alertmanagerHold is how far ahead a firing alert's endsAt is set.
// Alertmanager resolves an alert at its endsAt unless it is restated; the
// alerts package restates about every minute, so three missed restates
// still leave it firing, and a gateway that died resolves its alerts in
// Alertmanager within minutes instead of leaving them firing forever.
const alertmanagerHold = 4 * time.Minute

// alertmanager posts alerts to Alertmanager's v2 API, as Prometheus does.
type alertmanager struct {
	name      string
	base      string // redacted, for errors
	alertsURL string
	readyURL  string
	hospital  string
	client    *http.Client
	timeout   time.Duration
	now       func() time.Time
}

// amAlert is one element of POST /api/v2/alerts (postableAlert).
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt,omitzero"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

func newAlertmanager(cfg config.AlertReceiver, deps Deps) (*alertmanager, error) {
	u, err := parseHTTPURL(cfg.Name, cfg.URL)
	if err != nil {
		return nil, err
	}
	client, err := httpClient(cfg, deps)
	if err != nil {
		return nil, err
	}
	return &alertmanager{
		name: cfg.Name, base: u.Redacted(),
		alertsURL: u.JoinPath("api/v2/alerts").String(),
		readyURL:  u.JoinPath("-/ready").String(),
		hospital:  deps.Hospital, client: client, timeout: cfg.Timeout, now: deps.Now,
	}, nil
}

func (a *alertmanager) Name() string { return a.name }

// Send posts n: a firing alert with endsAt alertmanagerHold ahead, a
// resolved one with the time it ended.
func (a *alertmanager) Send(ctx context.Context, n Notification) error {
	return a.post(ctx, []amAlert{a.alert(n, a.now())})
}

// Restate posts every firing notification in one request, which renews
// their endsAt. Resolved ones in firing are skipped.
func (a *alertmanager) Restate(ctx context.Context, firing []Notification) error {
	now := a.now()
	alerts := make([]amAlert, 0, len(firing))
	for _, n := range firing {
		if n.Status == StatusFiring {
			alerts = append(alerts, a.alert(n, now))
		}
	}
	if len(alerts) == 0 {
		return nil
	}
	return a.post(ctx, alerts)
}

// Check asks Alertmanager whether it is ready (GET /-/ready, 200).
func (a *alertmanager) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.readyURL, nil)
	if err != nil {
		return errorf(a.name, "Alertmanager readiness request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := a.client.Do(req)
	if err != nil {
		return a.fail(ctx, "cannot reach Alertmanager", err)
	}
	defer drainClose(resp)
	if resp.StatusCode != http.StatusOK {
		return errorf(a.name, "Alertmanager %s is not ready: %w", a.base, statusError(resp))
	}
	return nil
}

// alert maps a notification to Alertmanager's labels and annotations. The
// labels identify the alert (Alertmanager groups and deduplicates by
// them), so they hold only what is stable for one alert; texts that change
// between notifications are annotations.
func (a *alertmanager) alert(n Notification, now time.Time) amAlert {
	hospital := n.Hospital
	if hospital == "" {
		hospital = a.hospital
	}
	labels := map[string]string{
		"alertname":        n.Rule,
		"severity":         n.Severity,
		"hospital":         hospital,
		"icugate_alert_id": n.AlertID,
	}
	for k, v := range map[string]string{"device": n.Device, "kind": n.Kind, "bed": n.Bed, "unit": n.Unit, "source": n.Source} {
		if v != "" {
			labels[k] = v
		}
	}
	annotations := map[string]string{}
	for k, v := range map[string]string{
		"summary": n.Summary.EN, "summary_zh": n.Summary.ZH,
		"description": n.Description.EN, "description_zh": n.Description.ZH,
		"cause": n.Cause,
	} {
		if v != "" {
			annotations[k] = v
		}
	}
	al := amAlert{Labels: labels, Annotations: annotations, StartsAt: n.StartsAt}
	switch {
	case n.Status != StatusResolved:
		al.EndsAt = now.Add(alertmanagerHold)
	case !n.EndsAt.IsZero():
		al.EndsAt = n.EndsAt
	default:
		al.EndsAt = now
	}
	return al
}

func (a *alertmanager) post(ctx context.Context, alerts []amAlert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return errorf(a.name, "encoding alerts: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.alertsURL, bytes.NewReader(body))
	if err != nil {
		return errorf(a.name, "Alertmanager request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := a.client.Do(req)
	if err != nil {
		return a.fail(ctx, "cannot post alerts to Alertmanager", err)
	}
	defer drainClose(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorf(a.name, "Alertmanager %s refused %d alert(s): %w", a.base, len(alerts), statusError(resp))
	}
	return nil
}

func (a *alertmanager) fail(ctx context.Context, what string, err error) error {
	if why := gaveUp(ctx, err, a.timeout); why != "" {
		return errorf(a.name, "%s %s: %s: %w", what, a.base, why, err)
	}
	return errorf(a.name, "%s %s: %w", what, a.base, err)
}
