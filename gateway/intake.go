package gateway

import (
	"context"
	"sync"

	"github.com/icugate/icugate/pipeline"
)

// intakeSize bounds the observations waiting for the engine. The engine
// takes well over a million observations a second, so the queue is only
// ever full when the box is badly overloaded; then Offer waits rather than
// drops: a poll delayed is better than a state change lost, and waiting
// pushes back on the driver that offered (a Modbus connection's worker, or
// the MQTT driver, which then leaves messages unacknowledged at the
// broker); the other connections' workers go on.
const intakeSize = 8192

// intake is the bounded queue between drivers and the engine loop. It
// implements pipeline.Intake.
//
// Observations are handed over in batches: Offer appends under a lock and
// wakes the loop only when the queue was empty, and the loop takes
// everything queued at once. At 2,000 polls a second that is one wake-up
// of the loop per burst of polls instead of one per poll (a channel send
// to a waiting receiver wakes it every time).
type intake struct {
	mu    sync.Mutex
	buf   []pipeline.Observation
	spare []pipeline.Observation
	// ready holds a token while buf may hold observations; space holds one
	// while a full buf has room again.
	ready chan struct{}
	space chan struct{}
}

func newIntake() *intake {
	return &intake{ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// Offer queues o, waiting while the queue is full, until ctx ends.
func (in *intake) Offer(ctx context.Context, o pipeline.Observation) error {
	for {
		in.mu.Lock()
		if n := len(in.buf); n < intakeSize {
			in.buf = append(in.buf, o)
			in.mu.Unlock()
			if n == 0 {
				signal(in.ready)
			} else if n+1 < intakeSize {
				// Another Offer may wait for room that is there.
				select {
				case <-in.space:
					signal(in.space)
				default:
				}
			}
			return nil
		}
		in.mu.Unlock()
		select {
		case <-in.space:
		case <-ctx.Done():
			return ctx.Err()
		}
		// Pass the news on: room for one may be room for more.
		signal(in.space)
	}
}

// take returns every queued observation, oldest first. The slice belongs to
// the caller until it hands it back with recycle.
func (in *intake) take() []pipeline.Observation {
	in.mu.Lock()
	b := in.buf
	in.buf, in.spare = in.spare[:0], nil
	in.mu.Unlock()
	if len(b) >= intakeSize {
		signal(in.space)
	}
	return b
}

// recycle hands back a slice from take for reuse.
func (in *intake) recycle(b []pipeline.Observation) {
	clear(b) // drop references to values and acks
	in.mu.Lock()
	if in.spare == nil {
		in.spare = b[:0]
	}
	in.mu.Unlock()
}

// depth is how many observations wait.
func (in *intake) depth() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.buf)
}

// signal puts a token in a one-slot channel unless one is there.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
