package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// diskLog is one class directory as the tests read it, straight from the
// format documented in segment.go and independently of segLog: which
// entries are on disk, which indexes are holes, and whether the newest
// file ends in a torn write. The model test uses it as the ground truth
// of what is durable.
type diskLog struct {
	front    uint64 // FRONT, or 1 when there is none
	hasFront bool
	files    []diskFile // sorted by name
}

type diskFile struct {
	path    string
	start   uint64 // from the file name
	size    int
	removed bool // a prefix of the header: Open deletes it as empty
	frames  []diskFrame
	tail    int // bytes after the last intact frame
}

type diskFrame struct {
	idx      uint64
	off, end int
	id       string // the record's data up to the first space
}

// readDiskLog reads a class directory. It fails the test on anything
// that is not format 2.
func readDiskLog(t testing.TB, dir string) diskLog {
	t.Helper()
	d := diskLog{front: 1}
	if b, err := os.ReadFile(filepath.Join(dir, frontFile)); err == nil {
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n == 0 {
			t.Fatalf("FRONT in %s holds %q", dir, b)
		}
		d.front, d.hasFront = n, true
	}
	starts, err := segmentStarts(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, start := range starts {
		path := filepath.Join(dir, segName(start))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f := diskFile{path: path, start: start, size: len(data)}
		switch {
		case len(data) < len(segMagic) && bytes.Equal(data, segMagic[:len(data)]):
			f.removed = true
		case !bytes.HasPrefix(data, segMagic):
			t.Fatalf("%s: not a format-2 segment (header % x)", path, data[:min(len(data), 8)])
		default:
			f.frames, f.tail = scanFrames(data)
		}
		d.files = append(d.files, f)
	}
	return d
}

func segName(start uint64) string { return fmt.Sprintf("%020d", start) }

// scanFrames finds every intact frame: at each offset a frame whose
// length fits and whose checksum matches, otherwise the next byte.
func scanFrames(data []byte) (frames []diskFrame, tail int) {
	end := len(segMagic)
	for off := len(segMagic); off+frameHeader <= len(data); {
		n := int(binary.BigEndian.Uint32(data[off:]))
		if n > len(data)-off-frameHeader {
			off++
			continue
		}
		sum := crc32.Checksum(data[off:off+4], castagnoli)
		sum = crc32.Update(sum, castagnoli, data[off+8:off+frameHeader+n])
		if sum != binary.BigEndian.Uint32(data[off+4:]) {
			off++
			continue
		}
		rec := data[off+frameHeader : off+frameHeader+n]
		id := ""
		if len(rec) > headerLen {
			id, _, _ = strings.Cut(string(rec[headerLen:]), " ")
		}
		frames = append(frames, diskFrame{idx: binary.BigEndian.Uint64(data[off+8:]), off: off, end: off + frameHeader + n, id: id})
		off += frameHeader + n
		end = off
	}
	return frames, len(data) - end
}

// where locates an entry on disk: which file of the log it is in.
type where struct{ file int }

// available maps the id of every intact entry at or after FRONT to its
// file.
func (d diskLog) available() map[string]where {
	m := map[string]where{}
	for k, f := range d.files {
		for _, fr := range f.frames {
			if fr.idx >= d.front {
				m[fr.id] = where{file: k}
			}
		}
	}
	return m
}

// torn reports whether the newest file ends in bytes that are not an
// intact frame: a write cut short, which Open cuts off and counts once.
func (d diskLog) torn() bool {
	if len(d.files) == 0 {
		return false
	}
	f := d.files[len(d.files)-1]
	return !f.removed && f.tail > 0
}

// holes counts the wanted indexes (at or after FRONT and the oldest
// file's start) that no intact frame holds. Indexes run on without gaps
// from file to file (each file is named by the index it starts at), so a
// missing one is a damaged entry. The newest file's tail is a torn write,
// not holes; a file's damaged end before a file that Open deletes as
// empty cannot be measured and is not counted either.
func (d diskLog) holes() (n uint64) {
	var live []diskFile
	for _, f := range d.files {
		if !f.removed {
			live = append(live, f)
		}
	}
	if len(live) == 0 {
		return 0
	}
	lo := max(d.front, live[0].start)
	count := func(from, to uint64) { // [from, to)
		for i := from; i < to; i++ {
			if i >= lo {
				n++
			}
		}
	}
	for k, f := range live {
		next := f.start
		for _, fr := range f.frames {
			count(next, fr.idx)
			next = fr.idx + 1
		}
		if k+1 < len(live) {
			count(next, live[k+1].start)
		}
	}
	return n
}

// bytes is the size of the files Open keeps.
func (d diskLog) bytes() (n int64) {
	for _, f := range d.files {
		if !f.removed {
			n += int64(f.size)
		}
	}
	return n
}
