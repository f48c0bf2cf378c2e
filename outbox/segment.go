package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// segLog is one class's append-only log: a directory of segment files, each
// named by the first index it was created for (20 digits), plus FRONT, the
// first index still wanted (entries before it are delivered or dropped).
//
// Format 2, written by this code:
//
//	header  "ICUOBX" 0x00 0x02
//	frame   len uint32 | crc32c uint32 | index uint64 | record (len bytes)
//
// The frame's checksum covers its length, index and record, and each frame
// names its own index. So a damaged frame anywhere costs only itself: the
// reader resynchronises on the next offset where a whole frame checks out,
// and the indexes missing between the good frames are exactly what was
// lost. Format 1 (segments of github.com/tidwall/wal, which earlier
// versions used: a uvarint length, then the record) is still read, so an
// outbox that held points across an upgrade delivers them; new points
// always go to format-2 segments.
//
// Why our own format rather than a library: tidwall/wal appends a batch to
// its in-memory segment before writing the file and does not undo that when
// the write fails, so after a full disk a retry shifts every later index
// (issue 12); and a damaged length prefix made it drop the rest of the
// segment. Here a failed write or fsync truncates the file back to the last
// good size, and nothing in memory changes until the write succeeded.
type segLog struct {
	dir     string
	segSize int64 // a segment is closed once it reaches this size
	logger  *slog.Logger
	segs    []*segment
	first   uint64 // first index wanted
	last    uint64 // last index written; first-1 when empty
	tail    *os.File
	// dirty is set when a failed write could not be cut back; the next
	// write cuts again before it appends.
	dirty bool
	cache struct {
		seg  *segment
		data []byte
	}
}

// segment is one file and where each of its entries sits.
type segment struct {
	path   string
	legacy bool     // format 1: read only
	start  uint64   // index of offs[0]
	offs   []uint32 // frame offset per index; missing marks a lost entry
	size   int64    // bytes in the file
}

const missing = ^uint32(0)

var segMagic = []byte("ICUOBX\x00\x02")

const frameHeader = 4 + 4 + 8

// errMissing is returned by Read for an index whose entry was lost to
// damage found when the log was opened.
var errMissing = errors.New("entry lost to a damaged segment")

// loadReport says what opening a log found.
type loadReport struct {
	tornBytes   int64 // cut off the end of the last segment
	damaged     int   // segments with damage in the middle
	damageBytes int64 // bytes skipped inside segments
}

