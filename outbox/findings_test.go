package outbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// Tests for defects the random-operations test found; each fails until
// the defect is fixed.

// appendStates appends n state records one by one.
func appendStates(t *testing.T, o *Outbox, n int) {
	t.Helper()
	for i := range n {
		if err := o.Append(context.Background(), rec(State, i)); err != nil {
			t.Fatal(err)
		}
	}
}

// damageFrame flips a byte inside the k-th frame (from 0) of a segment
// whose frames all hold records of the same size.
func damageFrame(t *testing.T, seg string, k, frames int) {
	t.Helper()
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	size := (len(b) - len(segMagic)) / frames
	b[len(segMagic)+k*size+size-3] ^= 0x40
	if err := os.WriteFile(seg, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// A damaged first entry of the oldest segment is lost without being
// counted: Open moves the log's first index to the first intact frame
// (segment.start as mapFrames left it, not the file name), so delivery
// never passes the lost index.
func TestDamagedFirstEntryOfOldestSegmentCounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	appendStates(t, o, 10)
	o.Close()
	damageFrame(t, lastSegment(t, filepath.Join(dir, "state")), 0, 10)
	o = open(t, dir, 0)
	defer o.Close()
	got := drain(t, o, 100)
	if s := o.Stats(); len(got) != 9 || s.Quarantined != 1 {
		t.Fatalf("delivered %d and quarantined %d; want 9 delivered and the damaged first entry counted", len(got), s.Quarantined)
	}
}

// A lost entry that Next passes while looking ahead is counted when
// passed; after Rewind the next Next passes it and counts it again, and
// until then Stats counts it both as waiting and as quarantined.
func TestLostEntryPassedInFlightCountedOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	appendStates(t, o, 10)
	o.Close()
	damageFrame(t, lastSegment(t, filepath.Join(dir, "state")), 4, 10)
	o = open(t, dir, 0)
	defer o.Close()
	size := len(rec(State, 0).Data)
	// Four entries fit; looking for a fifth passes the lost one.
	b, err := o.Next(100, 4*size)
	if err != nil || len(b.Entries) != 4 {
		t.Fatalf("Next: %d entries, %v", len(b.Entries), err)
	}
	o.Rewind()
	if s := o.Stats(); s.Points()+s.Quarantined != 10 {
		t.Errorf("after Rewind %d waiting + %d quarantined, want 10 in all", s.Points(), s.Quarantined)
	}
	if got := drain(t, o, 100); len(got) != 9 {
		t.Fatalf("delivered %d, want 9", len(got))
	}
	if s := o.Stats(); s.Quarantined != 1 {
		t.Fatalf("one lost entry counted %d times", s.Quarantined)
	}
}

// budgetInFlight appends 100 telemetry points, takes a batch of 10, then
// appends far past a 64 KB budget so that the oldest segments, the batch
// included, are dropped while it is in flight.
func budgetInFlight(t *testing.T, dir string) *Outbox {
	t.Helper()
	o := open(t, dir, 64<<10)
	for i := range 100 {
		if err := o.Append(context.Background(), rec(Telemetry, i)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := o.Next(10, 1<<20); err != nil || len(b.Entries) != 10 {
		t.Fatalf("Next: %d entries, %v", len(b.Entries), err)
	}
	for i := 100; i < 3000; i++ {
		if err := o.Append(context.Background(), rec(Telemetry, i)); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// Closing with a batch in flight that the budget dropped loses it
// uncounted: only Rewind counts a dropped batch, and Close does not.
func TestCloseCountsDroppedBatchInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := budgetInFlight(t, dir)
	dropped := o.Stats().Dropped
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = open(t, dir, 64<<10)
	defer o.Close()
	got := drain(t, o, 1000)
	if uint64(len(got))+dropped != 3000 {
		t.Fatalf("delivered %d after reopening + %d counted dropped = %d of 3000; %d lost uncounted",
			len(got), dropped, uint64(len(got))+dropped, 3000-uint64(len(got))-dropped)
	}
}

// While a batch is in flight, Stats counts every point dropped behind it
// as still waiting (pending is last+1-ack, and ack stays at the batch).
func TestStatsPointsWhileBatchInFlightExcludeDropped(t *testing.T) {
	t.Parallel()
	o := budgetInFlight(t, t.TempDir())
	defer o.Close()
	s := o.Stats()
	if s.Dropped == 0 {
		t.Fatal("nothing dropped; the test did not exceed the budget")
	}
	if s.TelemetryPoints+s.Dropped != 3000 {
		t.Fatalf("%d telemetry points waiting and %d dropped, of 3000 appended", s.TelemetryPoints, s.Dropped)
	}
}

// A bit flip in a format-2 segment's header makes Open read the segment
// as format 1: its intact frames are lost and the count is of whatever
// the legacy reader made of them.
func TestDamagedSegmentHeaderLossCountedExactly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	appendStates(t, o, 10)
	o.Close()
	seg := lastSegment(t, filepath.Join(dir, "state"))
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(segMagic)-1] ^= 0x01
	if err := os.WriteFile(seg, b, 0o640); err != nil {
		t.Fatal(err)
	}
	o = open(t, dir, 0)
	defer o.Close()
	got := drain(t, o, 100)
	if s := o.Stats(); len(got)+int(s.Quarantined) != 10 {
		t.Fatalf("delivered %d, quarantined %d, of 10 records whose frames are intact", len(got), s.Quarantined)
	}
}
