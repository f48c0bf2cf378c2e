package outbox

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// The model of the outbox that the random-operations test (property_test.go)
// checks against. It knows what was confirmed and acknowledged, in what
// order; what the disk actually holds it learns from diskLog, because
// which telemetry the budget drops, and which bytes damage destroyed, are
// facts about the disk.

// mrec is one record confirmed by Append.
type mrec struct {
	id    string
	class Class
	ord   int // append order; one goroutine appends, so it is Seq order
	data  []byte
	seq   uint64 // Seq as first delivered, 0 before
	acked bool
}

type model struct {
	all     map[string]*mrec
	nextOrd int
	acked   [2][]*mrec // oldest first
	// queue is what must be delivered next, in order: acknowledged
	// entries that may come again after a crash or a lost FRONT, then
	// the waiting ones. queue[c][:cur[c]] is handed out in the batch in
	// flight (or passed by it, when the budget dropped it).
	queue    [2][]*mrec
	cur      [2]int
	inFlight bool
	batch    Batch
	inBatch  map[*mrec]bool
	// Counts since the last Open.
	skips    uint64    // telemetry counted dropped and settled at Ack: passed undelivered, or removed while in flight
	holes    [2]uint64 // damaged indexes found at Open
	lastSeq  uint64
	lastOpen string
}

func newModel() *model { return &model{all: map[string]*mrec{}} }

// appended records a confirmed Append.
func (m *model) appended(recs []Record) {
	for _, r := range recs {
		id, _, _ := strings.Cut(string(r.Data), " ")
		mr := &mrec{id: id, class: r.Class, ord: m.nextOrd, data: r.Data}
		m.nextOrd++
		m.all[id] = mr
		m.queue[r.Class] = append(m.queue[r.Class], mr)
	}
}

// deliver checks a batch from Next against the queue. skipped receives
// entries the outbox passed without delivering (the caller checks they
// are gone from disk). It returns a description of the first violation.
func (m *model) deliver(b Batch, maxEntries, maxBytes int, skipped func(*mrec)) string {
	if len(b.Entries) > maxEntries {
		return fmt.Sprintf("Next(%d, %d) returned %d entries", maxEntries, maxBytes, len(b.Entries))
	}
	size := 0
	var prevSeq uint64
	m.inBatch = map[*mrec]bool{}
	for k, e := range b.Entries {
		size += len(e.Data)
		if k > 0 && size > maxBytes {
			return fmt.Sprintf("Next(%d, %d) returned %d bytes in %d entries", maxEntries, maxBytes, size, len(b.Entries))
		}
		id, _, _ := strings.Cut(string(e.Data), " ")
		r := m.all[id]
		switch {
		case r == nil:
			return fmt.Sprintf("delivered %.40q, which was never appended", e.Data)
		case r.class != e.Class || !bytes.Equal(r.data, e.Data):
			return fmt.Sprintf("delivered %s as %s with different data", r.id, e.Class)
		case r.seq != 0 && r.seq != e.Seq:
			return fmt.Sprintf("%s delivered again with Seq %d, first %d", r.id, e.Seq, r.seq)
		case k > 0 && e.Seq <= prevSeq:
			return fmt.Sprintf("%s has Seq %d after Seq %d in one batch", r.id, e.Seq, prevSeq)
		}
		prevSeq, r.seq = e.Seq, e.Seq
		c := r.class
		p := slices.Index(m.queue[c][m.cur[c]:], r)
		if p < 0 {
			if r.acked {
				return fmt.Sprintf("acknowledged %s delivered again (%s)", r.id, m.lastOpen)
			}
			return fmt.Sprintf("%s delivered out of order or twice", r.id)
		}
		if msg := m.pass(c, m.cur[c]+p, skipped); msg != "" {
			return msg
		}
		m.cur[c]++
		m.inBatch[r] = true
		// Whatever the other class holds that is older was dropped, or
		// delivery left append order.
		o := 1 - c
		end := m.cur[o]
		for end < len(m.queue[o]) && m.queue[o][end].ord < r.ord {
			end++
		}
		if msg := m.pass(o, end, skipped); msg != "" {
			return msg + fmt.Sprintf(" (older than the delivered %s)", r.id)
		}
	}
	if len(b.Entries) == 0 {
		for c := range m.queue {
			if msg := m.pass(Class(c), len(m.queue[c]), skipped); msg != "" {
				return msg + " (Next returned nothing)"
			}
			m.settle(Class(c), func(*mrec) bool { return false })
		}
		return ""
	}
	m.inFlight, m.batch = true, b
	return ""
}

