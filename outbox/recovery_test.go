package outbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestTornLastRecordSkippedAtOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	for i := range 100 {
		if err := o.Append(context.Background(), rec(State, i)); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	// Cut the last record in half, as a crash in mid-write would.
	seg := lastSegment(t, filepath.Join(dir, "state"))
	info, _ := os.Stat(seg)
	if err := os.Truncate(seg, info.Size()-10); err != nil {
		t.Fatal(err)
	}
	o = open(t, dir, 0)
	defer o.Close()
	s := o.Stats()
	if s.Torn != 1 {
		t.Fatalf("torn = %d, want 1", s.Torn)
	}
	got := drain(t, o, 1000)
	if len(got) != 99 || got[98] != string(rec(State, 98).Data) {
		t.Fatalf("delivered %d, want the 99 complete records", len(got))
	}
	if q, _ := os.ReadDir(filepath.Join(dir, "quarantine")); len(q) != 1 {
		t.Fatalf("quarantine holds %d files, want the original segment", len(q))
	}
}

func TestCorruptSegmentQuarantined(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	big := make([]byte, 64<<10)
	n := 0
	for range 3 * segmentSize / len(big) {
		r := Record{Class: Telemetry, Data: fmt.Appendf(big[:0:0], "%08d%s", n, big)}
		if err := o.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		n++
	}
	o.Close()
	segs, _ := segmentStarts(filepath.Join(dir, "telemetry"))
	if len(segs) < 3 {
		t.Fatalf("want >= 3 segments, have %d", len(segs))
	}
	// Damage the framing of the second segment.
	mid := filepath.Join(dir, "telemetry", fmt.Sprintf("%020d", segs[1]))
	if err := os.WriteFile(mid, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 0o640); err != nil {
		t.Fatal(err)
	}
	lost := segs[2] - segs[1]
	o = open(t, dir, 0)
	defer o.Close()
	got := drain(t, o, 10)
	if uint64(len(got))+lost != uint64(n) {
		t.Fatalf("delivered %d + lost %d != written %d", len(got), lost, n)
	}
	if s := o.Stats(); s.Quarantined != lost {
		t.Fatalf("quarantined = %d, want %d", s.Quarantined, lost)
	}
}

func TestCorruptRecordQuarantined(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	for i := range 10 {
		if err := o.Append(context.Background(), rec(State, i)); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	seg := lastSegment(t, filepath.Join(dir, "state"))
	b, _ := os.ReadFile(seg)
	size := len(b) / 10      // ten records of equal size
	b[4*size+size-3] ^= 0x40 // a bit flip inside the fifth record's data
	if err := os.WriteFile(seg, b, 0o640); err != nil {
		t.Fatal(err)
	}
	o = open(t, dir, 0)
	defer o.Close()
	got := drain(t, o, 3)
	if len(got) != 9 {
		t.Fatalf("delivered %d, want 9", len(got))
	}
	if s := o.Stats(); s.Quarantined != 1 || s.Points() != 0 {
		t.Fatalf("stats %+v, want 1 quarantined, 0 waiting", s)
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	starts, err := segmentStarts(dir)
	if err != nil || len(starts) == 0 {
		t.Fatalf("no segments in %s: %v", dir, err)
	}
	return filepath.Join(dir, fmt.Sprintf("%020d", starts[len(starts)-1]))
}

func TestZeroFilledTailSkipped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	for i := range 20 {
		if err := o.Append(context.Background(), rec(State, i)); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	// A crash after the file grew but before its data reached the disk
	// leaves zeros, which the log's framing reads as empty entries.
	seg := lastSegment(t, filepath.Join(dir, "state"))
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 37))
	f.Close()
	o = open(t, dir, 0)
	defer o.Close()
	if s := o.Stats(); s.Torn != 1 || s.StatePoints != 20 {
		t.Fatalf("stats %+v: want one torn write skipped, 20 points", s)
	}
	if got := drain(t, o, 100); len(got) != 20 {
		t.Fatalf("delivered %d, want 20", len(got))
	}
}
