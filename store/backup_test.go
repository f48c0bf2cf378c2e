package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestBackupWhileWriting copies a store that a writer changes all the
// while: each copy opens, passes bbolt's check, and is consistent (the
// totals and the daily record that one transaction writes together agree).
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ctx.Err() == nil; i++ {
			v := float64(i)
			err := s.SaveUsageDays(map[string]map[string]float64{"vent-01": {"in_use": v}},
				[]DayUsage{{Day: "2026-11-02", Device: "vent-01", Unit: "cicu", Kind: "ventilator", InUse: v}})
			if err == nil {
				err = s.Audit(AuditEntry{Action: fmt.Sprint(i), Result: "ok"})
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	dir := t.TempDir()
	for k := range 5 {
		var buf bytes.Buffer
		var told int64
		n, err := s.Backup(&buf, func(n int64) error { told = n; return nil })
		if err != nil || n != told || int64(buf.Len()) != n {
			t.Fatalf("Backup = %d, %v; told %d, wrote %d", n, err, told, buf.Len())
		}
		path := filepath.Join(dir, fmt.Sprintf("copy%d.db", k))
		must(t, os.WriteFile(path, buf.Bytes(), 0o600))
		if f, err := Verify(path); err != nil || f != Format {
			t.Fatalf("Verify(copy %d) = %d, %v", k, f, err)
		}
		c, err := Open(path)
		must(t, err)
		u, err := c.Usage()
		must(t, err)
		var day float64
		must(t, c.UsageDays("2026-11-02", "2026-11-02", nil, func(d DayUsage) error { day = d.InUse; return nil }))
		if u["vent-01"]["in_use"] != day {
			t.Errorf("copy %d: total %v but day %v: not one transaction's state", k, u["vent-01"]["in_use"], day)
		}
		must(t, c.Close())
	}
	stop()
	wg.Wait()
}

func TestBackupSizeErrorStops(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	var buf bytes.Buffer
	boom := errors.New("client gone")
	if _, err := s.Backup(&buf, func(int64) error { return boom }); !errors.Is(err, boom) || buf.Len() != 0 {
		t.Errorf("Backup = %v with %d bytes written; want the size callback's error and nothing", err, buf.Len())
	}
}

// TestSnapshotOfStoppedStore copies a store no gateway holds, without
// migrating it, and refuses one a gateway holds.
func TestSnapshotOfStoppedStore(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	copyFile(t, filepath.Join("testdata", "state-format0.db"), path)
	before, _ := os.ReadFile(path)
	var buf bytes.Buffer
	f, err := Snapshot(path, &buf)
	if err != nil || f != 0 {
		t.Fatalf("Snapshot = %d, %v; want format 0, as it is", f, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Snapshot changed the database")
	}
	s, err := Open(path)
	must(t, err)
	defer s.Close()
	if _, err := Snapshot(path, &buf); !errors.Is(err, ErrInUse) {
		t.Errorf("Snapshot of an open store = %v; want ErrInUse", err)
	}
	if _, err := Snapshot(filepath.Join(t.TempDir(), "none.db"), &buf); err == nil {
		t.Error("Snapshot of a missing file succeeded")
	}
}

func TestVerifyRefusesDamage(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	for i := range 200 {
		must(t, s.SetAssignment(fmt.Sprintf("dev-%03d", i), Assignment{At: strings.Repeat("x", 100)}))
	}
	var buf bytes.Buffer
	_, err := s.Backup(&buf, nil)
	must(t, err)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	must(t, os.WriteFile(good, buf.Bytes(), 0o600))
	if _, err := Verify(good); err != nil {
		t.Fatalf("Verify(good copy) = %v", err)
	}
	// A page in the middle overwritten: the file still opens (its meta
	// pages are whole) but the check finds the damage.
	b := bytes.Clone(buf.Bytes())
	copy(b[4*4096:], bytes.Repeat([]byte{0xAB}, 4096))
	bad := filepath.Join(dir, "bad.db")
	must(t, os.WriteFile(bad, b, 0o600))
	if _, err := Verify(bad); err == nil || !strings.Contains(err.Error(), "not a usable state.db") {
		t.Errorf("Verify(damaged) = %v; want an error", err)
	}
	trunc := filepath.Join(dir, "cut.db")
	must(t, os.WriteFile(trunc, buf.Bytes()[:4096], 0o600))
	if _, err := Verify(trunc); err == nil {
		t.Error("Verify(cut short) succeeded")
	}
}

// TestInstall puts a copy in place of a store: refused while the store is
// open (the lock a running gateway holds), then done with the replaced
// file kept, and refused again while that kept file is there.
func TestInstall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(path)
	must(t, err)
	must(t, s.SetAssignment("vent-01", Assignment{At: "live"}))

	// The copy to install: a store with another assignment.
	other := openTemp(t)
	must(t, other.SetAssignment("vent-01", Assignment{At: "restored"}))
	var buf bytes.Buffer
	_, err = other.Backup(&buf, nil)
	must(t, err)
	src := filepath.Join(dir, "state.db.restore")
	must(t, os.WriteFile(src, buf.Bytes(), 0o600))

	if err := Install(path, src); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("Install while open = %v; want ErrInUse saying to stop the gateway", err)
	}
	if _, err := os.Stat(path + BeforeRestore); !os.IsNotExist(err) {
		t.Errorf("refused Install left %s (%v)", path+BeforeRestore, err)
	}
	if a, _ := s.Assignments(); a["vent-01"].At != "live" {
		t.Errorf("refused Install changed the live store: %+v", a)
	}
	must(t, s.Close())

	must(t, Install(path, src))
	s, err = Open(path)
	must(t, err)
	if a, _ := s.Assignments(); a["vent-01"].At != "restored" {
		t.Errorf("after Install: %+v; want the restored assignment", a)
	}
	must(t, s.Close())
	kept, err := Open(path + BeforeRestore)
	must(t, err)
	if a, _ := kept.Assignments(); a["vent-01"].At != "live" {
		t.Errorf("kept file: %+v; want the replaced store", a)
	}
	must(t, kept.Close())
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("the installed copy is still at %s", src)
	}

	must(t, os.WriteFile(src, buf.Bytes(), 0o600))
	if err := Install(path, src); err == nil || !strings.Contains(err.Error(), "earlier restore") {
		t.Errorf("Install over a kept file = %v; want a refusal", err)
	}
}

// TestInstallIntoEmptyDirectory: on a new box there is nothing to keep.
func TestInstallIntoEmptyDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "copy")
	copyFile(t, filepath.Join("testdata", "state-format0.db"), src)
	path := filepath.Join(dir, "state.db")
	must(t, Install(path, src))
	if _, err := os.Stat(path + BeforeRestore); !os.IsNotExist(err) {
		t.Errorf("kept file made from nothing: %v", err)
	}
	s, err := Open(path)
	must(t, err)
	defer s.Close()
	if a, _ := s.Assignments(); a["vent-02"].At != "cicu-03" {
		t.Errorf("installed store: %+v", a)
	}
}

// TestInstallKeepsOwner: a restore run as root leaves a state.db owned by
// the gateway's user, as the one it replaced was.
func TestInstallKeepsOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root can give a file away")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	copyFile(t, filepath.Join("testdata", "state-format0.db"), path)
	must(t, os.Chown(path, 4242, 4343))
	src := filepath.Join(dir, "copy")
	copyFile(t, filepath.Join("testdata", "state-format0-early.db"), src)
	must(t, Install(path, src))
	fi, err := os.Stat(path)
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4343 {
		t.Errorf("installed state.db owned by %d:%d, want 4242:4343", st.Uid, st.Gid)
	}
}
