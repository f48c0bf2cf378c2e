package config

import (
	"testing"
	"time"
)

// TestAlertRules covers validateAlerts: each mistake in an alerts block is
// reported at its line with what to write instead.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	hook := "    - {name: hook, type: webhook, url: \"https://biomed.example/hook\", secret_file: hmac.key}\n"
	runSiteCases(t, []siteCase{
		{name: "unknown receiver type", site: minimalSite + "alerts:\n  receivers:\n    - {name: pager, type: pager}\n",
			want: []problem{{"", 8, `receiver pager: unknown type "pager": want webhook, email, alertmanager or mqtt`}}},
		{name: "receiver without type or name", site: minimalSite + "alerts:\n  receivers:\n    - {url: \"http://x\"}\n",
			want: []problem{{"", 8, "alerts.receivers[0] has no name"}, {"", 8, "receiver alerts.receivers[0] has no type: want webhook, email, alertmanager or mqtt"}}},
		{name: "duplicate receiver", site: minimalSite + "alerts:\n  receivers:\n" + hook + hook,
			want: []problem{{"", 9, `duplicate receiver name "hook"`}}},
		{name: "webhook without secret, bad url", site: minimalSite + "alerts:\n  receivers:\n    - name: hook\n      type: webhook\n      url: ftp://x\n",
			want: []problem{{"", 10, `receiver hook: url "ftp://x": want the webhook's http(s) URL`},
				{"", 8, "receiver hook: secret_file is required: the file holding the key the body is signed with (HMAC-SHA256)"}}},
		{name: "bad SMTP URL", site: minimalSite + "alerts:\n  receivers:\n    - name: mail\n      type: email\n      url: \"mail.hospital:25\"\n      from: icugate@hospital.example\n      to: [biomed@hospital.example]\n",
			want: []problem{{"", 10, `receiver mail: url "mail.hospital:25": want smtp://host:587 (STARTTLS) or smtps://host:465, with the login in username_file/password_file`}}},
		{name: "SMTP URL with password, bad addresses", site: minimalSite + "alerts:\n  receivers:\n    - name: mail\n      type: email\n      url: \"smtp://u:p@mail:587\"\n      from: nobody\n      to: [\"a@b.example\", \"not an address\"]\n      language: fr\n",
			want: []problem{{"", 10, `receiver mail: url "smtp://u:p@mail:587": want smtp://host:587 (STARTTLS) or smtps://host:465, with the login in username_file/password_file`},
				{"", 11, `receiver mail: from "nobody" is not an e-mail address`},
				{"", 12, `receiver mail: to "not an address" is not an e-mail address`},
				{"", 13, `receiver mail: language "fr": want zh, en or both`}}},
		{name: "clear-text login refused", site: minimalSite + "alerts:\n  receivers:\n    - {name: mail, type: email, url: \"smtp://mail:25\", from: a@b.example, to: [c@d.example], starttls: \"off\", username_file: u, password_file: p}\n",
			want: []problem{{"", 8, "receiver mail: starttls off with a login would send the password in clear text: use STARTTLS or smtps://"}}},
		{name: "mqtt receiver without broker", site: minimalSite + "alerts:\n  receivers:\n    - {name: bus, type: mqtt}\n",
			want: []problem{{"", 8, "receiver bus: type mqtt publishes on the gateway's broker connection: add an mqtt: block with the broker"}}},
		{name: "rule mistakes", site: minimalSite + "alerts:\n  receivers:\n" + hook + "  rules:\n    - name: r1\n      when: device_down\n      units: [icu9]\n      beds: [b9]\n      devices: [v9]\n      severity: high\n      receivers: [pager]\n      for: -1m\n",
			want: []problem{{"", 11, `rule r1: unknown condition "device_down": want one of device_offline, device_fault, bed_degraded, unit_below, counts_unverified, gateway_degraded`},
				{"", 12, `rule r1: unknown unit "icu9"`}, {"", 13, `rule r1: unknown bed "b9"`}, {"", 14, `rule r1: unknown device "v9"`},
				{"", 15, `rule r1: severity "high": want critical, warning or info`}, {"", 16, `rule r1: unknown receiver "pager"`},
				{"", 17, "alerts.rules[0].for must not be negative (got -1m0s)"}}},
		{name: "unit_below without below, below elsewhere", site: minimalSite + "alerts:\n  receivers:\n" + hook + "  rules:\n    - {name: low, when: unit_below}\n    - {name: off, when: device_offline, below: 2, sources: [influxdb]}\n",
			want: []problem{{"", 10, "rule low: unit_below needs below: the fewest equipped beds a unit may have (more than 0)"},
				{"", 11, "rule off: below applies to unit_below only"}, {"", 11, "rule off: sources applies to gateway_degraded only"}}},
		{name: "pm_due not a date", site: "hospital: {id: h1, level: tertiary, total_beds: 100}\nunits: [{id: icu1, class: general, beds: [b1]}]\ndevices:\n  - {id: m1, profile: mon, at: b1, pm_due: 31/03/2027, modbus: {address: \"10.0.0.1:502\"}}\n  - {id: v1, profile: vent, at: b1, pm_due: 2027-03-31, modbus: {address: \"10.0.0.1:502\", unit_id: 2}}\n",
			want: []problem{{"", 4, `device m1: pm_due "31/03/2027": want a date such as 2027-03-31`}}},
		{name: "rules without receivers", site: minimalSite + "alerts:\n  rules:\n    - {name: off, when: device_offline}\n",
			want: []problem{{"", 7, "alerts has rules but no receivers: nobody would hear of them (the dashboard still lists them; add a receiver)"}}},
	})
}

