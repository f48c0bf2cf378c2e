package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/icugate/icugate/pipeline"
)

// Many drivers offer at once, past the intake's size: the loop gets every
// observation exactly once, each driver's in its own order, and offers wait
// (never drop) while the intake is full.
func TestIntakeBatchesEveryObservationInOrder(t *testing.T) {
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

// An offer to a full intake ends with its context.
func TestIntakeOfferWaitsThenGivesUpWithContext(t *testing.T) {
	in := newIntake()
	for range intakeSize {
		if err := in.Offer(context.Background(), pipeline.Observation{}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := in.Offer(ctx, pipeline.Observation{}); err == nil {
		t.Fatal("an offer to a full intake returned nil without room")
	}
	if in.depth() != intakeSize {
		t.Fatalf("depth %d, want %d", in.depth(), intakeSize)
	}
}