// openSegLog reads every segment of dir (creating dir if needed), cuts a
// torn last write off the newest segment, and maps every good entry.
func openSegLog(dir, quarantine, class string, segSize int64, logger *slog.Logger) (*segLog, loadReport, error) {
	var rep loadReport
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, rep, err
	}
	l := &segLog{dir: dir, segSize: segSize, logger: logger}
	front, err := readFront(dir)
	if err != nil {
		return nil, rep, err
	}
	names, err := segmentStarts(dir)
	if err != nil {
		return nil, rep, err
	}
	// oldest is the file name of the oldest segment kept: the first index
	// it was created for, even when damage took that entry (mapFrames
	// moves segment.start to the first intact frame).
	var oldest uint64
	sawFormat2 := false
	for k, start := range names {
		path := filepath.Join(dir, fmt.Sprintf("%020d", start))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, rep, fmt.Errorf("read %s: %w", path, err)
		}
		lastSeg := k == len(names)-1
		s := &segment{path: path, size: int64(len(data)), start: start}
		var end int // where good data ends; the rest is a torn tail
		var skipped int64
		if len(data) < len(segMagic) && bytes.Equal(data, segMagic[:len(data)]) {
			// A segment whose header never made it to disk whole: empty.
			if err := os.Remove(path); err != nil {
				return nil, rep, fmt.Errorf("remove empty segment %s: %w", path, err)
			}
			continue
		}
		badHeader := false
		switch {
		case bytes.HasPrefix(data, segMagic):
			end, skipped = s.mapFrames(data, l.lastIndex())
		case len(data) == 0:
			end = 0
		case isLegacy(data, start, l.lastIndex(), sawFormat2):
			s.legacy = true
			end = s.mapLegacy(data)
		default:
			// A format-2 segment whose header is damaged: its frames
			// carry their own checksums and indexes, so they are read
			// as usual and only the header is lost.
			badHeader = true
			end, skipped = s.mapFrames(data, l.lastIndex())
			rep.damaged++
			rep.damageBytes += int64(len(segMagic))
			keepAside(path, quarantine, class+"-damaged-", logger)
		}
		sawFormat2 = sawFormat2 || !s.legacy && len(data) > 0
		if skipped > 0 {
			rep.damaged++
			rep.damageBytes += skipped
			keepAside(path, quarantine, class+"-damaged-", logger)
		}
		if end < len(data) {
			if !lastSeg || s.legacy {
				// Not a write torn by a crash: the rest of this segment is
				// damaged. Its entries count as lost by their indexes.
				rep.damaged++
				rep.damageBytes += int64(len(data) - end)
				keepAside(path, quarantine, class+"-damaged-", logger)
			} else {
				keepAside(path, quarantine, class+"-torn-", logger)
				if err := os.Truncate(path, int64(end)); err != nil {
					return nil, rep, fmt.Errorf("cut torn tail of %s: %w", path, err)
				}
				rep.tornBytes += int64(len(data) - end)
				s.size = int64(end)
			}
		}
		if badHeader {
			// Rewrite the header (its copy is kept aside) so that the next
			// Open need not recognise the segment by its frames again.
			if err := rewriteHeader(path); err != nil {
				logger.Warn("outbox: could not repair a damaged segment header", "file", path, "err", err)
			}
		}
		if len(l.segs) == 0 {
			oldest = start
		}
		l.segs = append(l.segs, s)
	}
	// Entries before the oldest segment's name are delivered or dropped.
	// Its name, not the first intact frame, is where wanted entries start:
	// a damaged first entry is then a lost index that delivery counts.
	l.first = front
	if len(l.segs) > 0 && oldest > l.first {
		l.first = oldest
	}
	l.last = max(l.lastIndex(), l.first-1)
	if err := l.dropBefore(l.first); err != nil {
		return nil, rep, err
	}
	if err := l.openTail(); err != nil {
		return nil, rep, err
	}
	return l, rep, nil
}

// lastIndex is the highest index mapped so far (0 when none).
func (l *segLog) lastIndex() uint64 {
	for k := len(l.segs) - 1; k >= 0; k-- {
		if s := l.segs[k]; len(s.offs) > 0 {
			return s.start + uint64(len(s.offs)) - 1
		}
	}
	return 0
}

// mapFrames maps the format-2 frames of data, resynchronising past damage.
// It returns where good data ends (len(data) when the segment ends with a
// good frame) and how many bytes were skipped between good frames.
func (s *segment) mapFrames(data []byte, after uint64) (end int, skipped int64) {
	off := len(segMagic)
	end = off
	prev := after
	for off < len(data) {
		idx, n, ok := frameAt(data, off, prev)
		if !ok {
			next := -1
			for j := off + 1; j+frameHeader <= len(data); j++ {
				if _, _, ok := frameAt(data, j, prev); ok {
					next = j
					break
				}
			}
			if next < 0 {
				return end, skipped
			}
			skipped += int64(next - off)
			off = next
			continue
		}
		if len(s.offs) == 0 {
			s.start = idx
		}
		for s.start+uint64(len(s.offs)) < idx {
			s.offs = append(s.offs, missing)
		}
		s.offs = append(s.offs, uint32(off))
		prev = idx
		off += n
		end = off
	}
	return end, skipped
}

// frameAt checks the frame at off: whole, checksum right, and an index
// after prev (indexes only grow). It returns the index and frame length.
func frameAt(data []byte, off int, prev uint64) (uint64, int, bool) {
	if off+frameHeader > len(data) {
		return 0, 0, false
	}
	n := int(binary.BigEndian.Uint32(data[off:]))
	if n > len(data)-off-frameHeader {
		return 0, 0, false
	}
	sum := crc32.Update(crc32.Checksum(data[off:off+4], castagnoli), castagnoli, data[off+8:off+frameHeader+n])
	if sum != binary.BigEndian.Uint32(data[off+4:]) {
		return 0, 0, false
	}
	idx := binary.BigEndian.Uint64(data[off+8:])
	if idx <= prev && prev != 0 {
		return 0, 0, false
	}
	return idx, frameHeader + n, true
}

