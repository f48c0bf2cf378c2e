package mqtt

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/pipeline"
)

// TestForwardHandsOnEveryQueuedObservationInOrder checks the batching
// forward: a burst already queued and one queued while it runs are each
// offered once, in queue order, and forward returns when ctx ends.
func TestForwardHandsOnEveryQueuedObservationInOrder(t *testing.T) {
	reg := prometheus.NewRegistry()
	d, err := New(testSite(t, "tcp://127.0.0.1:1", 1, 0), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	queue := func(from, to int) {
		for i := from; i < to; i++ {
			d.queue <- pipeline.Observation{Device: fmt.Sprintf("dev-%d", i)}
		}
	}
	in := newFakeIntake()
	queue(0, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.forward(ctx, in)
	}()
	waitFor(t, 5*time.Second, "the first burst offered", func() bool { _, n := in.snapshot(); return n == 10 })
	queue(10, 13)
	waitFor(t, 5*time.Second, "the second burst offered", func() bool { _, n := in.snapshot(); return n == 13 })
	cancel()
	<-done

	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.hist) != 13 {
		t.Fatalf("offered %d observations, want 13", len(in.hist))
	}
	for i, o := range in.hist {
		if want := fmt.Sprintf("dev-%d", i); o.Device != want {
			t.Fatalf("offer %d is %s, want %s (queue order)", i, o.Device, want)
		}
	}
	if got := gathered(reg, "icugate_mqtt_messages_accepted_total", ""); got != 13 {
		t.Fatalf("accepted_total = %v, want 13", got)
	}
}