// pass moves class c's cursor to end, past entries that were not
// delivered: allowed for telemetry (dropped), never for state.
func (m *model) pass(c Class, end int, skipped func(*mrec)) string {
	for ; m.cur[c] < end; m.cur[c]++ {
		r := m.queue[c][m.cur[c]]
		if c == State {
			return fmt.Sprintf("state %s was never delivered", r.id)
		}
		skipped(r)
	}
	return ""
}

// settle removes what the consumer has passed: delivered entries become
// acknowledged, the others were dropped. gone says whether a delivered
// entry was already off the disk: the budget removed it while in flight,
// and the outbox counted it dropped then.
func (m *model) settle(c Class, gone func(*mrec) bool) {
	for _, r := range m.queue[c][:m.cur[c]] {
		if !m.inBatch[r] || gone(r) {
			m.skips++
		}
		if m.inBatch[r] && !r.acked {
			r.acked = true
			m.acked[c] = append(m.acked[c], r)
		}
	}
	m.queue[c] = m.queue[c][m.cur[c]:]
	m.cur[c] = 0
}

// ack settles the batch in flight; gone is as for settle.
func (m *model) ack(gone func(*mrec) bool) {
	for c := range m.queue {
		m.settle(Class(c), gone)
	}
	m.inFlight, m.inBatch = false, nil
}

func (m *model) rewind() {
	m.cur = [2]int{}
	m.inFlight, m.inBatch = false, nil
}

// waiting counts, for the accounting checks, entries that must be
// counted: everything queued, the holes found at open, and what was
// dropped and passed since.
func (m *model) waiting() uint64 {
	return uint64(len(m.queue[State])+len(m.queue[Telemetry])) + m.holes[State] + m.holes[Telemetry] + m.skips
}

// reopened rebuilds the queue for an outbox reopened on the directory
// whose class logs were before (as closed or crashed) and after (once
// damaged). It returns a description of the first violation.
func (m *model) reopened(before, after [2]diskLog, crashed bool, frontLost [2]bool) string {
	m.rewind()
	m.skips = 0
	m.lastOpen = fmt.Sprintf("crashed %v, FRONT lost %v", crashed, frontLost)
	for c := range m.queue {
		was, now := before[c].available(), after[c].available()
		for id := range now {
			if m.all[id] == nil {
				return fmt.Sprintf("%s log holds %q, which was never confirmed", Class(c), id)
			}
		}
		var q []*mrec
		files := map[int]bool{}
		queued := map[*mrec]bool{}
		for _, r := range m.queue[c] {
			queued[r] = true // acknowledged ones come again, not yet passed
		}
		for _, r := range m.acked[c] {
			if w, ok := was[r.id]; ok && !queued[r] {
				files[w.file] = true
				if !crashed {
					return fmt.Sprintf("acknowledged %s is still wanted after a clean Close", r.id)
				}
			}
			if _, ok := now[r.id]; ok {
				q = append(q, r) // after a crash, or FRONT lost
			}
		}
		if before[c].hasFront && len(files) > 1 {
			return fmt.Sprintf("after a crash %d segments of acknowledged %s entries come again, want at most one", len(files), Class(c))
		}
		for _, r := range m.queue[c] {
			if r.acked {
				continue
			}
			_, onDisk := was[r.id]
			if _, ok := now[r.id]; ok {
				q = append(q, r)
				continue
			}
			// Not on disk: lost to the damage, or telemetry dropped by the
			// budget (counted in the session that dropped it, a batch in
			// flight at Close included: check saw that count).
			if !onDisk && c == int(State) {
				return fmt.Sprintf("confirmed state %s is gone from disk without damage", r.id)
			}
		}
		m.queue[c] = q
		m.holes[c] = after[c].holes()
	}
	return ""
}
