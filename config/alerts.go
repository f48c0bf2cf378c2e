package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Alert conditions a rule can watch (README, "Native alerts").
const (
	// AlertDeviceOffline: a device gave no valid answer (offline).
	AlertDeviceOffline = "device_offline"
	// AlertDeviceFault: a device reports a fault.
	AlertDeviceFault = "device_fault"
	// AlertBedDegraded: a bed is not equipped (a required device missing,
	// offline, faulted or in maintenance).
	AlertBedDegraded = "bed_degraded"
	// AlertUnitBelow: a unit has fewer equipped beds than the rule's
	// below.
	AlertUnitBelow = "unit_below"
	// AlertCountsUnverified: a unit's counts rest on a device that is not
	// fresh.
	AlertCountsUnverified = "counts_unverified"
	// AlertGatewayDegraded: a configured capability of the gateway is not
	// working (the reasons /readyz lists: reports, InfluxDB, outbox,
	// broker, devices, alert receivers).
	AlertGatewayDegraded = "gateway_degraded"
)

// AlertConditions lists every condition, in documentation order.
var AlertConditions = []string{AlertDeviceOffline, AlertDeviceFault, AlertBedDegraded,
	AlertUnitBelow, AlertCountsUnverified, AlertGatewayDegraded}

// Alert severities.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Receiver types.
const (
	ReceiverWebhook      = "webhook"
	ReceiverEmail        = "email"
	ReceiverAlertmanager = "alertmanager"
	ReceiverMQTT         = "mqtt"
)

// Alert defaults.
const (
	DefaultAlertFor        = 2 * time.Minute
	DefaultReceiverTimeout = 10 * time.Second
)

// Alerts configures the gateway's own alerting, for sites without
// Prometheus: rules watch device, bed, unit and gateway conditions and
// notify receivers. Each notification is kept in the state store until
// its receiver took it, so a receiver outage or a restart loses none.
type Alerts struct {
	Rules     []AlertRule     `yaml:"rules"`
	Receivers []AlertReceiver `yaml:"receivers"`
	// StartGrace is how long after a start nothing fires or resolves:
	// until the first polls every device is "never seen" and every bed
	// degraded. Default 1m; keep it above the slowest device's freshness
	// window.
	StartGrace *time.Duration `yaml:"start_grace"`
}

// DefaultStartGrace is alerts.start_grace's default.
const DefaultStartGrace = time.Minute

// Grace is start_grace after defaults.
func (a *Alerts) Grace() time.Duration {
	if a == nil || a.StartGrace == nil {
		return DefaultStartGrace
	}
	return *a.StartGrace
}

// AlertRule is one condition and who hears of it.
type AlertRule struct {
	// Name identifies the rule (an id); it is the alert's name in every
	// receiver.
	Name string `yaml:"name"`
	// When is the condition: device_offline, device_fault, bed_degraded,
	// unit_below, counts_unverified or gateway_degraded.
	When string `yaml:"when"`
	// Kinds, Units, Devices and Beds narrow the rule; empty matches all.
	Kinds   []string `yaml:"kinds"`
	Units   []string `yaml:"units"`
	Devices []string `yaml:"devices"`
	Beds    []string `yaml:"beds"`
	// Sources narrows gateway_degraded to some health sources (reports,
	// influxdb, outbox, mqtt, devices, alerts, clock, state store).
	Sources []string `yaml:"sources"`
	// Below is unit_below's threshold: fire while a unit has fewer
	// equipped beds than this.
	Below int `yaml:"below"`
	// For is how long the condition must hold before the alert fires.
	// Default 2m; 0 fires at once.
	For *time.Duration `yaml:"for"`
	// Severity is critical, warning (default) or info.
	Severity string `yaml:"severity"`
	// Repeat re-sends a firing alert that nobody acknowledged this often;
	// 0 (default) sends it once.
	Repeat time.Duration `yaml:"repeat"`
	// SendResolved sends a notice when the condition ends. Default true.
	SendResolved *bool `yaml:"send_resolved"`
	// IncludeMaintenance also alerts on a device in maintenance, or a bed
	// degraded because one of its devices is in maintenance. Default
	// false: planned work does not page anyone.
	IncludeMaintenance bool `yaml:"include_maintenance"`
	// Receivers names who is notified; empty means every receiver.
	Receivers []string `yaml:"receivers"`
}

// ForDuration is the rule's for: after defaults.
func (r *AlertRule) ForDuration() time.Duration {
	if r.For == nil {
		return DefaultAlertFor
	}
	return *r.For
}

// Resolved reports whether resolve notices are sent.
func (r *AlertRule) Resolved() bool { return r.SendResolved == nil || *r.SendResolved }

