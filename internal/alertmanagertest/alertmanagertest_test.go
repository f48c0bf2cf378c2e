package alertmanagertest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeTB records what Require tells a test. Like a real one, Skip and
// Fatal end the goroutine that calls them: call them through inGoroutine.
type fakeTB struct {
	testing.TB
	skipped, fatal []any
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = append(f.skipped, args...); runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any) { f.fatal = append(f.fatal, args...); runtime.Goexit() }

func inGoroutine(fn func()) {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	<-done
}

// TestRequireSkipsOrFailsUnderCI: with alertmanager missing a test is
// skipped, and under CI=true it fails, both with the install hint.
func TestRequireSkipsOrFailsUnderCI(t *testing.T) {
	t.Setenv("ICUGATE_CACHE", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{}
		bin := "not returned"
		inGoroutine(func() { bin = Require(f) })
		if bin != "not returned" {
			t.Errorf("CI=%q: Require returned %q with nothing installed", ci, bin)
		}
		got, other := f.skipped, f.fatal
		if ci == "true" {
			got, other = f.fatal, f.skipped
		}
		if len(got) != 1 || !errors.Is(got[0].(error), ErrNotInstalled) || len(other) != 0 {
			t.Errorf("CI=%q: skipped %v, failed %v; want exactly one ErrNotInstalled", ci, f.skipped, f.fatal)
		}
	}
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
