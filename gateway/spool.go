package gateway

import (
	"context"
	"sync"

	"github.com/icugate/icugate/influx"
)

// spoolLimit bounds the points held in memory while the outbox cannot take
// them (its disk is full or failing). About 300 bytes a point, so at most
// ~30 MB; at 2,000 devices that is over ten minutes of state changes,
// heartbeats and counts. Past it telemetry goes first, then the oldest
// state, and every dropped point is counted by class.
const spoolLimit = 100_000

// spool is the bounded hand-off between the engine loop and the output
// goroutine. The loop never waits on it: when the outbox cannot write, the
// engine keeps observing, deciding and serving, and what it produced waits
// here (in order) for the disk to come back.
type spool struct {
	mu      sync.Mutex
	batches []outBatch
	points  int
	limit   int
	closed  bool
	wake    chan struct{}
	dropped [2]uint64 // by influx.Class
}

func newSpool(limit int) *spool {
	return &spool{limit: limit, wake: make(chan struct{}, 1)}
}

// push queues a batch; it never blocks. Over the limit, the oldest
// telemetry points, then the oldest state points, are dropped and counted.
// Acknowledgements are never dropped: a batch that lost its points still
// releases its acks in order, since the loss is counted and waiting would
// only stop the broker's deliveries.
func (s *spool) push(b outBatch) {
	s.mu.Lock()
	s.batches = append(s.batches, b)
	s.points += len(b.points)
	if s.points > s.limit {
		s.shed(influx.Telemetry)
	}
	if s.points > s.limit {
		s.shed(influx.State)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// shed drops points of class c, oldest first, until the spool is within its
// limit or none of that class is left.
func (s *spool) shed(c influx.Class) {
	for i := range s.batches {
		b := &s.batches[i]
		kept := b.points[:0]
		for _, p := range b.points {
			if s.points > s.limit && p.Class == c {
				s.points--
				s.dropped[c]++
				continue
			}
			kept = append(kept, p)
		}
		clear(b.points[len(kept):])
		b.points = kept
		if s.points <= s.limit {
			return
		}
	}
}

// pop takes every queued batch, oldest first, waiting for at least one;
// false once the spool is closed and empty, or ctx ended. Taking them all
// lets the output make them durable with one outbox append (one fsync)
// instead of one per batch: at a hundred small bursts a second the fsyncs
// were most of the output's cost.
func (s *spool) pop(ctx context.Context) ([]outBatch, bool) {
	for {
		s.mu.Lock()
		if len(s.batches) > 0 {
			bs := s.batches
			s.batches = nil
			s.points = 0
			s.mu.Unlock()
			return bs, true
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// close marks the end of input: pop returns what is left, then false.
func (s *spool) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// isClosed reports whether close was called.
func (s *spool) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// held is the number of points waiting in memory.
func (s *spool) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.points
}

// droppedOf is how many points of class c were dropped.
func (s *spool) droppedOf(c influx.Class) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped[c]
}

// drop counts points given up without the limit (at shutdown).
func (s *spool) drop(points []influx.Point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range points {
		s.dropped[p.Class]++
	}
}
