package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTemp opens a fresh store in t.TempDir and closes it at cleanup.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestEmptyStoreReadsEmpty(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	m, err := s.Maintenance()
	if err != nil || m == nil || len(m) != 0 {
		t.Errorf("Maintenance() = %v, %v; want an empty non-nil map", m, err)
	}
	a, err := s.Assignments()
	if err != nil || a == nil || len(a) != 0 {
		t.Errorf("Assignments() = %v, %v; want an empty non-nil map", a, err)
	}
	u, err := s.Usage()
	if err != nil || u == nil || len(u) != 0 {
		t.Errorf("Usage() = %v, %v; want an empty non-nil map", u, err)
	}
	if tr, err := s.AuditTrail(10); err != nil || len(tr) != 0 {
		t.Errorf("AuditTrail(10) = %v, %v; want none", tr, err)
	}
	if p, err := s.Pending("report"); err != nil || p != nil {
		t.Errorf("Pending(report) = %q, %v; want nil", p, err)
	}
}

// TestLastWriteWins checks that a second flag or assignment for a device
// replaces the first, and that SaveUsage replaces only the devices it names.
func TestLastWriteWins(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	at := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	must(t, s.SetMaintenance("vent-01", MaintenanceFlag{On: true, By: "alice", At: at}))
	must(t, s.SetMaintenance("vent-01", MaintenanceFlag{On: false, By: "bob", At: at.Add(time.Hour)}))
	must(t, s.SetAssignment("vent-02", Assignment{At: "gicu-01", By: "alice", Time: at}))
	must(t, s.SetAssignment("vent-02", Assignment{At: "central-store", By: "bob", Time: at}))
	must(t, s.SaveUsage(map[string]map[string]float64{"vent-01": {"in_use": 10}, "vent-02": {"standby": 5}}))
	must(t, s.SaveUsage(map[string]map[string]float64{"vent-01": {"in_use": 20, "fault": 1}}))

	m, _ := s.Maintenance()
	if f := m["vent-01"]; len(m) != 1 || f.On || f.By != "bob" || !f.At.Equal(at.Add(time.Hour)) {
		t.Errorf("maintenance = %+v; want only bob's clearing flag", m)
	}
	a, _ := s.Assignments()
	if len(a) != 1 || a["vent-02"].At != "central-store" {
		t.Errorf("assignments = %+v; want vent-02 at central-store", a)
	}
	u, _ := s.Usage()
	if len(u) != 2 || u["vent-01"]["in_use"] != 20 || u["vent-01"]["fault"] != 1 || u["vent-02"]["standby"] != 5 {
		t.Errorf("usage = %v; want vent-01 replaced and vent-02 kept", u)
	}
}

func TestNextSequenceCountersAreIndependent(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	steps := []struct {
		name string
		want uint64
	}{
		{"report", 1}, {"report", 2}, {"export", 1}, {"report", 3}, {"export", 2},
	}
	for _, st := range steps {
		if got, err := s.NextSequence(st.name); err != nil || got != st.want {
			t.Fatalf("NextSequence(%q) = %d, %v; want %d", st.name, got, err, st.want)
		}
	}
	// A pending value under the same name lives under another key and
	// leaves the counter alone.
	must(t, s.PutPending("report", []byte("signed")))
	if got, _ := s.NextSequence("report"); got != 4 {
		t.Errorf("NextSequence(report) after PutPending(report) = %d, want 4", got)
	}
}

