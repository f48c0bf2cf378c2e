package mqtt

import (
	"context"
	"sync"
	"time"
)

// acker sends PUBACKs late and in order.
//
// A message is acknowledged to the broker only once the pipeline took the
// observation made from it (Observation.Ack), or at once when it was
// dropped as bad (acknowledging it is the only way to stop the broker
// redelivering it). MQTT 3.1.1 §4.6 asks a client to send PUBACKs in the
// order the PUBLISH packets arrived, so acks are released strictly in
// receipt order: an observation acknowledged early waits for those received
// before it.
//
// Acks are tied to a connection. paho drops an ack whose connection is gone
// (and the broker redelivers the message on the persistent session), so on
// every reconnect the acker starts a new epoch and forgets what is pending:
// a message the pipeline never acknowledges then only holds back the acks
// of its own connection, never those of the next.
//
// The acker's goroutine calls paho's Ack, which can block while the
// connection is busy; doing it here rather than in Observation.Ack keeps the
// pipeline from ever waiting on the network.
type acker struct {
	mu      sync.Mutex
	epoch   uint64
	base    uint64 // sequence number of pending[0]
	pending []ackEntry
	wake    chan struct{}
}

type ackEntry struct {
	ack  func() // paho's Message.Ack
	done bool
}

// ackLinger is how long the acker waits after a wake-up before sending, so
// acks go out in batches. With the broker's in-flight window of 100 it
// still allows 100,000 acks a second.
const ackLinger = time.Millisecond

func newAcker() *acker { return &acker{wake: make(chan struct{}, 1)} }

// add registers a received message and returns its epoch and sequence.
func (a *acker) add(ack func()) (epoch, seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seq = a.base + uint64(len(a.pending))
	a.pending = append(a.pending, ackEntry{ack: ack})
	return a.epoch, seq
}

// done marks a message ready to acknowledge. Safe to call more than once
// and from any goroutine; calls for a past epoch do nothing.
func (a *acker) done(epoch, seq uint64) {
	a.mu.Lock()
	if epoch != a.epoch || seq < a.base || seq >= a.base+uint64(len(a.pending)) {
		a.mu.Unlock()
		return
	}
	a.pending[seq-a.base].done = true
	head := seq == a.base
	a.mu.Unlock()
	if head {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// newEpoch forgets every pending ack; called when a connection ends.
func (a *acker) newEpoch() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.epoch++
	a.base += uint64(len(a.pending))
	clear(a.pending)
	a.pending = a.pending[:0]
}

// depth is how many received messages are not yet acknowledged.
func (a *acker) depth() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}

// ready takes the acknowledgeable prefix of pending, in order.
func (a *acker) ready() []func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for n < len(a.pending) && a.pending[n].done {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]func(), n)
	for i := range n {
		out[i] = a.pending[i].ack
	}
	rest := copy(a.pending, a.pending[n:])
	clear(a.pending[rest:])
	a.pending = a.pending[:rest]
	a.base += uint64(n)
	return out
}

// run sends acks as they become ready until ctx ends, then sends what is
// ready one last time so a clean stop loses no acknowledgement it could
// give.
func (a *acker) run(ctx context.Context) {
	for {
		select {
		case <-a.wake:
			// Gather the acks of a burst: one wake-up per millisecond
			// at most instead of one per message.
			time.Sleep(ackLinger)
			a.flush()
		case <-ctx.Done():
			a.flush()
			return
		}
	}
}

func (a *acker) flush() {
	for _, ack := range a.ready() {
		ack()
	}
}
