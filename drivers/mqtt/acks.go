package mqtt

import (
	"sync"
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
// The acker writes the acknowledgement packets itself, into the write
// buffer of the connection the messages came on, instead of calling paho's
// Message.Ack. paho's Ack builds a packet, deletes a store entry and passes
// the packet through two goroutines before it is written: at thousands of
// messages a second those hand-offs were a third of the driver's CPU
// (BenchmarkThroughput). A PUBACK is four bytes that only the connection
// needs; paho keeps no state for received QoS 1 messages once its inbound
// store is bypassed (see sessionStore). Appending to the buffer never waits
// (ackWriter), so Observation.Ack never waits on the network, and acks of a
// burst leave in one write.
//
// Acks are tied to a connection: on every new connection the acker starts a
// new epoch bound to it and forgets what is pending. The broker redelivers
// unacknowledged messages on the persistent session, and an ack for a
// message of a past connection would name a packet id the broker may have
// reused; a message the pipeline never acknowledges then only holds back
// the acks of its own connection, never those of the next.
type acker struct {
	mu      sync.Mutex
	epoch   uint64
	base    uint64 // sequence number of pending[0]
	pending []ackEntry
	w       ackWriter // the connection of this epoch; nil before the first
	out     []byte    // packets being written, reused
}

// ackWriter is where the acker writes acknowledgement packets: the
// buffered connection of the current epoch. writeNoWait appends p to what
// the connection will send, in order with every other packet, and never
// waits; it fails only when the connection is gone.
type ackWriter interface {
	writeNoWait(p []byte) error
}

type ackEntry struct {
	kind byte   // packet type of the ack: pubackType, pubrecType, 0 for none (QoS 0)
	id   uint16 // the PUBLISH's packet id
	done bool
}

// MQTT 3.1.1 fixed-header first bytes of the acks a receiver sends.
const (
	pubackType = 0x40 // QoS 1: PUBACK
	pubrecType = 0x50 // QoS 2: PUBREC (paho completes the flow on PUBREL)
)

func newAcker() *acker { return &acker{} }

// ackKind is the acknowledgement a message of this QoS needs.
func ackKind(qos byte) byte {
	switch qos {
	case 1:
		return pubackType
	case 2:
		return pubrecType
	}
	return 0
}

// add registers a received message (its QoS and packet id) and returns its
// epoch and sequence.
func (a *acker) add(qos byte, id uint16) (epoch, seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seq = a.base + uint64(len(a.pending))
	a.pending = append(a.pending, ackEntry{kind: ackKind(qos), id: id})
	return a.epoch, seq
}

// done marks a message ready to acknowledge and, when it completes the
// acknowledgeable prefix, writes that prefix's acks. Safe to call more than
// once and from any goroutine; it never waits on the network. Calls for a
// past epoch do nothing.
func (a *acker) done(epoch, seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if epoch != a.epoch || seq < a.base || seq >= a.base+uint64(len(a.pending)) {
		return
	}
	a.pending[seq-a.base].done = true
	if seq == a.base {
		a.release()
	}
}

// release writes the acks of the acknowledgeable prefix of pending, in
// order, and drops them. Called with mu held, so the packets go to the
// connection of the epoch they belong to.
func (a *acker) release() {
	n := 0
	out := a.out[:0]
	for n < len(a.pending) && a.pending[n].done {
		if e := a.pending[n]; e.kind != 0 {
			out = append(out, e.kind, 2, byte(e.id>>8), byte(e.id))
		}
		n++
	}
	if len(out) > 0 && a.w != nil {
		// An error means the connection is gone: the broker redelivers
		// these messages on the next one, and the epoch ends with it.
		_ = a.w.writeNoWait(out)
	}
	a.out = out[:0]
	rest := copy(a.pending, a.pending[n:])
	clear(a.pending[rest:])
	a.pending = a.pending[:rest]
	a.base += uint64(n)
}

// newEpoch forgets every pending ack and binds the acker to the next
// connection's writer (nil: none yet).
func (a *acker) newEpoch(w ackWriter) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.epoch++
	a.base += uint64(len(a.pending))
	clear(a.pending)
	a.pending = a.pending[:0]
	a.w = w
}

// depth is how many received messages are not yet acknowledged.
func (a *acker) depth() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}