// AlertReceiver is where notifications go.
type AlertReceiver struct {
	// Name identifies the receiver (an id), in rules, health and metrics.
	Name string `yaml:"name"`
	// Type is webhook, email, alertmanager or mqtt.
	Type string `yaml:"type"`
	// URL: the webhook's http(s) URL; Alertmanager's base URL
	// (http://alertmanager:9093); for email the SMTP server,
	// smtp://host:587 (STARTTLS) or smtps://host:465 (TLS from the start).
	URL string `yaml:"url"`
	// SecretFile (webhook) holds the HMAC-SHA256 key the body is signed
	// with (header X-Icugate-Signature). Required for webhooks.
	SecretFile string `yaml:"secret_file"`
	// TLS for https, smtps and STARTTLS: CA, client certificate.
	TLS *TLS `yaml:"tls"`
	// Timeout bounds one delivery attempt. Default 10s.
	Timeout time.Duration `yaml:"timeout"`

	// From and To (email) are the sender and the recipients.
	From string   `yaml:"from"`
	To   []string `yaml:"to"`
	// UsernameFile and PasswordFile (email) hold the SMTP login; without
	// them the gateway sends without AUTH.
	UsernameFile string `yaml:"username_file"`
	PasswordFile string `yaml:"password_file"`
	// StartTLS (email, smtp://) is required (default) or off. Off sends in
	// clear text and is refused with a login: use it only for a relay on
	// the same host.
	StartTLS string `yaml:"starttls"`
	// Language (email) is zh, en or both (default).
	Language string `yaml:"language"`

	// Topic (mqtt) is the topic prefix; each alert's current state is
	// published, retained, at {topic}/{alert id}. Default
	// icugate/{hospital id}/alerts. The gateway's own broker connection
	// (mqtt:) carries it.
	Topic string `yaml:"topic"`
}

// applyAlertDefaults fills receiver defaults and resolves file paths.
func applyAlertDefaults(s *Site, dir string) {
	a := s.Alerts
	if a == nil {
		return
	}
	for i := range a.Receivers {
		r := &a.Receivers[i]
		if r.Timeout == 0 {
			r.Timeout = DefaultReceiverTimeout
		}
		r.SecretFile = resolve(dir, r.SecretFile)
		r.UsernameFile = resolve(dir, r.UsernameFile)
		r.PasswordFile = resolve(dir, r.PasswordFile)
		resolveTLS(dir, r.TLS)
		switch r.Type {
		case ReceiverEmail:
			if r.StartTLS == "" {
				r.StartTLS = "required"
			}
			if r.Language == "" {
				r.Language = "both"
			}
		case ReceiverMQTT:
			if r.Topic == "" {
				r.Topic = "icugate/" + s.Hospital.ID + "/alerts"
			}
		}
	}
	for i := range a.Rules {
		if a.Rules[i].Severity == "" {
			a.Rules[i].Severity = SeverityWarning
		}
	}
}

