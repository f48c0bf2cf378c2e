package outbox

import (
	"fmt"
	"sync"

	"github.com/tidwall/wal"
)

// maxGroupReqs bounds how many Append calls one commit serves.
const maxGroupReqs = 4096

// commitLoop owns all writes: it takes every Append waiting, writes them as
// one batch per log with one fsync each, then answers every caller.
func (o *Outbox) commitLoop() {
	defer close(o.done)
	var batches [2]wal.Batch
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
		err := o.commit(group, &batches)
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

// commit makes one group durable.
func (o *Outbox) commit(group []*appendReq, batches *[2]wal.Batch) error {
	var incoming [2]int64
	for _, r := range group {
		for i, rec := range r.recs {
			incoming[r.cls[i]] += entrySize(len(rec))
		}
	}
	now := o.now().UnixNano()

	o.mu.Lock()
	dropTelemetry := o.makeRoomLocked(incoming)
	var next [2]uint64
	var sizes [2]int64
	var counts [2]uint64
	for c := range o.logs {
		next[c] = o.logs[c].last + 1
	}
	for _, r := range group {
		for i, rec := range r.recs {
			c := r.cls[i]
			if c == Telemetry && dropTelemetry {
				o.q.dropped++
				continue
			}
			seal(rec, o.nextSeq, now)
			o.nextSeq++
			batches[c].Write(next[c]+counts[c], rec)
			counts[c]++
			sizes[c] += entrySize(len(rec))
		}
	}
	o.mu.Unlock()

	// Both logs are written and fsynced at the same time: a commit costs
	// one fsync latency, not two.
	var errs [2]error
	var wg sync.WaitGroup
	for c := range batches {
		if counts[c] > 0 {
			wg.Go(func() {
				errs[c] = o.logs[c].log.WriteBatch(&batches[c])
				batches[c].Clear()
			})
		}
	}
	wg.Wait()

	o.mu.Lock()
	defer o.mu.Unlock()
	for c, l := range o.logs {
		if counts[c] == 0 {
			continue
		}
		if errs[c] != nil {
			// Part of the batch may be on disk: follow the log's own view.
			if last, err := l.log.LastIndex(); err == nil {
				l.last = last
			}
			if d, err := dirSize(l.dir); err == nil {
				l.disk = d
			}
			return fmt.Errorf("outbox %s: write %d records: %w", l.class, counts[c], errs[c])
		}
		l.addChunk(next[c], next[c]+counts[c]-1, sizes[c], now)
		l.last = next[c] + counts[c] - 1
		l.disk += sizes[c]
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
	target := need + o.opts.MaxSize/16
	t := o.logs[Telemetry]
	k := t.read
	var freed int64
	for _, ch := range t.chunks {
		if ch.last < t.read {
			continue
		}
		from := max(ch.first, t.read)
		freed += ch.bytes * int64(ch.last+1-from) / int64(ch.last+1-ch.first)
		k = ch.last + 1
		if freed >= target {
			break
		}
	}
	if k > t.read {
		n := k - t.read
		inFlight := t.ack != t.read
		if err := t.truncate(k); err != nil {
			o.logger.Error("outbox: drop oldest telemetry", "err", err)
		} else {
			// A batch in flight keeps its entries in the consumer's hands;
			// they are counted only if it is given back (Rewind).
			t.read = k
			if !inFlight {
				t.ack = k
			}
			o.heads[Telemetry] = nil
			o.q.dropped += n
			o.logger.Warn("outbox: disk budget reached, oldest telemetry dropped",
				"points", n, "max_size", o.opts.MaxSize)
		}
	}
	return over() > 0
}
