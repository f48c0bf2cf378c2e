package gateway

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/pipeline"
)

// Many drivers offer at once, past the intake's size: the loop gets every
// observation exactly once, each driver's in its own order, and offers wait
// (never drop) while the intake is full.
func TestIntakeBatchesEveryObservationInOrder(t *testing.T) {
	t.Parallel()
	in := newIntake()
	const producers, each = 8, intakeSize / 2 // 4 × the size in all
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				o := pipeline.Observation{Device: string(rune('a' + p)), Time: time.Unix(int64(i), 0)}
				if err := in.Offer(context.Background(), o); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	next := make([]int64, producers)
	got, wakes := 0, 0
	for got < producers*each {
		select {
		case <-in.ready:
		case <-time.After(5 * time.Second):
			t.Fatalf("no wake-up with %d of %d observations taken (depth %d)", got, producers*each, in.depth())
		}
		wakes++
		b := in.take()
		if len(b) > intakeSize {
			t.Fatalf("a batch of %d, over the intake's %d", len(b), intakeSize)
		}
		for _, o := range b {
			p := int(o.Device[0] - 'a')
			if o.Time.Unix() != next[p] {
				t.Fatalf("producer %d: got observation %d, want %d", p, o.Time.Unix(), next[p])
			}
			next[p]++
			got++
		}
		in.recycle(b)
	}
	wg.Wait()
	if in.depth() != 0 {
		t.Fatalf("%d left over", in.depth())
	}
	t.Logf("%d observations in %d wake-ups", got, wakes)
}

// An offer to a full intake waits, and ends with its context.
func TestIntakeOfferWaitsThenGivesUpWithContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		in := newIntake()
		for range intakeSize {
			if err := in.Offer(context.Background(), pipeline.Observation{}); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := in.Offer(ctx, pipeline.Observation{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("an offer to a full intake: %v, want the context's deadline", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("gave up after %v, want when the context ended (50ms)", d)
		}
		if in.depth() != intakeSize {
			t.Fatalf("depth %d, want %d", in.depth(), intakeSize)
		}
	})
}

// A waiting offer goes in as soon as the loop takes the queue.
func TestIntakeWaitingOfferGoesInWhenTaken(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		in := newIntake()
		for range intakeSize {
			if err := in.Offer(context.Background(), pipeline.Observation{}); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error)
		go func() { done <- in.Offer(context.Background(), pipeline.Observation{Device: "late"}) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("an offer to a full intake returned %v without room", err)
		default:
		}
		in.recycle(in.take())
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if b := in.take(); len(b) != 1 || b[0].Device != "late" {
			t.Errorf("after the take, the intake holds %+v, want the waiting offer", b)
		}
	})
}
