package outbox

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Notify signals after a commit, and at Open when points already wait.
func TestNotifyAfterCommitAndAtOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := open(t, dir, 0)
	select {
	case <-o.Notify():
		t.Fatal("an empty outbox signalled")
	default:
	}
	appendStates(t, o, 1)
	select {
	case <-o.Notify(): // Append returned, so the commit's signal is sent
	default:
		t.Fatal("no signal after a commit")
	}
	o.Close()
	o = open(t, dir, 0)
	defer o.Close()
	select {
	case <-o.Notify():
	default:
		t.Fatal("no signal at Open with a point waiting")
	}
}

// Oldest and Lag come from the injected clock and the oldest waiting
// point, across both classes.
func TestStatsLagFromInjectedClock(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	o, err := Open(Options{Dir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if s := o.Stats(); !s.Oldest.IsZero() || s.Lag != 0 {
		t.Fatalf("empty outbox: oldest %v lag %v", s.Oldest, s.Lag)
	}
	first := now
	if err := o.Append(context.Background(), rec(Telemetry, 1)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := o.Append(context.Background(), rec(State, 2)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if s := o.Stats(); !s.Oldest.Equal(first) || s.Lag != 2*time.Minute {
		t.Fatalf("oldest %v lag %v, want %v and 2m", s.Oldest, s.Lag, first)
	}
	drainN(t, o, 1) // the telemetry point
	if s := o.Stats(); s.Lag != time.Minute {
		t.Fatalf("after delivering the oldest, lag %v, want 1m", s.Lag)
	}
}

func TestAppendWithEndedContextReturnsItsError(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 0)
	defer o.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The queue has room, so either the context or the commit may win;
	// the call must not hang and may only fail with the context's error.
	if err := o.Append(ctx, rec(State, 1)); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Append: %v", err)
	}
	if err := o.Append(context.Background()); err != nil {
		t.Fatalf("Append of nothing: %v", err)
	}
}

func TestCallsOnClosedOutbox(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 0)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	if _, err := o.Next(1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next: %v, want ErrClosed", err)
	}
	if err := o.Ack(Batch{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ack: %v, want ErrClosed", err)
	}
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open without a directory succeeded")
	}
}

// Next stops at maxEntries and maxBytes, but hands out one entry even
// when it alone is larger than maxBytes.
func TestNextLimits(t *testing.T) {
	t.Parallel()
	o := open(t, t.TempDir(), 0)
	defer o.Close()
	appendStates(t, o, 5)
	size := len(rec(State, 0).Data)
	for _, tc := range []struct{ maxEntries, maxBytes, want int }{
		{3, 1 << 20, 3}, {10, 2 * size, 2}, {10, 1, 1},
	} {
		b, err := o.Next(tc.maxEntries, tc.maxBytes)
		if err != nil || len(b.Entries) != tc.want {
			t.Fatalf("Next(%d, %d): %d entries, %v; want %d", tc.maxEntries, tc.maxBytes, len(b.Entries), err, tc.want)
		}
		o.Rewind()
	}
}