// isLegacy decides whether a segment that does not start with the format-2
// header is a format-1 segment, or a format-2 segment whose header is
// damaged. Format-1 segments only precede format-2 ones (an upgrade writes
// only format 2), and a format-1 file is a run of whole records whose
// checksums hold. Failing that, intact format-2 frames whose index fits
// the file's name and size (each checksummed: no format-1 file holds one
// by chance) mark a damaged header; without any, it is a damaged format-1
// segment.
func isLegacy(data []byte, start, after uint64, sawFormat2 bool) bool {
	if len(data) < len(segMagic) {
		return true // too short to hold a frame either way
	}
	if sawFormat2 {
		return false
	}
	if legacyLayout(data) {
		return true
	}
	var probe segment
	probe.mapFrames(data, after)
	fits := len(probe.offs) > 0 && probe.start >= start && probe.start-start <= uint64(len(data)/frameHeader)
	return !fits
}

// legacyLayout reports whether data is wholly format-1 records with good
// checksums.
func legacyLayout(data []byte) bool {
	var s segment
	if s.mapLegacy(data) != len(data) {
		return false
	}
	for _, off := range s.offs {
		size, n := binary.Uvarint(data[off:])
		if _, _, _, err := decodeRecord(data[int(off)+n : int(off)+n+int(size)]); err != nil {
			return false
		}
	}
	return true
}

