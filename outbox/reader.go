package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Entry is one queued record as handed to the consumer.
type Entry struct {
	Class    Class
	Seq      uint64    // global append order
	Appended time.Time // when it was appended (for lag)
	Data     []byte
	index    uint64
}

// Batch is what Next hands out: entries in append order, and where each log
// stands after them. Ack it once the peer accepted every entry.
type Batch struct {
	Entries []Entry
	end     [2]uint64
}

// Next returns up to maxEntries waiting entries (and up to maxBytes of data,
// but at least one entry) in append order, without blocking; it returns an
// empty batch when nothing waits. The entries stay on disk until Ack. Next
// must not be called while a batch is in flight (Ack or Rewind first):
// delivery is strictly one batch at a time, which keeps order simple.
func (o *Outbox) Next(maxEntries, maxBytes int) (Batch, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return Batch{}, ErrClosed
	}
	for _, l := range o.logs {
		if l.read != l.ack {
			return Batch{}, errors.New("outbox: Next called with a batch in flight; Ack or Rewind it first")
		}
	}
	var b Batch
	size := 0
	for len(b.Entries) < maxEntries {
		var pick *Entry
		for c := range o.logs {
			e, err := o.peekLocked(Class(c))
			if err != nil {
				return Batch{}, err
			}
			if e != nil && (pick == nil || e.Seq < pick.Seq) {
				pick = e
			}
		}
		if pick == nil || (len(b.Entries) > 0 && size+len(pick.Data) > maxBytes) {
			break
		}
		b.Entries = append(b.Entries, *pick)
		size += len(pick.Data)
		o.logs[pick.Class].read = pick.index + 1
		o.heads[pick.Class] = nil
	}
	for c, l := range o.logs {
		b.end[c] = l.read
		if len(b.Entries) == 0 {
			l.ack = l.read // only skipped (quarantined) entries were passed
		}
	}
	return b, nil
}

// peekLocked returns the next readable entry of a class, counting what is
// lost or damaged on the way; nil when the class has nothing waiting.
func (o *Outbox) peekLocked(c Class) (*Entry, error) {
	if o.heads[c] != nil {
		return o.heads[c], nil
	}
	l := o.logs[c]
	for l.read <= l.last {
		b, err := l.log.Read(l.read)
		if errors.Is(err, errMissing) {
			// Lost to damage found at open (the segment's copy is in the
			// quarantine directory): counted once, as the consumer passes.
			o.skipLocked(l)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("outbox %s: read entry %d: %w", c, l.read, err)
		}
		seq, appended, data, derr := decodeRecord(b)
		if derr != nil {
			o.quarantineRecordLocked(l, b)
			o.skipLocked(l)
			continue
		}
		o.heads[c] = &Entry{Class: c, Seq: seq, Appended: appended, Data: data, index: l.read}
		return o.heads[c], nil
	}
	return nil, nil
}

// skipLocked passes an entry that cannot be delivered and counts it as
// quarantined. Passed behind entries of the batch being handed out, it is
// only counted once that batch is acknowledged: a Rewind gives the batch
// back, and the next Next passes the entry again.
func (o *Outbox) skipLocked(l *classLog) {
	if l.ack == l.read {
		l.ack++
		o.q.quarantined++
	} else {
		l.lostInFlight++
	}
	l.read++
}

// quarantineRecordLocked keeps a damaged entry's bytes aside (skipLocked
// counts it).
func (o *Outbox) quarantineRecordLocked(l *classLog, b []byte) {
	name := filepath.Join(o.qdir, fmt.Sprintf("%s-record-%d-%d", l.class, l.read, time.Now().UnixNano()))
	err := os.MkdirAll(o.qdir, 0o750)
	if err == nil {
		err = os.WriteFile(name, b, 0o640)
	}
	o.logger.Error("outbox: corrupt record quarantined", "class", l.class.String(),
		"entry", l.read, "file", name, "err", err)
}

// Ack confirms that every entry of b was accepted by the peer: they are
// removed (lazily, a segment at a time, or at once when all is delivered).
func (o *Outbox) Ack(b Batch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	var errs []error
	for c, l := range o.logs {
		// read is past b.end only when the budget dropped waiting
		// telemetry behind the batch; those are counted already.
		if l.read >= b.end[c] && l.read > l.ack {
			l.ack = l.read
		}
		// The lost entries the batch passed are passed for good.
		o.q.quarantined += l.lostInFlight
		l.lostInFlight = 0
		if err := l.trimDelivered(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// trimDelivered removes delivered entries from disk when that frees a
// whole segment or everything is delivered. After a crash the delivered
// entries of a partly delivered segment come again, which InfluxDB absorbs
// (same series and time overwrite).
func (l *classLog) trimDelivered() error {
	if l.ack <= l.first {
		return nil
	}
	if l.ack > l.last || l.log.SegmentsBefore(l.ack) > 0 {
		return l.truncate(l.ack)
	}
	return nil
}

// Rewind gives back the batch in flight without acknowledging it: the next
// Next starts again from the first unacknowledged entry. In-flight telemetry
// that the disk budget removed meanwhile was counted as dropped when it was
// removed; delivery goes on after it.
func (o *Outbox) Rewind() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for c, l := range o.logs {
		l.ack = max(l.ack, l.first)
		l.read = l.ack
		l.lostInFlight = 0 // passed, and counted, again by the next Next
		o.heads[c] = nil
	}
}
