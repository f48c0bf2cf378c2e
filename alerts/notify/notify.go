// Package notify delivers alert notifications to the receivers a site
// configures: a webhook (JSON, HMAC-signed), e-mail over SMTP, Alertmanager's
// API and a retained MQTT topic. A receiver only sends; the alerts package
// decides what to send, keeps every notification durable until its receiver
// took it, and retries with backoff.
package notify

import (
	"context"
	"time"
)

// Status of an alert in a notification.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Text is a sentence in both languages of the product.
type Text struct {
	EN string `json:"en"`
	ZH string `json:"zh"`
}

// Notification is one change of one alert (it fired, it resolved, or it is
// still firing and repeated), as every receiver gets it. Its JSON is the
// webhook body (README, "Webhook").
type Notification struct {
	// ID is unique per notification: receivers that must not act twice
	// use it to drop a redelivery (a gateway killed after the receiver
	// took a notification but before the gateway recorded it sends it
	// again after its restart).
	ID string `json:"id"`
	// AlertID identifies the alert: the rule and its subject, e.g.
	// "vent-offline/device/vent-01". Stable across notifications.
	AlertID string `json:"alert_id"`
	// Status is firing or resolved.
	Status string `json:"status"`
	// Repeat is true on a reminder of an alert still firing.
	Repeat bool `json:"repeat,omitempty"`
	// Rule is the rule's name; Condition what it watches (device_offline,
	// bed_degraded, ...); Severity critical, warning or info.
	Rule      string `json:"rule"`
	Condition string `json:"condition"`
	Severity  string `json:"severity"`
	// Hospital is the site's hospital id.
	Hospital string `json:"hospital"`
	// Device, Kind, Bed and Unit name the subject where they apply.
	Device string `json:"device,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Bed    string `json:"bed,omitempty"`
	Unit   string `json:"unit,omitempty"`
	// Source is the health source of a gateway_degraded alert.
	Source string `json:"source,omitempty"`
	// Cause is the technical cause as the engine or health gives it
	// (e.g. "no valid answer for 6s: dial tcp ...: connection refused").
	Cause string `json:"cause,omitempty"`
	// Summary is one line in plain words; Description adds the cause and
	// what to do.
	Summary     Text `json:"summary"`
	Description Text `json:"description"`
	// StartsAt is when the condition began; EndsAt when it ended (zero
	// while firing); At when this notification was made.
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	At       time.Time `json:"at"`
}

// Receiver delivers notifications to one configured destination.
type Receiver interface {
	// Name is the receiver's name from the config.
	Name() string
	// Send delivers n and returns nil only once the destination took it
	// (HTTP 2xx, SMTP 250 after DATA, MQTT PUBACK). It honours ctx.
	Send(ctx context.Context, n Notification) error
	// Check tells whether the destination can be reached right now
	// without sending a notification (connect, greet, log in where the
	// protocol allows), so that health can show a receiver that would
	// fail before an alert needs it.
	Check(ctx context.Context) error
}

// Publisher publishes on the gateway's MQTT connection (QoS, retained);
// it returns once the broker acknowledged.
type Publisher func(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error

// Restater is a receiver that must be told, periodically, which alerts are
// still firing: Alertmanager resolves an alert that nobody restates within
// its resolve_timeout. The alerts package calls Restate about every minute
// with every firing alert the receiver is subscribed to; a failed restate
// is retried at the next one (the firing notification itself went through
// the durable queue).
type Restater interface {
	Restate(ctx context.Context, firing []Notification) error
}
