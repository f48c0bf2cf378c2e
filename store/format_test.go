package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openFixture copies testdata/name into a temporary directory and opens
// it with the current code.
func openFixture(t *testing.T, name string) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	copyFile(t, filepath.Join("testdata", name), path)
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(to, b, 0o600))
}

func storedFormat(t *testing.T, s *Store) int {
	t.Helper()
	var f int
	must(t, s.db.View(func(tx *bolt.Tx) (err error) { f, err = readFormat(tx); return err }))
	return f
}

func TestMigrationsAreComplete(t *testing.T) {
	t.Parallel()
	for n, m := range migrations {
		if m == nil {
			t.Errorf("no migration from format %d to %d", n, n+1)
		}
	}
}

// TestMigrateFormat0 opens the databases written by the versions before
// formats were numbered (testdata/fixturegen_*_test.go.txt wrote them) and
// checks every record they hold, and the two steps of migrate0to1.
func TestMigrateFormat0(t *testing.T) {
	t.Parallel()
	t.Run("head", func(t *testing.T) {
		t.Parallel()
		s, _ := openFixture(t, "state-format0.db")
		if f := storedFormat(t, s); f != Format {
			t.Errorf("format after open = %d, want %d", f, Format)
		}
		if from, ok := s.MigratedFrom(); !ok || from != 0 {
			t.Errorf("MigratedFrom = %d, %v; want 0, true", from, ok)
		}
		at := time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)
		back := at.Add(72 * time.Hour)
		m, err := s.Maintenance()
		must(t, err)
		want := map[string]MaintenanceFlag{
			"vent-01": {On: true, By: "biomed", At: at, Reason: "annual PM", Ticket: "CMMS-4711", ExpectedReturn: &back},
			"vent-02": {On: false, By: "it-admin", At: at.Add(2 * time.Hour)},
			"mon-07":  {On: true, By: "nurse-lead", At: at.Add(time.Hour)},
		}
		if !reflect.DeepEqual(normalise(m), normalise(want)) {
			t.Errorf("maintenance = %+v\nwant %+v", m, want)
		}
		wo, err := s.WorkOrders("vent-02", 10)
		must(t, err)
		if len(wo) != 1 || wo[0].End == nil || !wo[0].End.Equal(at.Add(2*time.Hour)) || wo[0].EndedBy != "it-admin" {
			t.Errorf("work orders of vent-02 = %+v; want one, closed by it-admin", wo)
		}
		for _, dev := range []string{"vent-01", "mon-07"} {
			wo, err := s.WorkOrders(dev, 10)
			must(t, err)
			if len(wo) != 1 || wo[0].End != nil {
				t.Errorf("work orders of %s = %+v; want the one open order (no second one from the migration)", dev, wo)
			}
		}
		a, err := s.Assignments()
		must(t, err)
		if !reflect.DeepEqual(a, map[string]Assignment{"vent-02": {At: "cicu-03", By: "biomed", Time: at.Add(3 * time.Hour)}}) {
			t.Errorf("assignments = %+v", a)
		}
		u, err := s.Usage()
		must(t, err)
		if !reflect.DeepEqual(u, map[string]map[string]float64{"vent-01": {"in_use": 86400, "standby": 3600.5}, "mon-07": {"offline": 120}}) {
			t.Errorf("usage = %v", u)
		}
		var days []DayUsage
		must(t, s.UsageDays("2026-01-01", "2026-12-31", nil, func(d DayUsage) error { days = append(days, d); return nil }))
		wantDays := []DayUsage{
			{Day: "2026-11-01", Device: "vent-01", Unit: "cicu", Kind: "ventilator", InUse: 80000, Standby: 6400},
			{Day: "2026-11-02", Device: "vent-01", Unit: "cicu", Kind: "ventilator", InUse: 6400, Maintenance: 1000.25},
			{Day: "2026-11-02", Device: "vent-02", Unit: "", Kind: "ventilator", Standby: 43200},
		}
		if !reflect.DeepEqual(days, wantDays) {
			t.Errorf("daily usage = %+v\nwant %+v", days, wantDays)
		}
		checkSequence(t, s, "report", 4)
		checkSequence(t, s, "export", 2)
		if p, _ := s.Pending("report"); string(p) != `{"sequence":3,"signed":"fixture"}` {
			t.Errorf("pending report = %q", p)
		}
		trail, err := s.FindAudit(AuditFilter{})
		must(t, err)
		if len(trail) != 3 || trail[0].Action != "reload" || trail[0].Status != 202 || trail[0].Detail != "detail reload" ||
			trail[2].Remote != "10.0.0.7:50122" || trail[2].Device != "vent-01" || trail[2].Status != 200 {
			t.Errorf("audit trail = %+v", trail)
		}
		firing, err := s.FiringAlerts()
		must(t, err)
		if len(firing) != 2 || string(firing["fault/mon-07"]) != `{"state":"firing"}` {
			t.Errorf("firing alerts = %q", firing)
		}
		q, err := s.QueueHead("webhook-biomed", 10)
		must(t, err)
		if len(q) != 1 || q[0].Seq != 2 || string(q[0].Data) != "n2" {
			t.Errorf("webhook queue = %+v; want n2 (n1 was delivered)", q)
		}
		if q, _ := s.QueueHead("email-it", 10); len(q) != 1 || string(q[0].Data) != "e1" {
			t.Errorf("email queue = %+v", q)
		}
		if h, _ := s.AlertHistory(10); len(h) != 2 || string(h[0]) != "h2" || string(h[1]) != "h1" {
			t.Errorf("alert history = %q", h)
		}
	})
	t.Run("before work orders", func(t *testing.T) {
		t.Parallel()
		s, path := openFixture(t, "state-format0-early.db")
		at := time.Date(2026, 10, 20, 14, 0, 0, 0, time.UTC)
		m, err := s.Maintenance()
		must(t, err)
		if !reflect.DeepEqual(normalise(m), normalise(map[string]MaintenanceFlag{
			"vent-01": {On: true, By: "biomed", At: at}, "vent-02": {On: false, By: "biomed", At: at.Add(time.Hour)},
		})) {
			t.Errorf("maintenance = %+v", m)
		}
		// The flag that is on got its open work order; the one that is
		// off, none.
		wo, err := s.WorkOrders("vent-01", 10)
		must(t, err)
		if len(wo) != 1 || wo[0].End != nil || wo[0].By != "biomed" || !wo[0].Start.Equal(at) || wo[0].Device != "vent-01" {
			t.Errorf("work orders of vent-01 = %+v; want one open since the flag's time", wo)
		}
		if wo, _ := s.WorkOrders("vent-02", 10); len(wo) != 0 {
			t.Errorf("work orders of vent-02 = %+v; want none", wo)
		}
		// ... which turning the flag off now closes.
		must(t, s.SetMaintenance("vent-01", MaintenanceFlag{On: false, By: "it-admin", At: at.Add(5 * time.Hour)}))
		if wo, _ := s.WorkOrders("vent-01", 10); len(wo) != 1 || wo[0].End == nil || wo[0].EndedBy != "it-admin" {
			t.Errorf("after turning vent-01 off: %+v; want its order closed", wo)
		}
		trail, err := s.AuditTrail(10)
		must(t, err)
		want := []struct {
			detail string
			status int
		}{{"on=true", 200}, {"to=nowhere", 404}, {"", 200}}
		if len(trail) != len(want) {
			t.Fatalf("audit trail = %+v", trail)
		}
		for i, w := range want {
			if trail[i].Detail != w.detail || trail[i].Status != w.status {
				t.Errorf("audit entry %d: detail %q status %d; want %q %d", i, trail[i].Detail, trail[i].Status, w.detail, w.status)
			}
		}
		if a, _ := s.Assignments(); a["pump-04"].At != "central-store" {
			t.Errorf("assignments = %+v", a)
		}
		if u, _ := s.Usage(); u["vent-01"]["in_use"] != 7200 || u["vent-01"]["maintenance"] != 60 {
			t.Errorf("usage = %v", u)
		}
		checkSequence(t, s, "report", 3)
		if p, _ := s.Pending("report"); string(p) != `{"sequence":2,"signed":"early"}` {
			t.Errorf("pending report = %q", p)
		}
		if q, _ := s.QueueHead("webhook-biomed", 10); len(q) != 1 || string(q[0].Data) != "n1" {
			t.Errorf("webhook queue = %+v", q)
		}
		// A second open finds format 1 and changes nothing more.
		must(t, s.Close())
		s2, err := Open(path)
		must(t, err)
		defer s2.Close()
		if wo, _ := s2.WorkOrders("vent-01", 10); len(wo) != 1 {
			t.Errorf("second open: work orders of vent-01 = %+v; want still one", wo)
		}
	})
}