// rewriteHeader writes the format-2 header over a damaged one.
func rewriteHeader(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(segMagic, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// mapLegacy maps a format-1 segment (uvarint length, record), whose indexes
// follow from the file name. It returns where good framing ends.
func (s *segment) mapLegacy(data []byte) int {
	off := 0
	for off < len(data) {
		size, n := binary.Uvarint(data[off:])
		if n <= 0 || uint64(len(data)-off-n) < size {
			return off
		}
		s.offs = append(s.offs, uint32(off))
		off += n + int(size)
	}
	return off
}

// Read returns the record at index i. The slice is only valid until the
// next call on the log.
func (l *segLog) Read(i uint64) ([]byte, error) {
	if i < l.first || i > l.last {
		return nil, fmt.Errorf("index %d outside [%d, %d]", i, l.first, l.last)
	}
	k := sort.Search(len(l.segs), func(k int) bool { return l.segs[k].start > i }) - 1
	if k < 0 {
		return nil, errMissing
	}
	s := l.segs[k]
	if i-s.start >= uint64(len(s.offs)) || s.offs[i-s.start] == missing {
		return nil, errMissing
	}
	data, err := l.segmentData(s)
	if err != nil {
		return nil, err
	}
	off := int(s.offs[i-s.start])
	if s.legacy {
		size, n := binary.Uvarint(data[off:])
		return data[off+n : off+n+int(size)], nil
	}
	n := int(binary.BigEndian.Uint32(data[off:]))
	return data[off+frameHeader : off+frameHeader+n], nil
}

// segmentData returns a segment's bytes, keeping the last one read in
// memory: delivery reads in order, so one file read serves many entries.
func (l *segLog) segmentData(s *segment) ([]byte, error) {
	if l.cache.seg == s && int64(len(l.cache.data)) == s.size {
		return l.cache.data, nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	if int64(len(data)) < s.size {
		return nil, fmt.Errorf("read %s: %d bytes, want %d (changed under us?)", s.path, len(data), s.size)
	}
	l.cache.seg, l.cache.data = s, data[:s.size]
	return l.cache.data, nil
}

// mark is where the log stood before a write, to undo it.
type mark struct {
	segs  int
	size  int64
	offs  int
	last  uint64
	fresh bool // the write created the tail segment
}

// Write appends records as indexes last+1, last+2, … in one write and one
// fsync. On any failure the file is cut back to where it stood, nothing in
// memory changes, and the error is returned: what Write did not confirm is
// not in the log.
func (l *segLog) Write(recs [][]byte) (mark, error) {
	if l.dirty {
		if err := l.cutTail(); err != nil {
			return mark{}, err
		}
	}
	fresh := false
	if s := l.tailSeg(); s == nil || s.legacy || s.size >= l.segSize || l.tail == nil {
		if err := l.newSegment(l.last + 1); err != nil {
			return mark{}, err
		}
		fresh = true
	}
	s := l.segs[len(l.segs)-1]
	m := mark{segs: len(l.segs), size: s.size, offs: len(s.offs), last: l.last, fresh: fresh}
	var buf []byte
	offs := make([]uint32, 0, len(recs))
	for k, rec := range recs {
		off := s.size + int64(len(buf))
		offs = append(offs, uint32(off))
		buf = appendFrame(buf, l.last+1+uint64(k), rec)
	}
	if _, err := l.tail.WriteAt(buf, s.size); err != nil {
		return mark{}, l.failed(m, fmt.Errorf("write %s: %w", s.path, err))
	}
	if err := l.tail.Sync(); err != nil {
		return mark{}, l.failed(m, fmt.Errorf("fsync %s: %w", s.path, err))
	}
	if len(s.offs) == 0 {
		s.start = l.last + 1
	}
	s.offs = append(s.offs, offs...)
	s.size += int64(len(buf))
	if l.cache.seg == s {
		l.cache.data = append(l.cache.data, buf...)
	}
	l.last += uint64(len(recs))
	return m, nil
}

// appendFrame frames one record with its index.
func appendFrame(buf []byte, idx uint64, rec []byte) []byte {
	var h [frameHeader]byte
	binary.BigEndian.PutUint32(h[0:], uint32(len(rec)))
	binary.BigEndian.PutUint64(h[8:], idx)
	sum := crc32.Update(crc32.Checksum(h[0:4], castagnoli), castagnoli, h[8:])
	sum = crc32.Update(sum, castagnoli, rec)
	binary.BigEndian.PutUint32(h[4:], sum)
	return append(append(buf, h[:]...), rec...)
}

// failed undoes a write that did not complete and returns err.
func (l *segLog) failed(m mark, err error) error {
	if m.fresh {
		l.dropTail()
		return err
	}
	if cerr := l.cutTail(); cerr != nil {
		l.dirty = true
		return errors.Join(err, cerr)
	}
	return err
}

// cutTail truncates the tail file to the size the log last confirmed.
func (l *segLog) cutTail() error {
	s := l.tailSeg()
	if s == nil || l.tail == nil {
		l.dirty = false
		return nil
	}
	if err := l.tail.Truncate(s.size); err != nil {
		return fmt.Errorf("cut %s back to %d bytes: %w", s.path, s.size, err)
	}
	if err := l.tail.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.path, err)
	}
	l.dirty = false
	return nil
}

// Undo removes a confirmed write again (the other class's write of the same
// commit failed, and a commit is all or nothing).
func (l *segLog) Undo(m mark) error {
	if m.fresh {
		l.dropTail()
		l.last = m.last
		return nil
	}
	s := l.segs[m.segs-1]
	s.size, s.offs, l.last = m.size, s.offs[:m.offs], m.last
	if l.cache.seg == s {
		l.cache.seg, l.cache.data = nil, nil
	}
	if err := l.cutTail(); err != nil {
		l.dirty = true
		return err
	}
	return nil
}

// tailSeg is the newest segment, or nil.
func (l *segLog) tailSeg() *segment {
	if len(l.segs) == 0 {
		return nil
	}
	return l.segs[len(l.segs)-1]
}

// newSegment starts a format-2 segment for entries from index start.
func (l *segLog) newSegment(start uint64) error {
	if l.tail != nil {
		if err := l.tail.Close(); err != nil {
			l.logger.Warn("outbox: close segment", "err", err)
		}
		l.tail = nil
	}
	path := filepath.Join(l.dir, fmt.Sprintf("%020d", start))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("create segment %s: %w", path, err)
	}
	if _, err := f.Write(segMagic); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(l.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create segment %s: %w", path, err)
	}
	l.tail = f
	l.segs = append(l.segs, &segment{path: path, start: start, size: int64(len(segMagic))})
	return nil
}

