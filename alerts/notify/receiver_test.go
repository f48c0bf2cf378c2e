package notify

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icugate/icugate/config"
)

// TestNewRefusesBrokenReceivers: every configuration New cannot work with
// is an error at New that names the receiver and, for files, the file,
// and never carries a secret.
func TestNewRefusesBrokenReceivers(t *testing.T) {
	t.Parallel()
	secret := writeFile(t, "key", "do-not-print-me\n")
	empty := writeFile(t, "empty", " \n")
	missing := filepath.Join(t.TempDir(), "nope")
	dir := t.TempDir()
	publish := func(context.Context, string, byte, bool, []byte) error { return nil }
	webhook := func(mod func(*config.AlertReceiver)) config.AlertReceiver {
		c := config.AlertReceiver{Name: "hook", Type: config.ReceiverWebhook, URL: "https://hooks.example/icu", SecretFile: secret}
		mod(&c)
		return c
	}
	email := func(mod func(*config.AlertReceiver)) config.AlertReceiver {
		c := config.AlertReceiver{Name: "mail", Type: config.ReceiverEmail, URL: "smtp://relay.example:587",
			From: "icugate@h1.example", To: []string{"nurse@h1.example"}, StartTLS: "required", Language: "both",
			UsernameFile: secret, PasswordFile: secret}
		mod(&c)
		return c
	}
	for _, c := range []struct {
		name string
		cfg  config.AlertReceiver
		deps Deps
		want []string
	}{
		{"unknown type", config.AlertReceiver{Name: "pager", Type: "pager"}, Deps{},
			[]string{"receiver pager:", `unknown type "pager"`, "webhook, email, alertmanager or mqtt"}},
		{"webhook without secret_file", webhook(func(c *config.AlertReceiver) { c.SecretFile = "" }), Deps{},
			[]string{"receiver hook:", "secret_file is required"}},
		{"webhook secret_file missing", webhook(func(c *config.AlertReceiver) { c.SecretFile = missing }), Deps{},
			[]string{"receiver hook:", "secret_file " + missing + " does not exist"}},
		{"webhook secret_file empty", webhook(func(c *config.AlertReceiver) { c.SecretFile = empty }), Deps{},
			[]string{"receiver hook:", "secret_file " + empty + " is empty"}},
		{"webhook secret_file a directory", webhook(func(c *config.AlertReceiver) { c.SecretFile = dir }), Deps{},
			[]string{"receiver hook:", "secret_file:", dir}},
		{"webhook url not http", webhook(func(c *config.AlertReceiver) { c.URL = "ftp://hooks.example/" }), Deps{},
			[]string{"receiver hook:", `url "ftp://hooks.example/"`}},
		{"webhook url password redacted", webhook(func(c *config.AlertReceiver) { c.URL = "gopher://u:pw-in-url@x/" }), Deps{},
			[]string{"receiver hook:", "xxxxx"}},
		{"webhook ca_file missing", webhook(func(c *config.AlertReceiver) { c.TLS = &config.TLS{CAFile: missing} }), Deps{},
			[]string{"receiver hook", "ca_file", missing}},
		{"alertmanager url", config.AlertReceiver{Name: "am", Type: config.ReceiverAlertmanager, URL: "alertmanager:9093"}, Deps{},
			[]string{"receiver am:", "url"}},
		{"email url", email(func(c *config.AlertReceiver) { c.URL = "http://relay.example" }), Deps{},
			[]string{"receiver mail:", "smtp://host:587"}},
		{"email password_file missing", email(func(c *config.AlertReceiver) { c.PasswordFile = missing }), Deps{},
			[]string{"receiver mail:", "password_file " + missing + " does not exist"}},
		{"email from", email(func(c *config.AlertReceiver) { c.From = "not an address" }), Deps{},
			[]string{"receiver mail:", `from "not an address"`}},
		{"email without recipients", email(func(c *config.AlertReceiver) { c.To = nil }), Deps{},
			[]string{"receiver mail:", "to is required"}},
		{"email login in clear text", email(func(c *config.AlertReceiver) { c.StartTLS = "off" }), Deps{},
			[]string{"receiver mail:", "clear text"}},
		{"email language", email(func(c *config.AlertReceiver) { c.Language = "fr" }), Deps{},
			[]string{"receiver mail:", `language "fr"`}},
		{"mqtt without a broker connection", config.AlertReceiver{Name: "bus", Type: config.ReceiverMQTT, Topic: "icugate/h1/alerts"}, Deps{},
			[]string{"receiver bus:", "mqtt: block"}},
		{"mqtt topic wildcard", config.AlertReceiver{Name: "bus", Type: config.ReceiverMQTT, Topic: "icugate/#"}, Deps{Publish: publish},
			[]string{"receiver bus:", `topic "icugate/#"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(c.cfg, c.deps)
			if err == nil {
				t.Fatalf("New accepted it: %T", r)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, secret := range []string{"do-not-print-me", "pw-in-url"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error carries a secret: %q", err)
				}
			}
		})
	}
}

// TestNewBuildsEachType: each type builds with its name, and only
// Alertmanager restates.
func TestNewBuildsEachType(t *testing.T) {
	t.Parallel()
	secret := writeFile(t, "key", "k")
	publish := func(context.Context, string, byte, bool, []byte) error { return nil }
	for _, c := range []struct {
		cfg     config.AlertReceiver
		restate bool
	}{
		{config.AlertReceiver{Name: "hook", Type: config.ReceiverWebhook, URL: "http://127.0.0.1:1/x", SecretFile: secret}, false},
		{config.AlertReceiver{Name: "mail", Type: config.ReceiverEmail, URL: "smtps://127.0.0.1:465", From: "a@b.example", To: []string{"c@d.example"}}, false},
		{config.AlertReceiver{Name: "am", Type: config.ReceiverAlertmanager, URL: "http://127.0.0.1:9093/"}, true},
		{config.AlertReceiver{Name: "bus", Type: config.ReceiverMQTT, Topic: "icugate/h1/alerts"}, false},
	} {
		r, err := New(c.cfg, Deps{Publish: publish})
		if err != nil {
			t.Errorf("%s: %v", c.cfg.Type, err)
			continue
		}
		if r.Name() != c.cfg.Name {
			t.Errorf("%s: Name %q, want %q", c.cfg.Type, r.Name(), c.cfg.Name)
		}
		if _, ok := r.(Restater); ok != c.restate {
			t.Errorf("%s: Restater %v, want %v", c.cfg.Type, ok, c.restate)
		}
	}
}
