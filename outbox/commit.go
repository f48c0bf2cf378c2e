package outbox

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// maxGroupReqs bounds how many Append calls one commit serves.
const maxGroupReqs = 4096

// commitLoop owns all writes: it takes every Append waiting, writes them as
// one batch per log with one fsync each, then answers every caller.
func (o *Outbox) commitLoop() {
	defer close(o.done)
	group := make([]*appendReq, 0, 64)
	for {
		group = group[:0]
		select {
		case r := <-o.reqs:
			group = append(group, r)
		case <-o.quit:
			o.failWaiting()
			return
		}
	drain:
		for len(group) < maxGroupReqs {
			select {
			case r := <-o.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		err := o.commit(group)
		for _, r := range group {
			r.done <- err
		}
		if err == nil {
			o.signal()
		}
	}
}

func (o *Outbox) failWaiting() {
	for {
		select {
		case r := <-o.reqs:
			r.done <- ErrClosed
		default:
			return
		}
	}
}

// commit makes one group durable, all or nothing: when either log's write
// fails, the other's is undone too, nothing in memory moves, and every
// caller gets the error (and may retry without duplicates). When the disk
// is full and the group holds state, waiting telemetry is dropped (oldest
// first, counted) to make room and the write is tried once more: state
// and counts come first.
func (o *Outbox) commit(group []*appendReq) error {
	err := o.commitOnce(group)
	if err != nil && errors.Is(err, syscall.ENOSPC) && groupHas(group, State) {
		o.mu.Lock()
		freed := o.dropTelemetryLocked(o.opts.MaxSize/4, "the disk is full")
		o.mu.Unlock()
		if freed > 0 {
			err = o.commitOnce(group)
		}
	}
	return err
}

func groupHas(group []*appendReq, c Class) bool {
	for _, r := range group {
		for _, rc := range r.cls {
			if rc == c {
				return true
			}
		}
	}
	return false
}

func (o *Outbox) commitOnce(group []*appendReq) error {
	var incoming [2]int64
	for _, r := range group {
		for i, rec := range r.recs {
			incoming[r.cls[i]] += int64(frameHeader + len(rec))
		}
	}
	now := o.now().UnixNano()

	o.mu.Lock()
	defer o.mu.Unlock()
	dropTelemetry := o.makeRoomLocked(incoming)
	var recs [2][][]byte
	var sizes [2]int64
	seq := o.nextSeq
	dropped := uint64(0)
	for _, r := range group {
		for i, rec := range r.recs {
			c := r.cls[i]
			if c == Telemetry && dropTelemetry {
				dropped++
				continue
			}
			seal(rec, seq, now)
			seq++
			recs[c] = append(recs[c], rec)
			sizes[c] += int64(frameHeader + len(rec))
		}
	}
	// Both logs are written and fsynced at the same time (a commit costs
	// one fsync latency, not two), under the lock: Next and Ack never see
	// a half-done commit.
	var marks [2]mark
	var errs [2]error
	var wg sync.WaitGroup
	for c, l := range o.logs {
		if len(recs[c]) > 0 {
			wg.Go(func() { marks[c], errs[c] = l.log.Write(recs[c]) })
		}
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		var all []error
		for c, l := range o.logs {
			switch {
			case len(recs[c]) == 0:
			case errs[c] != nil:
				all = append(all, fmt.Errorf("outbox %s: write %d records: %w", l.class, len(recs[c]), errs[c]))
			default:
				// The other log failed: a commit is all or nothing.
				if uerr := l.log.Undo(marks[c]); uerr != nil {
					all = append(all, fmt.Errorf("outbox %s: undo: %w", l.class, uerr))
				}
			}
			l.disk = l.log.Disk()
		}
		return errors.Join(all...)
	}
	o.q.dropped += dropped
	o.nextSeq = seq
	for c, l := range o.logs {
		n := uint64(len(recs[c]))
		if n == 0 {
			continue
		}
		l.addChunk(l.last+1, l.last+n, sizes[c], now)
		l.last += n
		l.disk = l.log.Disk()
	}
	return nil
}

// addChunk records a committed run, merging it into the previous chunk
// while that stays small, so memory grows with data, not with commits.
func (c *classLog) addChunk(first, last uint64, bytes, appended int64) {
	if n := len(c.chunks); n > 0 {
		p := &c.chunks[n-1]
		if p.last+1 == first && p.last-p.first < scanChunk {
			p.last = last
			p.bytes += bytes
			return
		}
	}
	c.chunks = append(c.chunks, chunk{first: first, last: last, bytes: bytes, appended: appended})
}

// makeRoomLocked keeps the outbox within its disk budget before incoming
// bytes are written: first it removes delivered entries, then it drops the
// oldest waiting telemetry, never state. It returns true when telemetry is
// still in the way of the budget, i.e. the incoming telemetry must be
// dropped too (state is written regardless; the excess shows in Stats).
func (o *Outbox) makeRoomLocked(incoming [2]int64) bool {
	over := func() int64 {
		return o.logs[State].disk + o.logs[Telemetry].disk + incoming[State] + incoming[Telemetry] - o.opts.MaxSize
	}
	if over() <= 0 {
		return false
	}
	for _, l := range o.logs {
		if l.ack > l.first {
			if err := l.truncate(l.ack); err != nil {
				o.logger.Error("outbox: free delivered entries", "class", l.class.String(), "err", err)
			}
		}
	}
	need := over()
	if need <= 0 {
		return false
	}
	// Free a little more than needed so drops come in runs rather than
	// rewriting a segment on every commit.
	o.dropTelemetryLocked(need+o.opts.MaxSize/16, "disk budget reached")
	return over() > 0
}

// dropTelemetryLocked drops the oldest waiting telemetry (never a batch in
// flight) until about target bytes are freed, and counts it. It returns the
// number of points dropped.
func (o *Outbox) dropTelemetryLocked(target int64, why string) uint64 {
	t := o.logs[Telemetry]
	// Disk is given back a whole segment at a time, so drops end at a
	// segment boundary (or take the whole log).
	k := t.read
	var freed int64
	for j, s := range t.log.segs {
		end := t.log.last + 1
		if j+1 < len(t.log.segs) {
			end = t.log.segs[j+1].start
		}
		if end <= t.read {
			freed += s.size // delivered; removed with the drop
			continue
		}
		freed += s.size
		k = end
		if freed >= target {
			break
		}
	}
	if k <= t.read {
		return 0
	}
	n := k - t.read
	inFlight := t.ack != t.read
	if inFlight && t.ack >= t.first {
		// The batch in flight goes too, and is counted now: once it is
		// off the disk, a Close or a crash before its Ack loses it, and
		// counting it only at Rewind left that loss uncounted. If the
		// consumer still delivers its copy, those points are counted
		// though delivered: the counter never goes back, and it errs on
		// the side of reporting a loss. Lost entries the batch passed
		// count as quarantined, since no Next passes them again.
		n += t.read - t.ack - t.lostInFlight
		o.q.quarantined += t.lostInFlight
		t.lostInFlight = 0
	}
	if err := t.truncate(k); err != nil {
		o.logger.Error("outbox: drop oldest telemetry", "err", err)
	}
	// A batch in flight stays in flight (ack < first marks it dropped) until
	// the consumer acknowledges or gives it back.
	t.read = k
	if !inFlight {
		t.ack = k
	}
	o.heads[Telemetry] = nil
	o.q.dropped += n
	o.logger.Warn("outbox: oldest telemetry dropped", "why", why, "points", n, "max_size", o.opts.MaxSize)
	return n
}
