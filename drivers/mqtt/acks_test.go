package mqtt

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// recorder records the order paho acks are sent in.
type recorder struct {
	mu   sync.Mutex
	sent []int
}

func (r *recorder) ack(i int) func() {
	return func() { r.mu.Lock(); r.sent = append(r.sent, i); r.mu.Unlock() }
}

func TestAckerReleasesInReceiptOrder(t *testing.T) {
	a := newAcker()
	var r recorder
	var ids [][2]uint64
	for i := range 5 {
		e, s := a.add(r.ack(i))
		ids = append(ids, [2]uint64{e, s})
	}
	// The pipeline takes 2, 4 and 1 first: nothing may go out before 0.
	for _, i := range []int{2, 4, 1} {
		a.done(ids[i][0], ids[i][1])
	}
	a.flush()
	if len(r.sent) != 0 {
		t.Fatalf("acks %v sent before message 0 was taken", r.sent)
	}
	a.done(ids[0][0], ids[0][1])
	a.done(ids[0][0], ids[0][1]) // twice is harmless
	a.flush()
	if !slices.Equal(r.sent, []int{0, 1, 2}) {
		t.Fatalf("acks %v, want [0 1 2]", r.sent)
	}
	a.done(ids[3][0], ids[3][1])
	a.flush()
	if !slices.Equal(r.sent, []int{0, 1, 2, 3, 4}) || a.depth() != 0 {
		t.Fatalf("acks %v depth %d, want all five and none pending", r.sent, a.depth())
	}
}

func TestAckerNewEpochForgetsPending(t *testing.T) {
	a := newAcker()
	var r recorder
	e0, s0 := a.add(r.ack(0)) // never taken by the pipeline
	e1, s1 := a.add(r.ack(1))
	a.done(e1, s1)
	a.newEpoch() // reconnect: the broker will redeliver 0 and 1
	e2, s2 := a.add(r.ack(2))
	a.done(e2, s2)
	a.done(e0, s0) // a late ack of the old connection does nothing
	a.flush()
	if !slices.Equal(r.sent, []int{2}) {
		t.Fatalf("acks %v, want only [2]: old-connection acks are dropped and do not block", r.sent)
	}
}

func TestAckerConcurrentDoneAllAcked(t *testing.T) {
	a := newAcker()
	var r recorder
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.run(ctx) })
	const n = 1000
	ids := make([][2]uint64, n)
	for i := range n {
		e, s := a.add(r.ack(i))
		ids[i] = [2]uint64{e, s}
	}
	var done sync.WaitGroup
	for w := range 4 {
		done.Go(func() {
			for i := n - 1 - w; i >= 0; i -= 4 {
				a.done(ids[i][0], ids[i][1])
			}
		})
	}
	done.Wait()
	cancel()
	wg.Wait()
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(r.sent, want) {
		t.Fatalf("acks out of order or missing: %d sent", len(r.sent))
	}
}