// dropTail removes the newest segment (created by a write that failed).
func (l *segLog) dropTail() {
	s := l.tailSeg()
	if l.tail != nil {
		l.tail.Close()
		l.tail = nil
	}
	if s != nil {
		os.Remove(s.path)
		l.segs = l.segs[:len(l.segs)-1]
		if l.cache.seg == s {
			l.cache.seg, l.cache.data = nil, nil
		}
	}
	l.dirty = false
}

// TruncateFront forgets every entry before index i: FRONT records i, and
// segment files holding nothing at or after i are removed. Removing never
// rewrites a file, so it also works on a full disk.
func (l *segLog) TruncateFront(i uint64) error {
	if i <= l.first {
		return nil
	}
	ferr := writeFront(l.dir, i)
	if ferr != nil {
		// Not fatal: without FRONT a restart delivers the entries of the
		// first remaining segment again, which InfluxDB absorbs.
		l.logger.Warn("outbox: record delivered position", "dir", l.dir, "err", ferr)
	}
	l.first = i
	if l.last+1 < i {
		l.last = i - 1
	}
	return l.dropBefore(i)
}

// dropBefore removes whole segments that hold nothing at or after i.
func (l *segLog) dropBefore(i uint64) error {
	k := 0
	for ; k < len(l.segs); k++ {
		s := l.segs[k]
		end := s.start + uint64(len(s.offs)) // one past the last index it may hold
		if k+1 < len(l.segs) {
			end = l.segs[k+1].start
		}
		if end > i || (k == len(l.segs)-1 && len(s.offs) == 0 && end == i) {
			break
		}
		if s == l.tailSeg() && l.tail != nil {
			l.tail.Close()
			l.tail = nil
		}
		if err := os.Remove(s.path); err != nil && !os.IsNotExist(err) {
			l.segs = append(l.segs[:0], l.segs[k:]...)
			return fmt.Errorf("remove %s: %w", s.path, err)
		}
		if l.cache.seg == s {
			l.cache.seg, l.cache.data = nil, nil
		}
	}
	l.segs = append(l.segs[:0], l.segs[k:]...)
	return nil
}

// Disk is the bytes of the segment files.
func (l *segLog) Disk() int64 {
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// SegmentsBefore counts the segments wholly before index i.
func (l *segLog) SegmentsBefore(i uint64) int {
	n := 0
	for k := 0; k+1 < len(l.segs); k++ {
		if l.segs[k+1].start <= i {
			n++
		}
	}
	return n
}

// Close closes the tail file.
func (l *segLog) Close() error {
	l.cache.seg, l.cache.data = nil, nil
	if l.tail == nil {
		return nil
	}
	err := l.tail.Close()
	l.tail = nil
	return err
}

// openTail opens the newest format-2 segment for appending, if any.
func (l *segLog) openTail() error {
	s := l.tailSeg()
	if s == nil || s.legacy || s.size >= l.segSize {
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	l.tail = f
	return nil
}

// FRONT holds the first wanted index as decimal text.
const frontFile = "FRONT"

func readFront(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, frontFile))
	if os.IsNotExist(err) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Join(dir, frontFile), err)
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil || n == 0 {
		// A damaged FRONT only means delivered entries may come again.
		return 1, nil
	}
	return n, nil
}

// writeFront replaces FRONT atomically (write aside, fsync, rename).
func writeFront(dir string, i uint64) error {
	tmp := filepath.Join(dir, frontFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatUint(i, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, frontFile))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir makes a directory's entries (new, renamed files) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// keepAside copies a damaged segment into the quarantine directory for
// inspection. Best effort: on a full disk the copy fails, which is logged
// and never stops the outbox from opening.
func keepAside(path, quarantine, prefix string, logger *slog.Logger) {
	if err := copyAside(path, quarantine, prefix); err != nil {
		logger.Warn("outbox: could not keep a copy of a damaged segment", "file", path, "err", err)
	}
}