// normalise drops the monotonic clock and location so flags compare.
func normalise(m map[string]MaintenanceFlag) map[string]MaintenanceFlag {
	out := map[string]MaintenanceFlag{}
	for k, f := range m {
		f.At = f.At.UTC()
		if f.ExpectedReturn != nil {
			r := f.ExpectedReturn.UTC()
			f.ExpectedReturn = &r
		}
		out[k] = f
	}
	return out
}

func checkSequence(t *testing.T, s *Store, name string, want uint64) {
	t.Helper()
	if n, err := s.NextSequence(name); err != nil || n != want {
		t.Errorf("NextSequence(%s) = %d, %v; want %d (counters survive)", name, n, err, want)
	}
}

// setFormat stamps a format into a closed database, as a newer icugate
// would.
func setFormat(t *testing.T, path string, f uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], f)
		return tx.Bucket(bucketMeta).Put(formatKey, v[:])
	}))
	must(t, db.Close())
}

// TestNewerFormatRefused: a database of a newer format is refused with a
// message that says what to do, and not a byte of it changes (nor its
// modification time).
func TestNewerFormatRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	must(t, err)
	must(t, s.SetAssignment("vent-01", Assignment{At: "cicu-01", By: "biomed"}))
	must(t, s.Close())
	setFormat(t, path, Format+2)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	must(t, os.Chtimes(path, old, old))
	before, err := os.ReadFile(path)
	must(t, err)

	_, err = Open(path)
	if !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("Open = %v; want ErrNewerFormat", err)
	}
	for _, w := range []string{path, "newer icugate", "format 3", "knows up to 1", "upgrade icugate", "icugate restore", "nothing was changed"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	after, err := os.ReadFile(path)
	must(t, err)
	fi, err := os.Stat(path)
	must(t, err)
	if !bytes.Equal(before, after) || !fi.ModTime().Equal(old) {
		t.Errorf("refused open changed the file (bytes equal %v, mtime %v, was %v)", bytes.Equal(before, after), fi.ModTime(), old)
	}
	if _, err := Snapshot(path, new(bytes.Buffer)); err != nil {
		t.Errorf("Snapshot of a newer format: %v; want the copy (the caller decides)", err)
	}
}

func TestDamagedFormatKeyRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	must(t, err)
	must(t, s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(formatKey, []byte{1}) }))
	must(t, s.Close())
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "format key is damaged") {
		t.Errorf("Open = %v; want the damaged format key named", err)
	}
}

func TestNewStoreIsCurrent(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	if f := storedFormat(t, s); f != Format {
		t.Errorf("format of a new store = %d, want %d", f, Format)
	}
	if from, ok := s.MigratedFrom(); ok {
		t.Errorf("a new store reports a migration from format %d", from)
	}
}

func TestSequenceCannotTakeTheFormatKey(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	if _, err := s.NextSequence("format"); err == nil {
		t.Error("NextSequence(format) succeeded; it would change the store's format")
	}
	if f := storedFormat(t, s); f != Format {
		t.Errorf("format = %d after NextSequence(format)", f)
	}
}