// TestAlertsAccepted: a full alerts block loads with its defaults.
func TestAlertsAccepted(t *testing.T) {
	t.Parallel()
	site := loadClean(t, minimalSite+`mqtt: {broker: tcp://127.0.0.1:1883}
alerts:
  receivers:
    - {name: hook, type: webhook, url: "https://biomed.example/hook", secret_file: hmac.key}
    - {name: mail, type: email, url: "smtps://mail.hospital.example:465", from: "icugate <icugate@hospital.example>", to: [biomed@hospital.example], username_file: u, password_file: p, language: zh}
    - {name: am, type: alertmanager, url: "http://127.0.0.1:9093"}
    - {name: bus, type: mqtt}
  rules:
    - {name: vent-offline, when: device_offline, kinds: [ventilator], for: 5m, severity: critical, repeat: 1h}
    - {name: low, when: unit_below, units: [icu1], below: 1, receivers: [mail], send_resolved: false}
    - {name: gw, when: gateway_degraded, sources: [influxdb, reports], for: 0s}
`)
	a := site.Alerts
	if a == nil || len(a.Rules) != 3 || len(a.Receivers) != 4 {
		t.Fatalf("alerts = %+v", a)
	}
	if r := a.Receivers[0]; r.Timeout != DefaultReceiverTimeout || r.SecretFile == "hmac.key" {
		t.Errorf("webhook defaults: timeout %s, secret_file %q (want resolved against the site dir)", r.Timeout, r.SecretFile)
	}
	if r := a.Receivers[1]; r.StartTLS != "required" || r.Language != "zh" {
		t.Errorf("email defaults: %+v", r)
	}
	if r := a.Receivers[3]; r.Topic != "icugate/h1/alerts" {
		t.Errorf("mqtt topic default = %q", r.Topic)
	}
	if r := a.Rules[0]; r.ForDuration() != 5*time.Minute || r.Severity != SeverityCritical || !r.Resolved() {
		t.Errorf("rule 0: %+v", r)
	}
	if r := a.Rules[1]; r.Severity != SeverityWarning || r.ForDuration() != DefaultAlertFor || r.Resolved() {
		t.Errorf("rule 1 defaults: %+v", r)
	}
	if r := a.Rules[2]; r.ForDuration() != 0 {
		t.Errorf("for: 0s = %s", r.ForDuration())
	}
}
