package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	if err := s.SetMaintenance("vent-01", MaintenanceFlag{On: true, By: "alice", At: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAssignment("vent-02", Assignment{At: "cicu-03", By: "bob", Time: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveUsage(map[string]map[string]float64{"vent-01": {"in_use": 3600}}); err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		got, err := s.NextSequence("report")
		if err != nil || got != want {
			t.Fatalf("NextSequence = %d, %v; want %d", got, err, want)
		}
	}
	for _, a := range []string{"maintenance", "move"} {
		if err := s.Audit(AuditEntry{Time: at, Who: "alice", Action: a, Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, _ := s.Maintenance()
	if f := m["vent-01"]; !f.On || f.By != "alice" || !f.At.Equal(at) {
		t.Errorf("maintenance after reopen = %+v", f)
	}
	a, _ := s.Assignments()
	if a["vent-02"].At != "cicu-03" {
		t.Errorf("assignment after reopen = %+v", a["vent-02"])
	}
	u, _ := s.Usage()
	if u["vent-01"]["in_use"] != 3600 {
		t.Errorf("usage after reopen = %v", u)
	}
	if got, _ := s.NextSequence("report"); got != 4 {
		t.Errorf("sequence after reopen = %d, want 4 (must only grow)", got)
	}
	trail, _ := s.AuditTrail(10)
	if len(trail) != 2 || trail[0].Action != "maintenance" || trail[1].Action != "move" {
		t.Errorf("audit trail = %+v", trail)
	}
}

func TestStoreLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := OpenStore(path); err == nil {
		t.Fatal("second open of the same state file succeeded; want a lock error")
	}
}

func TestAPITokens(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "tokens")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noEnv := func(string) string { return "" }
	toks, err := apiTokens(write("# biomed team\nbiomed 0123456789abcdef:with=colon\n\nffffffffffffffffffff\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 || toks[0].Name != "biomed" || toks[0].Secret != "0123456789abcdef:with=colon" || toks[1].Name != "token" {
		t.Errorf("tokens = %+v", toks)
	}
	if _, err := apiTokens(write("short\n"), noEnv); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("short token: err = %v, want a file:line error", err)
	}
	if _, err := apiTokens(write("ok 0123456789abcdef0\na b c\n"), noEnv); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("three fields: err = %v, want a file:line error", err)
	}
	toks, err = apiTokens("", func(k string) string {
		if k == "ICUGATE_API_TOKEN" {
			return "0123456789abcdef0123"
		}
		return ""
	})
	if err != nil || len(toks) != 1 {
		t.Errorf("env token: %+v, %v", toks, err)
	}
	if toks, _ := apiTokens("", noEnv); toks != nil {
		t.Errorf("no token configured: %+v", toks)
	}
}