// TestCorruptRecordNamesDevice stores undecodable JSON under a device and
// expects the read to fail with the device in the message.
func TestCorruptRecordNamesDevice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		bucket []byte
		read   func(*Store) error
		want   string
	}{
		{bucketMaintenance, func(s *Store) error { _, err := s.Maintenance(); return err }, "maintenance flag of vent-09"},
		{bucketAssignment, func(s *Store) error { _, err := s.Assignments(); return err }, "assignment of vent-09"},
		{bucketUsage, func(s *Store) error { _, err := s.Usage(); return err }, "usage of vent-09"},
		{bucketAudit, func(s *Store) error { _, err := s.AuditTrail(5); return err }, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(string(tt.bucket), func(t *testing.T) {
			t.Parallel()
			s := openTemp(t)
			must(t, s.db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(tt.bucket).Put([]byte("vent-09"), []byte("{not json"))
			}))
			if err := tt.read(s); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("read = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestAuditTrailOldestFirst(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	for _, a := range []string{"a1", "a2", "a3", "a4"} {
		must(t, s.Audit(AuditEntry{Who: "alice", Action: a, Result: "ok"}))
	}
	tests := []struct {
		n    int
		want string
	}{
		{0, ""}, {1, "a4"}, {2, "a3 a4"}, {4, "a1 a2 a3 a4"}, {100, "a1 a2 a3 a4"},
	}
	for _, tt := range tests {
		tr, err := s.AuditTrail(tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := actions(tr); got != tt.want {
			t.Errorf("AuditTrail(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestAuditKeepsNewestMaxAudit fills the trail to its cap in one
// transaction (100,000 Audit calls would be 100,000 fsyncs) and checks that
// each further entry evicts exactly the oldest.
func TestAuditKeepsNewestMaxAudit(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	must(t, s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		var k [8]byte
		for i := uint64(1); i <= maxAudit; i++ {
			binary.BigEndian.PutUint64(k[:], i)
			if err := b.Put(k[:], []byte(`{"action":"old"}`)); err != nil {
				return err
			}
		}
		return b.SetSequence(maxAudit)
	}))
	for _, a := range []string{"new1", "new2"} {
		must(t, s.Audit(AuditEntry{Action: a, Result: "ok"}))
	}
	var n int
	var first uint64
	must(t, s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		n = b.Stats().KeyN
		k, _ := b.Cursor().First()
		first = binary.BigEndian.Uint64(k)
		return nil
	}))
	if n != maxAudit || first != 3 {
		t.Errorf("after two entries past the cap: %d entries, oldest key %d; want %d entries from key 3", n, first, maxAudit)
	}
	tr, _ := s.AuditTrail(3)
	if got := actions(tr); got != "old new1 new2" {
		t.Errorf("AuditTrail(3) = %q, want %q", got, "old new1 new2")
	}
}

func TestPendingLifecycle(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	called := false
	must(t, s.ClearPending("report", func([]byte) bool { called = true; return true }))
	if called {
		t.Error("ClearPending asked about a value that does not exist")
	}
	must(t, s.PutPending("report", []byte("v1")))
	must(t, s.PutPending("report", []byte("v2")))
	must(t, s.PutPending("other", []byte("o1")))
	got, _ := s.Pending("report")
	if string(got) != "v2" {
		t.Fatalf("Pending(report) = %q, want v2 (replaced)", got)
	}
	got[0] = 'X' // the caller owns the copy
	if again, _ := s.Pending("report"); string(again) != "v2" {
		t.Fatalf("Pending after caller edit = %q; want v2 (a copy)", again)
	}
	// A delivery of v1 must not clear v2, which replaced it meanwhile.
	must(t, s.ClearPending("report", func(b []byte) bool { return bytes.Equal(b, []byte("v1")) }))
	if p, _ := s.Pending("report"); string(p) != "v2" {
		t.Fatalf("ClearPending of stale v1 removed %q", "v2")
	}
	must(t, s.ClearPending("report", func(b []byte) bool { return bytes.Equal(b, []byte("v2")) }))
	if p, _ := s.Pending("report"); p != nil {
		t.Errorf("Pending after clearing v2 = %q, want nil", p)
	}
	if p, _ := s.Pending("other"); string(p) != "o1" {
		t.Errorf("Pending(other) = %q; clearing report touched it", p)
	}
	// Earlier versions kept the report under "report.pending"; a file
	// they wrote must still be read.
	must(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("report.pending"), []byte("legacy"))
	}))
	if p, _ := s.Pending("report"); string(p) != "legacy" {
		t.Errorf("Pending(report) = %q, want the value under report.pending", p)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to open
		want  []string
		is    error
	}{
		{"locked by another open", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "state.db")
			s, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return p
		}, []string{"is locked", "another icugate", "same data directory"}, bolt.ErrTimeout},
		{"parent is a file", func(t *testing.T, dir string) string {
			f := filepath.Join(dir, "data")
			must(t, os.WriteFile(f, nil, 0o600))
			return filepath.Join(f, "state.db")
		}, []string{"state store", "not a directory"}, nil},
		{"path is a directory", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "state.db")
			must(t, os.Mkdir(p, 0o750))
			return p
		}, []string{"state store", "state.db"}, nil},
		{"corrupt file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "state.db")
			must(t, os.WriteFile(p, bytes.Repeat([]byte("garbage!"), 2048), 0o600))
			return p
		}, []string{"state store", "state.db", "invalid"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(tt.setup(t, t.TempDir()))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func actions(tr []AuditEntry) string {
	s := make([]string, len(tr))
	for i, e := range tr {
		s[i] = e.Action
	}
	return strings.Join(s, " ")
}
