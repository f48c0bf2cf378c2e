// Package prometheus holds the shipped Prometheus alerting rules
// (icugate.rules.yml). Its test checks them with promtool and runs their
// unit tests (icugate.rules.test.yml), one case per rule.
package prometheus

import (
	"os"
	"os/exec"
	"testing"

	"go.yaml.in/yaml/v3"
)

// promtool finds the promtool binary that scripts/install-promtool.sh puts
// in the tool cache; under CI=true a missing one fails the test.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("promtool not found on PATH: run scripts/install-promtool.sh (the test command does)")
	}
	t.Skip("promtool not found; run scripts/install-promtool.sh")
	return ""
}

func TestRulesCheck(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(promtool(t), "check", "rules", "icugate.rules.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestRulesUnitTests(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(promtool(t), "test", "rules", "icugate.rules.test.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestEveryRuleHasACase: each alert in the rules file is named by at least
// one alert_rule_test, so a new rule cannot ship untested.
func TestEveryRuleHasACase(t *testing.T) {
	t.Parallel()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string      `yaml:"alertname"`
				ExpAlerts []yaml.Node `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	read := func(name string, v any) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	read("icugate.rules.yml", &rules)
	read("icugate.rules.test.yml", &tests)
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if !fires[r.Alert] {
				t.Errorf("rule %s has no test case in which it fires", r.Alert)
			}
		}
	}
	if n < 10 {
		t.Fatalf("read %d rules; the file has more", n)
	}
}
