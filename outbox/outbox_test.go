package outbox

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, dir string, max int64) *Outbox {
	t.Helper()
	o, err := Open(Options{Dir: dir, MaxSize: max})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func rec(c Class, i int) Record {
	return Record{Class: c, Data: fmt.Appendf(nil, "%s,i=%08d v=1", c, i)}
}

// drain reads and acks everything, returning the data in delivery order.
func drain(t *testing.T, o *Outbox, batch int) []string {
	t.Helper()
	var got []string
	for {
		b, err := o.Next(batch, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Entries) == 0 {
			return got
		}
		for _, e := range b.Entries {
			got = append(got, string(e.Data))
		}
		if err := o.Ack(b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOrderAcrossClassesAndReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	var want []string
	for i := range 500 {
		c := Class(i % 3 / 2) // two telemetry, one state
		r := rec(c, i)
		want = append(want, string(r.Data))
		if err := o.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	// Deliver part, ack it, then leave a batch in flight unacked.
	first := drainN(t, o, 200)
	if _, err := o.Next(50, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = open(t, dir, 0)
	defer o.Close()
	if s := o.Stats(); s.Points() != 300 {
		t.Fatalf("after reopen %d points wait, want 300", s.Points())
	}
	got := append(first, drain(t, o, 64)...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivery order differs:\n got %v\nwant %v", got[:10], want[:10])
	}
}

func drainN(t *testing.T, o *Outbox, n int) []string {
	t.Helper()
	b, err := o.Next(n, 1<<30)
	if err != nil || len(b.Entries) != n {
		t.Fatalf("Next: %d entries, %v", len(b.Entries), err)
	}
	var got []string
	for _, e := range b.Entries {
		got = append(got, string(e.Data))
	}
	if err := o.Ack(b); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestNextRefusesWhileInFlight(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 0)
	defer o.Close()
	if err := o.Append(context.Background(), rec(State, 1), rec(State, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Next(1, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Next(1, 100); err == nil {
		t.Fatal("second Next with a batch in flight succeeded")
	}
	o.Rewind()
	if got := drain(t, o, 10); len(got) != 2 {
		t.Fatalf("after Rewind got %d entries, want 2", len(got))
	}
}

func TestGroupCommitConcurrentCallers(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 0)
	defer o.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if err := o.Append(context.Background(), rec(Class(g%2), g*1000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := drain(t, o, 1000)
	if len(got) != 1600 {
		t.Fatalf("got %d entries, want 1600", len(got))
	}
	// Per producer, order is kept.
	last := map[int]int{}
	for _, s := range got {
		var n int
		if _, err := fmt.Sscanf(s[len(s)-12:], "%08d", &n); err != nil {
			t.Fatal(err)
		}
		if p, ok := last[n/1000]; ok && n < p {
			t.Fatalf("%d delivered after %d", n, p)
		}
		last[n/1000] = n
	}
}

func TestBudgetDropsOldestTelemetryNeverState(t *testing.T) {
	t.Parallel()
	const budget = 200 << 10
	o := open(t, t.TempDir(), budget)
	defer o.Close()
	var state, tele int
	var group []Record
	for i := range 20000 {
		c := Telemetry
		if i%10 == 0 {
			c = State
			state++
		} else {
			tele++
		}
		group = append(group, rec(c, i))
		if len(group) == 50 {
			if err := o.Append(context.Background(), group...); err != nil {
				t.Fatal(err)
			}
			group = group[:0]
		}
	}
	s := o.Stats()
	if s.Dropped == 0 {
		t.Fatal("nothing dropped although far over budget")
	}
	got := drain(t, o, 5000)
	var gotState, gotTele int
	var firstTele string
	for _, g := range got {
		if g[0] == 's' {
			gotState++
		} else {
			if firstTele == "" {
				firstTele = g
			}
			gotTele++
		}
	}
	if gotState != state {
		t.Fatalf("state delivered %d, want all %d", gotState, state)
	}
	if uint64(tele-gotTele) != s.Dropped {
		t.Fatalf("telemetry missing %d, dropped counter %d", tele-gotTele, s.Dropped)
	}
	if firstTele == string(rec(Telemetry, 1).Data) {
		t.Fatal("the oldest telemetry survived; the newest should have")
	}
	if last := got[len(got)-1]; last != string(rec(Telemetry, 19999).Data) {
		t.Fatalf("newest telemetry lost: last delivered %s", last)
	}
	if s.Bytes > budget+segmentSize {
		t.Fatalf("disk use %d far over budget %d", s.Bytes, budget)
	}
}

func TestStateOverBudgetKeptIncomingTelemetryDropped(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 8<<10)
	defer o.Close()
	for i := range 400 {
		if err := o.Append(context.Background(), rec(State, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Append(context.Background(), rec(Telemetry, 1), rec(Telemetry, 2)); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	if !s.OverBudget || s.StatePoints != 400 || s.TelemetryPoints != 0 || s.Dropped != 2 {
		t.Fatalf("stats %+v: want all 400 state kept, over budget, the 2 telemetry dropped", s)
	}
}

func TestDropOfBatchInFlightCountedOnRewind(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 64<<10)
	defer o.Close()
	for i := range 100 {
		if err := o.Append(context.Background(), rec(Telemetry, i)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := o.Next(10, 1<<20) // in flight: 0..9
	if err != nil || len(b.Entries) != 10 {
		t.Fatal(len(b.Entries), err)
	}
	for i := 100; i < 3000; i++ {
		if err := o.Append(context.Background(), rec(Telemetry, i)); err != nil {
			t.Fatal(err)
		}
	}
	dropped := o.Stats().Dropped
	o.Rewind() // the peer never took the batch; if it was dropped on disk it is lost
	got := drain(t, o, 1000)
	s := o.Stats()
	if uint64(3000-len(got)) != s.Dropped {
		t.Fatalf("missing %d, dropped %d (before rewind %d)", 3000-len(got), s.Dropped, dropped)
	}
}

func TestSecondOpenOfSameDirRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	defer o.Close()
	if o2, err := Open(Options{Dir: dir}); err == nil {
		o2.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
}

func TestMetricsRegister(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 0)
	defer o.Close()
	reg := prometheus.NewRegistry()
	if err := RegisterMetrics(reg, o); err != nil {
		t.Fatal(err)
	}
	if err := o.Append(context.Background(), rec(State, 1)); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "icugate_outbox_points" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "state" && m.GetGauge().GetValue() == 1 {
					return
				}
			}
		}
	}
	t.Fatal("icugate_outbox_points{class=state} is not 1")
}

func TestAppendAfterCloseReturns(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 0)
	o.Close()
	if err := o.Append(context.Background(), rec(State, 1)); err == nil {
		t.Fatal("Append on a closed outbox succeeded")
	}
}
