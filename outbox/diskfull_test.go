package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/icugate/icugate/internal/tmpfstest"
	"github.com/tidwall/wal"
)

// A full disk while points keep coming: every Append that returned nil is
// delivered exactly once and in order; every one that failed is not in the
// log, so the caller's retry adds it once (issue 12: tidwall/wal shifted its
// index map after a failed write and lost or repeated points).
func TestDiskFullLosesNothingConfirmed(t *testing.T) {
	t.Parallel()
	disk := tmpfstest.Mount(t, 1<<20)
	o := open(t, filepath.Join(disk, "outbox"), 0)
	defer o.Close()
	ctx := context.Background()
	var want []string
	i := 0
	for ; i < 50; i++ {
		r := rec(State, i)
		if err := o.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		want = append(want, string(r.Data))
	}
	filler := tmpfstest.Fill(t, disk)
	failures := 0
	for ; i < 400; i++ {
		r := rec(State, i)
		for {
			err := o.Append(ctx, r)
			if err == nil {
				break
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append %d: %v, want ENOSPC", i, err)
			}
			failures++
			if s := o.Stats(); s.StatePoints != uint64(len(want)) {
				t.Fatalf("after a failed append %d points wait, want the %d confirmed", s.StatePoints, len(want))
			}
			if failures == 20 {
				if err := os.Remove(filler); err != nil {
					t.Fatal(err)
				}
			}
		}
		want = append(want, string(r.Data))
	}
	if failures < 20 {
		t.Fatalf("only %d appends failed on a full disk; the test did not fill it", failures)
	}
	got := drain(t, o, 64)
	if len(got) != len(want) {
		t.Fatalf("delivered %d points, want %d", len(got), len(want))
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("point %d: got %q, want %q", k, got[k], want[k])
		}
	}
}

// On a full disk, state makes room by dropping the oldest waiting
// telemetry, and each dropped point is counted.
func TestDiskFullStateDropsTelemetryFirst(t *testing.T) {
	t.Parallel()
	disk := tmpfstest.Mount(t, 1<<20)
	o := open(t, filepath.Join(disk, "outbox"), 0)
	defer o.Close()
	ctx := context.Background()
	pad := bytes.Repeat([]byte("x"), 4000)
	const tel = 60
	for i := range tel {
		r := Record{Class: Telemetry, Data: fmt.Appendf(nil, "telemetry,i=%04d %s", i, pad)}
		if err := o.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tmpfstest.Fill(t, disk)
	for i := range 20 {
		if err := o.Append(ctx, rec(State, i)); err != nil {
			t.Fatalf("state append %d on a full disk with telemetry to drop: %v", i, err)
		}
	}
	s := o.Stats()
	if s.Dropped == 0 {
		t.Fatal("no telemetry dropped, yet state was appended to a full disk")
	}
	got := drain(t, o, 64)
	var gotTel, gotState int
	for _, g := range got {
		if bytes.HasPrefix([]byte(g), []byte("telemetry,")) {
			gotTel++
		} else {
			gotState++
		}
	}
	if gotState != 20 || uint64(gotTel)+s.Dropped != tel {
		t.Fatalf("delivered %d state (want 20), %d telemetry + %d dropped (want %d)", gotState, gotTel, s.Dropped, tel)
	}
}

// 1,200 random bytes in the middle of a segment cost only the records they
// overwrite: every record after them is delivered, and the loss is counted
// exactly.
func TestDamageMidSegmentCostsOnlyItself(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	const n = 600
	pad := bytes.Repeat([]byte("y"), 500)
	var want []string
	for i := range n {
		r := Record{Class: State, Data: fmt.Appendf(nil, "device_state,i=%04d %s", i, pad)}
		want = append(want, string(r.Data))
		if err := o.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	seg := lastSegment(t, filepath.Join(dir, "state"))
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	mid := len(b) / 2
	for k := mid; k < mid+1200; k++ {
		b[k] = byte(rng.Uint32())
	}
	if err := os.WriteFile(seg, b, 0o640); err != nil {
		t.Fatal(err)
	}
	o = open(t, dir, 0)
	defer o.Close()
	got := drain(t, o, 50)
	lost := o.Stats().Quarantined
	if uint64(len(got))+lost != n {
		t.Fatalf("delivered %d + counted lost %d != %d written", len(got), lost, n)
	}
	// 1,200 bytes touch at most four records of ~540 bytes.
	if lost == 0 || lost > 4 {
		t.Fatalf("lost %d records to 1,200 damaged bytes, want 1 to 4", lost)
	}
	k := 0
	for _, g := range got {
		for k < n && want[k] != g {
			k++
		}
		if k == n {
			t.Fatalf("delivered a record that was never written or out of order: %.40q", g)
		}
	}
	if got[len(got)-1] != want[n-1] {
		t.Fatal("the last record is not delivered")
	}
}

// An outbox written by earlier versions (github.com/tidwall/wal segments)
// is delivered after the upgrade, and new points go after it.
func TestLegacySegmentsDelivered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := wal.Open(filepath.Join(dir, "state"), &wal.Options{SegmentSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 30 {
		r := rec(State, i)
		want = append(want, string(r.Data))
		b := encodeRecord(r.Data)
		seal(b, uint64(i+1), 1)
		if err := l.Write(uint64(i+1), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	o := open(t, dir, 0)
	for i := 30; i < 40; i++ {
		r := rec(State, i)
		want = append(want, string(r.Data))
		if err := o.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	got := drain(t, o, 7)
	o.Close()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	o = open(t, dir, 0)
	defer o.Close()
	if p := o.Pending(); p != 0 {
		t.Fatalf("%d points wait after all was delivered and the outbox reopened", p)
	}
}

// Undo takes back a confirmed write: on disk and in memory the log is as
// before it (a commit whose other log failed is all or nothing).
func TestSegLogUndo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q := filepath.Join(dir, "q")
	l, _, err := openSegLog(filepath.Join(dir, "s"), q, "state", 64<<10, discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	m, err := l.Write([][]byte{[]byte("c")})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Undo(m); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([][]byte{[]byte("d")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, rep, err := openSegLog(filepath.Join(dir, "s"), q, "state", 64<<10, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rep != (loadReport{}) || l.first != 1 || l.last != 3 {
		t.Fatalf("after reopen: %+v first %d last %d, want a clean log of 3", rep, l.first, l.last)
	}
	var got []string
	for i := l.first; i <= l.last; i++ {
		b, err := l.Read(i)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	if fmt.Sprint(got) != "[a b d]" {
		t.Fatalf("entries %v, want [a b d]", got)
	}
}

// Whatever a segment file holds, opening never panics and every index in
// range reads as a record or as lost.
func FuzzOpenSegment(f *testing.F) {
	var good []byte
	good = append(good, segMagic...)
	for i := range 5 {
		good = appendFrame(good, uint64(i+1), fmt.Appendf(nil, "record %d", i))
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte{0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		sd := filepath.Join(dir, "s")
		os.MkdirAll(sd, 0o750)
		if err := os.WriteFile(filepath.Join(sd, fmt.Sprintf("%020d", 1)), data, 0o640); err != nil {
			t.Fatal(err)
		}
		l, _, err := openSegLog(sd, filepath.Join(dir, "q"), "state", 64<<10, discard)
		if err != nil {
			return
		}
		defer l.Close()
		for i := l.first; i <= l.last && i < l.first+1<<16; i++ {
			if _, err := l.Read(i); err != nil && !errors.Is(err, errMissing) {
				t.Fatalf("read %d: %v", i, err)
			}
		}
	})
}

var discard = slog.New(slog.DiscardHandler)