// validateAlerts checks the alerts block against the rest of the site.
func (l *loader) validateAlerts() {
	s, d := l.site, l.d
	a := s.Alerts
	if a == nil {
		return
	}
	l.nonNegative(a.StartGrace, "alerts", "start_grace")
	receivers := map[string]bool{}
	for i := range a.Receivers {
		r := &a.Receivers[i]
		at := func(key string) int { return d.line("alerts", "receivers", i, key) }
		switch {
		case r.Name == "":
			l.at(d.line("alerts", "receivers", i), "alerts.receivers[%d] has no name", i)
		case !idPattern.MatchString(r.Name):
			l.at(at("name"), "invalid receiver name %q: %s", r.Name, idRule)
		case receivers[r.Name]:
			l.at(at("name"), "duplicate receiver name %q", r.Name)
		default:
			receivers[r.Name] = true
		}
		if r.Timeout < 0 {
			l.at(at("timeout"), "receiver %s: timeout must not be negative", r.Name)
		}
		switch r.Type {
		case ReceiverWebhook:
			if !httpURL(r.URL) {
				l.at(at("url"), "receiver %s: url %q: want the webhook's http(s) URL", r.Name, r.URL)
			}
			if r.SecretFile == "" {
				l.at(d.line("alerts", "receivers", i), "receiver %s: secret_file is required: the file holding the key the body is signed with (HMAC-SHA256)", r.Name)
			}
		case ReceiverAlertmanager:
			if !httpURL(r.URL) {
				l.at(at("url"), "receiver %s: url %q: want Alertmanager's base URL, e.g. http://alertmanager:9093", r.Name, r.URL)
			}
		case ReceiverEmail:
			l.validateEmailReceiver(i, r)
		case ReceiverMQTT:
			if s.MQTT == nil {
				l.at(at("type"), "receiver %s: type mqtt publishes on the gateway's broker connection: add an mqtt: block with the broker", r.Name)
			}
			if r.Topic == "" || strings.ContainsAny(r.Topic, "#+") || strings.HasSuffix(r.Topic, "/") {
				l.at(at("topic"), "receiver %s: topic %q: want a topic prefix without wildcards or a trailing /", r.Name, r.Topic)
			}
		case "":
			name := r.Name
			if name == "" {
				name = fmt.Sprintf("alerts.receivers[%d]", i)
			}
			l.at(d.line("alerts", "receivers", i), "receiver %s has no type: want webhook, email, alertmanager or mqtt", name)
		default:
			l.at(at("type"), "receiver %s: unknown type %q: want webhook, email, alertmanager or mqtt", r.Name, r.Type)
		}
	}
	units := map[string]bool{}
	beds := map[string]bool{}
	for _, u := range s.Units {
		units[u.ID] = true
		for _, b := range u.Beds {
			beds[b] = true
		}
	}
	devices := map[string]bool{}
	for _, dev := range s.Devices {
		devices[dev.ID] = true
	}
	names := map[string]bool{}
	for i := range a.Rules {
		r := &a.Rules[i]
		at := func(path ...any) int { return d.line(append([]any{"alerts", "rules", i}, path...)...) }
		switch {
		case r.Name == "":
			l.at(at(), "alerts.rules[%d] has no name", i)
		case !idPattern.MatchString(r.Name):
			l.at(at("name"), "invalid rule name %q: %s", r.Name, idRule)
		case names[r.Name]:
			l.at(at("name"), "duplicate rule name %q", r.Name)
		default:
			names[r.Name] = true
		}
		switch {
		case r.When == "":
			l.at(at(), "rule %s has no when: want one of %s", r.Name, strings.Join(AlertConditions, ", "))
		case !slices.Contains(AlertConditions, r.When):
			l.at(at("when"), "rule %s: unknown condition %q: want one of %s", r.Name, r.When, strings.Join(AlertConditions, ", "))
		}
		if r.When == AlertUnitBelow && r.Below <= 0 {
			l.at(at(), "rule %s: unit_below needs below: the fewest equipped beds a unit may have (more than 0)", r.Name)
		}
		if r.When != AlertUnitBelow && d.has("alerts", "rules", i, "below") {
			l.at(at("below"), "rule %s: below applies to unit_below only", r.Name)
		}
		if len(r.Sources) > 0 && r.When != AlertGatewayDegraded {
			l.at(at("sources"), "rule %s: sources applies to gateway_degraded only", r.Name)
		}
		l.nonNegative(r.For, "alerts", "rules", i, "for")
		l.nonNegative(&r.Repeat, "alerts", "rules", i, "repeat")
		switch r.Severity {
		case SeverityCritical, SeverityWarning, SeverityInfo:
		default:
			l.at(at("severity"), "rule %s: severity %q: want critical, warning or info", r.Name, r.Severity)
		}
		for j, u := range r.Units {
			if !units[u] {
				l.at(at("units", j), "rule %s: unknown unit %q", r.Name, u)
			}
		}
		for j, b := range r.Beds {
			if !beds[b] {
				l.at(at("beds", j), "rule %s: unknown bed %q", r.Name, b)
			}
		}
		for j, dv := range r.Devices {
			if !devices[dv] {
				l.at(at("devices", j), "rule %s: unknown device %q", r.Name, dv)
			}
		}
		for j, rc := range r.Receivers {
			if !receivers[rc] {
				l.at(at("receivers", j), "rule %s: unknown receiver %q", r.Name, rc)
			}
		}
	}
	if len(a.Rules) > 0 && len(a.Receivers) == 0 {
		l.at(d.line("alerts"), "alerts has rules but no receivers: nobody would hear of them (the dashboard still lists them; add a receiver)")
	}
}

func (l *loader) validateEmailReceiver(i int, r *AlertReceiver) {
	d := l.d
	at := func(key string) int { return d.line("alerts", "receivers", i, key) }
	u, err := url.Parse(r.URL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Port() == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		l.at(at("url"), "receiver %s: url %q: want smtp://host:587 (STARTTLS) or smtps://host:465, with the login in username_file/password_file", r.Name, r.URL)
	}
	if _, err := mail.ParseAddress(r.From); err != nil {
		l.at(at("from"), "receiver %s: from %q is not an e-mail address", r.Name, r.From)
	}
	if len(r.To) == 0 {
		l.at(d.line("alerts", "receivers", i), "receiver %s: to is required: the recipients' addresses", r.Name)
	}
	for j, to := range r.To {
		if _, err := mail.ParseAddress(to); err != nil {
			l.at(d.line("alerts", "receivers", i, "to", j), "receiver %s: to %q is not an e-mail address", r.Name, to)
		}
	}
	if (r.UsernameFile == "") != (r.PasswordFile == "") {
		l.at(d.line("alerts", "receivers", i), "receiver %s: set both username_file and password_file, or neither", r.Name)
	}
	switch r.StartTLS {
	case "required":
	case "off":
		if u != nil && u.Scheme == "smtp" && r.PasswordFile != "" {
			l.at(at("starttls"), "receiver %s: starttls off with a login would send the password in clear text: use STARTTLS or smtps://", r.Name)
		}
	default:
		l.at(at("starttls"), "receiver %s: starttls %q: want required or off", r.Name, r.StartTLS)
	}
	if !slices.Contains([]string{"zh", "en", "both"}, r.Language) {
		l.at(at("language"), "receiver %s: language %q: want zh, en or both", r.Name, r.Language)
	}
}

// httpURL reports whether s is an absolute http(s) URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https")
}
