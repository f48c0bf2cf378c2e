package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/tidwall/wal"
)

// classLog is the log of one class (state or telemetry) and what is kept in
// memory about it. Indexes are the log library's entry indexes:
//
//	first ≤ ack ≤ read ≤ last+1
//
// [first, ack) is delivered but not yet truncated from disk, [ack, read) is
// in flight with the consumer, [read, last] waits.
type classLog struct {
	class Class
	dir   string
	log   *wal.Log
	first uint64
	last  uint64
	ack   uint64
	read  uint64
	// flightEnd is read as it stood after the last Next.
	flightEnd uint64
	chunks    []chunk // cover [first, last] in order, some may be gone after drops
	disk      int64   // bytes of segment files
}

// chunk summarises a run of entries (one group commit, or a slice of the log
// scanned at open) so sizes and ages need no per-entry memory.
type chunk struct {
	first, last uint64
	bytes       int64
	appended    int64 // unix nanos of the oldest entry
}

// segmentSize keeps segments small: truncating the front of a log rewrites
// the rest of the segment it lands in, and the tail segment lives in memory.
const segmentSize = 4 << 20

// scanChunk is how many entries one chunk covers when a log is scanned at open.
const scanChunk = 1024

func walOptions() *wal.Options {
	return &wal.Options{
		SegmentSize:      segmentSize,
		SegmentCacheSize: 2,
		AllowEmpty:       true,
		DirPerms:         0o750,
		FilePerms:        0o640,
	}
}

// openClassLog opens (creating if needed) one class log, repairing a torn
// tail and scanning every entry to rebuild the in-memory summary.
func openClassLog(class Class, dir, quarantine string, q *quarantiner, logger *slog.Logger) (*classLog, uint64, error) {
	l, err := wal.Open(dir, walOptions())
	if errors.Is(err, wal.ErrCorrupt) {
		// A crash in the middle of a write leaves a partial entry at the end
		// of the last segment; the log library refuses to open it.
		n, rerr := repairTail(dir, quarantine, class)
		if rerr != nil {
			return nil, 0, fmt.Errorf("outbox %s: repair torn tail in %s: %w", class, dir, rerr)
		}
		q.tornTail(class, n)
		logger.Warn("outbox: torn last record skipped", "class", class.String(), "dir", dir, "bytes", n)
		l, err = wal.Open(dir, walOptions())
	}
	if err != nil {
		return nil, 0, fmt.Errorf("outbox %s: open %s: %w", class, dir, err)
	}
	c := &classLog{class: class, dir: dir, log: l}
	maxSeq, err := c.scan(q, logger)
	if err != nil {
		_ = l.Close()
		return nil, 0, err
	}
	c.ack, c.read = c.first, c.first
	if c.disk, err = dirSize(dir); err != nil {
		_ = l.Close()
		return nil, 0, err
	}
	return c, maxSeq, nil
}

