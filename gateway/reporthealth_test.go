package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/report"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestUnreadableReportKeyIsDegraded: a signing key with unsafe permissions
// leaves reports configured but off; /readyz (Degraded) says so with the
// file, instead of one log line. Once the key is fixed, a reload turns
// reports on and the reason goes.
func TestUnreadableReportKeyIsDegraded(t *testing.T) {
	broker := mosquittotest.Start(t, mosquittotest.Config{})
	keyDir := t.TempDir()
	if _, err := report.GenerateKeyFiles(keyDir); err != nil {
		t.Fatal(err)
	}
	privFile := filepath.Join(keyDir, report.PrivateKeyFile)
	if err := os.Chmod(privFile, 0o644); err != nil {
		t.Fatal(err)
	}
	site, path := testSite(t, "\nmqtt:\n  broker: "+broker.URL()+"\n  client_id: icugate-keyhealth-test\nreport:\n  key_file: "+privFile+"\n  interval: 2s\n")
	g, _ := startGateway(t, site, path, t.TempDir())

	reason := func() string {
		for _, r := range g.Degraded() {
			if strings.HasPrefix(r, "reports: ") {
				return r
			}
		}
		return ""
	}
	eventually(t, 10*time.Second, "a reports reason in Degraded", func() (bool, string) {
		r := reason()
		return strings.Contains(r, "configured but off") && strings.Contains(r, privFile), strings.Join(g.Degraded(), "; ")
	})

	if v := gaugeValue(t, g.m.reportsOn); v != 0 {
		t.Errorf("icugate_reports_enabled = %v while the key is unusable, want 0", v)
	}
	if err := os.Chmod(privFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	eventually(t, 10*time.Second, "the reports reason cleared", func() (bool, string) {
		return reason() == "" && gaugeValue(t, g.m.reportsOn) == 1, strings.Join(g.Degraded(), "; ")
	})
}

func gaugeValue(t *testing.T, c prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func TestUndeliveredAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ interval, want time.Duration }{
		{2 * time.Second, time.Minute},
		{time.Minute, 3 * time.Minute},
		{5 * time.Minute, 15 * time.Minute},
	} {
		if got := undeliveredAfter(tc.interval); got != tc.want {
			t.Errorf("undeliveredAfter(%v) = %v, want %v", tc.interval, got, tc.want)
		}
	}
}
