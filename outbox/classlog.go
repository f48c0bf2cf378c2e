package outbox

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// classLog is the log of one class (state or telemetry) and what is kept in
// memory about it. Indexes are the log's entry indexes:
//
//	first ≤ ack ≤ read ≤ last+1
//
// [first, ack) is delivered but not yet truncated from disk, [ack, read) is
// in flight with the consumer, [read, last] waits.
type classLog struct {
	class Class
	dir   string
	log   *segLog
	first uint64
	last  uint64
	ack   uint64
	read  uint64
	// lostInFlight counts lost or damaged entries that Next passed behind
	// entries of the batch in flight: they are counted as quarantined when
	// the batch is acknowledged, and passed (and counted) again after a
	// Rewind.
	lostInFlight uint64
	chunks       []chunk // cover [first, last] in order, some may be gone after drops
	disk         int64   // bytes of segment files
}

// chunk summarises a run of entries (one group commit, or a slice of the log
// scanned at open) so sizes and ages need no per-entry memory.
type chunk struct {
	first, last uint64
	bytes       int64
	appended    int64 // unix nanos of the oldest entry
}

// segmentSize is the largest segment: a segment is removed only when all
// of it is delivered or dropped, and delivery keeps one in memory. Small
// budgets get smaller segments (segSizeFor), so drops free disk in steps of
// at most a sixteenth of the budget.
const segmentSize = 4 << 20

// segSizeFor is the segment size for a disk budget.
func segSizeFor(budget int64) int64 {
	return min(max(budget/16, 64<<10), segmentSize)
}

// scanChunk is how many entries one chunk covers when a log is scanned at open.
const scanChunk = 1024

// openClassLog opens (creating if needed) one class log, cutting a torn
// tail, mapping past damage, and scanning every entry to rebuild the
// in-memory summary.
func openClassLog(class Class, dir, quarantine string, segSize int64, q *quarantiner, logger *slog.Logger) (*classLog, uint64, error) {
	l, rep, err := openSegLog(dir, quarantine, class.String(), segSize, logger)
	if err != nil {
		return nil, 0, fmt.Errorf("outbox %s: open %s: %w", class, dir, err)
	}
	if rep.tornBytes > 0 {
		q.tornTail(class, rep.tornBytes)
		logger.Warn("outbox: torn last write skipped", "class", class.String(), "dir", dir, "bytes", rep.tornBytes)
	}
	if rep.damaged > 0 {
		logger.Error("outbox: damaged records found; every intact record is kept, the damaged ones are counted as quarantined when delivery reaches them",
			"class", class.String(), "dir", dir, "segments", rep.damaged, "bytes", rep.damageBytes)
	}
	c := &classLog{class: class, dir: dir, log: l}
	maxSeq := c.scan()
	c.ack, c.read = c.first, c.first
	c.disk = l.Disk()
	return c, maxSeq, nil
}

// scan reads every entry once: it finds the highest sequence number and
// builds the chunk summary. Lost and damaged entries are left for delivery
// to count.
func (c *classLog) scan() uint64 {
	c.first, c.last = c.log.first, c.log.last
	var maxSeq uint64
	var cur *chunk
	for i := c.first; i <= c.last; i++ {
		b, err := c.log.Read(i)
		if err != nil {
			cur = nil
			continue
		}
		seq, appended, _, derr := decodeRecord(b)
		if derr != nil {
			cur = nil
			continue
		}
		maxSeq = max(maxSeq, seq)
		if cur == nil || i-cur.first >= scanChunk || cur.last+1 != i {
			c.chunks = append(c.chunks, chunk{first: i, last: i - 1, appended: appended.UnixNano()})
			cur = &c.chunks[len(c.chunks)-1]
		}
		cur.last = i
		cur.bytes += int64(frameHeader + len(b))
	}
	return maxSeq
}

// pending is the number of entries not yet acknowledged. A batch in flight
// that the budget dropped (ack < first) is counted as dropped, not waiting.
func (c *classLog) pending() uint64 { return c.last + 1 - max(c.ack, c.first) }

// truncate removes entries before index i from disk and from the summary.
func (c *classLog) truncate(i uint64) error {
	if i <= c.first {
		return nil
	}
	err := c.log.TruncateFront(i)
	c.first = i
	k := 0
	for k < len(c.chunks) && c.chunks[k].last < i {
		k++
	}
	c.chunks = append(c.chunks[:0], c.chunks[k:]...)
	if len(c.chunks) > 0 && c.chunks[0].first < i {
		ch := &c.chunks[0]
		ch.bytes = ch.bytes * int64(ch.last+1-i) / int64(ch.last+1-ch.first)
		ch.first = i
	}
	c.disk = c.log.Disk()
	if err != nil {
		return fmt.Errorf("outbox %s: truncate before %d: %w", c.class, i, err)
	}
	return nil
}

// oldest returns when the oldest unacknowledged entry was appended.
func (c *classLog) oldest() (time.Time, bool) {
	for _, ch := range c.chunks {
		if ch.last >= c.ack {
			return time.Unix(0, ch.appended), true
		}
	}
	return time.Time{}, false
}

// segmentStarts lists the first index of each segment file, sorted. The log
// library names segment files by their first index (20 digits).
func segmentStarts(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var starts []uint64
	for _, e := range ents {
		if len(e.Name()) != 20 || e.IsDir() {
			continue
		}
		if n, err := strconv.ParseUint(e.Name(), 10, 64); err == nil {
			starts = append(starts, n)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	return starts, nil
}

// copyAside copies a file into the quarantine directory under a unique name.
func copyAside(path, quarantine, prefix string) error {
	if err := os.MkdirAll(quarantine, 0o750); err != nil {
		return err
	}
	dst := filepath.Join(quarantine, fmt.Sprintf("%s%s-%d", prefix, filepath.Base(path), time.Now().UnixNano()))
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