// scan reads every entry once: it finds the highest sequence number, builds
// the chunk summary and trims invalid entries at the very end (the remains of
// a write torn after its length prefix made it to disk).
func (c *classLog) scan(q *quarantiner, logger *slog.Logger) (uint64, error) {
	var err error
	if c.first, err = c.log.FirstIndex(); err != nil {
		return 0, fmt.Errorf("outbox %s: %w", c.class, err)
	}
	if c.last, err = c.log.LastIndex(); err != nil {
		return 0, fmt.Errorf("outbox %s: %w", c.class, err)
	}
	var maxSeq uint64
	lastGood := c.first - 1
	var cur *chunk
	for i := c.first; i <= c.last; i++ {
		b, err := c.log.Read(i)
		if errors.Is(err, wal.ErrCorrupt) {
			// A damaged segment in the middle: skip it here; it is quarantined
			// when delivery reaches it, after everything before it went out.
			next := nextSegmentStart(c.dir, i, c.last)
			logger.Warn("outbox: corrupt segment found", "class", c.class.String(), "from", i, "to", next-1)
			cur = nil
			i = next - 1
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("outbox %s: read entry %d: %w", c.class, i, err)
		}
		seq, appended, _, derr := decodeRecord(b)
		if derr != nil {
			continue
		}
		lastGood = i
		maxSeq = max(maxSeq, seq)
		if cur == nil || i-cur.first >= scanChunk || cur.last+1 != i {
			c.chunks = append(c.chunks, chunk{first: i, last: i - 1, appended: appended.UnixNano()})
			cur = &c.chunks[len(c.chunks)-1]
		}
		cur.last = i
		cur.bytes += entrySize(len(b))
	}
	if lastGood < c.last && lastGood+1 >= c.first && !c.corruptBetween(lastGood+1) {
		n := c.last - lastGood
		if err := c.log.TruncateBack(lastGood); err != nil {
			return 0, fmt.Errorf("outbox %s: drop %d invalid entries at the end: %w", c.class, n, err)
		}
		q.tornEntries(c.class, n)
		logger.Warn("outbox: invalid entries at the end of the log skipped", "class", c.class.String(), "entries", n)
		c.last = lastGood
	}
	return maxSeq, nil
}

// corruptBetween reports whether a damaged segment lies at or after index i
// (then the trailing entries are not a torn tail and are left to delivery).
func (c *classLog) corruptBetween(i uint64) bool {
	for ; i <= c.last; i++ {
		if _, err := c.log.Read(i); errors.Is(err, wal.ErrCorrupt) {
			return true
		}
	}
	return false
}

// pending is the number of entries not yet acknowledged.
func (c *classLog) pending() uint64 { return c.last + 1 - c.ack }

// truncate removes entries before index i from disk and from the summary.
func (c *classLog) truncate(i uint64) error {
	if i <= c.first {
		return nil
	}
	if err := c.log.TruncateFront(i); err != nil {
		return fmt.Errorf("outbox %s: truncate before %d: %w", c.class, i, err)
	}
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
	var err error
	c.disk, err = dirSize(c.dir)
	return err
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

// nextSegmentStart is the first index of the segment after the one holding
// index i, or last+1 when i is in the last segment.
func nextSegmentStart(dir string, i, last uint64) uint64 {
	starts, _ := segmentStarts(dir)
	for _, s := range starts {
		if s > i {
			return s
		}
	}
	return last + 1
}

// segmentPath is the file holding index i.
func segmentPath(dir string, i uint64) (string, error) {
	starts, err := segmentStarts(dir)
	if err != nil {
		return "", err
	}
	var found uint64
	for _, s := range starts {
		if s <= i {
			found = s
		}
	}
	if found == 0 {
		return "", fmt.Errorf("no segment holds entry %d in %s", i, dir)
	}
	return filepath.Join(dir, fmt.Sprintf("%020d", found)), nil
}

// repairTail cuts a partial entry off the end of the last segment. The
// original file is kept in the quarantine directory. It returns the number
// of bytes cut.
func repairTail(dir, quarantine string, class Class) (int64, error) {
	starts, err := segmentStarts(dir)
	if err != nil || len(starts) == 0 {
		return 0, fmt.Errorf("no segment to repair (%v)", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%020d", starts[len(starts)-1]))
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// Walk the log library's framing (uvarint length, then the entry) to
	// the last entry that is complete.
	off := 0
	for off < len(data) {
		size, n := binary.Uvarint(data[off:])
		if n <= 0 || uint64(len(data)-off-n) < size {
			break
		}
		off += n + int(size)
	}
	if off == len(data) {
		return 0, fmt.Errorf("%s: the last segment is complete; the damage is elsewhere", path)
	}
	if err := copyAside(path, quarantine, class.String()+"-torn-"); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Truncate(int64(off)); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return int64(len(data) - off), nil
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

// dirSize is the total size of the regular files in dir.
func dirSize(dir string) (int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("outbox: size of %s: %w", dir, err)
	}
	var n int64
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n, nil
}
