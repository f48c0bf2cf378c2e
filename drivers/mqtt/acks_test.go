package mqtt

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// wire records the ack packets the acker writes, as a connection would
// send them.
type wire struct {
	mu     sync.Mutex
	writes int
	bytes  []byte
	err    error
}

func (w *wire) writeNoWait(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.writes++
	w.bytes = append(w.bytes, p...)
	return nil
}

// sent decodes the recorded packets as "kind:id" pairs.
func (w *wire) sent(t *testing.T) []ackEntry {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.bytes)%4 != 0 {
		t.Fatalf("%d bytes written, not whole 4-byte ack packets", len(w.bytes))
	}
	var out []ackEntry
	for b := w.bytes; len(b) > 0; b = b[4:] {
		if b[1] != 2 {
			t.Fatalf("remaining length %d, want 2", b[1])
		}
		out = append(out, ackEntry{kind: b[0], id: uint16(b[2])<<8 | uint16(b[3])})
	}
	return out
}

func pubacks(ids ...uint16) []ackEntry {
	out := make([]ackEntry, len(ids))
	for i, id := range ids {
		out[i] = ackEntry{kind: pubackType, id: id}
	}
	return out
}

func TestAckerReleasesInReceiptOrder(t *testing.T) {
	a := newAcker()
	w := &wire{}
	a.newEpoch(w)
	var ids [][2]uint64
	for i := range 5 {
		e, s := a.add(1, uint16(300+i)) // ids above 255 check both bytes
		ids = append(ids, [2]uint64{e, s})
	}
	// The pipeline takes 2, 4 and 1 first: nothing may go out before 0.
	for _, i := range []int{2, 4, 1} {
		a.done(ids[i][0], ids[i][1])
	}
	if got := w.sent(t); len(got) != 0 {
		t.Fatalf("acks %v sent before message 0 was taken", got)
	}
	a.done(ids[0][0], ids[0][1])
	a.done(ids[0][0], ids[0][1]) // twice is harmless
	if got := w.sent(t); !slices.Equal(got, pubacks(300, 301, 302)) || w.writes != 1 {
		t.Fatalf("acks %v in %d writes, want PUBACKs 300 301 302 in one write", got, w.writes)
	}
	a.done(ids[3][0], ids[3][1])
	if got := w.sent(t); !slices.Equal(got, pubacks(300, 301, 302, 303, 304)) || a.depth() != 0 {
		t.Fatalf("acks %v depth %d, want all five and none pending", got, a.depth())
	}
}

func TestAckerAckKindFollowsQoS(t *testing.T) {
	a := newAcker()
	w := &wire{}
	a.newEpoch(w)
	for _, m := range []struct {
		qos byte
		id  uint16
	}{{1, 7}, {0, 0}, {2, 9}, {1, 8}} {
		e, s := a.add(m.qos, m.id)
		a.done(e, s)
	}
	want := []ackEntry{{kind: pubackType, id: 7}, {kind: pubrecType, id: 9}, {kind: pubackType, id: 8}}
	if got := w.sent(t); !slices.Equal(got, want) || a.depth() != 0 {
		t.Fatalf("acks %v depth %d, want %v: QoS 0 needs none, QoS 2 a PUBREC", got, a.depth(), want)
	}
}

func TestAckerNewEpochForgetsPending(t *testing.T) {
	a := newAcker()
	old := &wire{}
	a.newEpoch(old)
	e0, s0 := a.add(1, 1) // never taken by the pipeline
	e1, s1 := a.add(1, 2)
	a.done(e1, s1)
	next := &wire{}
	a.newEpoch(next) // reconnect: the broker will redeliver 1 and 2
	e2, s2 := a.add(1, 1)
	a.done(e2, s2)
	a.done(e0, s0) // a late ack of the old connection does nothing
	if got := old.sent(t); len(got) != 0 {
		t.Fatalf("old connection got acks %v, want none", got)
	}
	if got := next.sent(t); !slices.Equal(got, pubacks(1)) {
		t.Fatalf("acks %v, want only the new connection's [1]: old-connection acks are dropped and do not block", got)
	}
}

func TestAckerLostConnectionDropsAcks(t *testing.T) {
	a := newAcker()
	w := &wire{err: errors.New("connection closed")}
	a.newEpoch(w)
	e, s := a.add(1, 1)
	a.done(e, s) // must neither block nor keep the ack
	if a.depth() != 0 {
		t.Fatalf("depth %d after an ack to a closed connection, want 0", a.depth())
	}
	a.newEpoch(nil) // between connections: nothing to write to
	e, s = a.add(1, 2)
	a.done(e, s)
	if a.depth() != 0 {
		t.Fatalf("depth %d with no connection, want 0", a.depth())
	}
}

func TestAckerConcurrentDoneAllAcked(t *testing.T) {
	a := newAcker()
	w := &wire{}
	a.newEpoch(w)
	const n = 1000
	ids := make([][2]uint64, n)
	want := make([]uint16, n)
	for i := range n {
		e, s := a.add(1, uint16(i+1))
		ids[i] = [2]uint64{e, s}
		want[i] = uint16(i + 1)
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
	if got := w.sent(t); !slices.Equal(got, pubacks(want...)) {
		t.Fatalf("acks out of order or missing: %d sent", len(got))
	}
}
