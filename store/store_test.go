package store

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
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

	s, err = Open(path)
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
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("second open of the same state file succeeded; want a lock error")
	}
}

// TestNextSequenceRefusesDamagedCounter: a counter that is not 8 bytes is an
// error, never a restart at 1 (the region rejects reused sequence numbers).
func TestNextSequenceRefusesDamagedCounter(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.NextSequence("report"); err != nil || n != 1 {
		t.Fatalf("first sequence = %d, %v", n, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte("report"), []byte{1, 2, 3}) })
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.NextSequence("report"); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged counter: got %d, %v; want an error", n, err)
	}
}
