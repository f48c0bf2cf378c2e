package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// seg builds a format-2 segment from frames with consecutive indexes.
func seg(first uint64, recs ...string) []byte {
	b := append([]byte(nil), segMagic...)
	for k, r := range recs {
		b = appendFrame(b, first+uint64(k), []byte(r))
	}
	return b
}

// frame is one format-2 frame on its own.
func frame(idx uint64, rec string) []byte { return appendFrame(nil, idx, []byte(rec)) }

// legacy builds a format-1 segment (tidwall/wal: uvarint length, record).
func legacy(recs ...string) []byte {
	var b []byte
	for _, r := range recs {
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// flip returns a copy of b with the byte at i inverted.
func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}

type segFile struct {
	start uint64
	data  []byte
}

func TestOpenSegLogCraftedSegments(t *testing.T) {
	t.Parallel()
	abc := seg(1, "a", "bb", "ccc")
	fa, fb, fc := frame(1, "a"), frame(2, "bb"), frame(3, "ccc")
	hdr := len(segMagic)
	tests := []struct {
		name  string
		files []segFile
		front string // FRONT's content; none when empty
		// want: every index in [first, last], "" for an entry lost to damage
		first uint64
		want  []string
		rep   loadReport
		sizes []int64 // segment file sizes after open (nil: unchanged)
	}{
		{name: "three good frames", files: []segFile{{1, abc}}, first: 1, want: []string{"a", "bb", "ccc"}},
		{name: "empty file is removed", files: []segFile{{1, nil}}, first: 1},
		{name: "part of a header is removed", files: []segFile{{1, segMagic[:5]}}, first: 1},
		{name: "header only", files: []segFile{{1, segMagic}}, first: 1, sizes: []int64{int64(hdr)}},
		{name: "short frame header is a torn write", files: []segFile{{1, cat(seg(1, "a", "bb"), fc[:10])}},
			first: 1, want: []string{"a", "bb"}, rep: loadReport{tornBytes: 10}, sizes: []int64{int64(hdr + len(fa) + len(fb))}},
		{name: "short frame body is a torn write", files: []segFile{{1, abc[:len(abc)-2]}},
			first: 1, want: []string{"a", "bb"}, rep: loadReport{tornBytes: int64(len(fc) - 2)}},
		{name: "bad CRC in the last frame is a torn write", files: []segFile{{1, flip(abc, len(abc)-1)}},
			first: 1, want: []string{"a", "bb"}, rep: loadReport{tornBytes: int64(len(fc))}},
		{name: "zeros after the last frame are a torn write", files: []segFile{{1, cat(abc, make([]byte, 37))}},
			first: 1, want: []string{"a", "bb", "ccc"}, rep: loadReport{tornBytes: 37}},
		{name: "bad CRC in a middle frame costs only it", files: []segFile{{1, cat(segMagic, fa, flip(fb, 4), fc)}},
			first: 1, want: []string{"a", "", "ccc"}, rep: loadReport{damaged: 1, damageBytes: int64(len(fb))}},
		{name: "length overflow in a middle frame costs only it", files: []segFile{{1, cat(segMagic, fa, []byte{0xff, 0xff, 0xff, 0xff}, fb[4:], fc)}},
			first: 1, want: []string{"a", "", "ccc"}, rep: loadReport{damaged: 1, damageBytes: int64(len(fb))}},
		{name: "resync after garbage between frames", files: []segFile{{1, cat(segMagic, fa, []byte("garbage"), fb, fc)}},
			first: 1, want: []string{"a", "bb", "ccc"}, rep: loadReport{damaged: 1, damageBytes: 7}},
		{name: "a repeated index is not a second entry", files: []segFile{{1, cat(segMagic, fa, fb, fb, fc)}},
			first: 1, want: []string{"a", "bb", "ccc"}, rep: loadReport{damaged: 1, damageBytes: int64(len(fb))}},
		{name: "damaged end of an older segment is lost, not torn", files: []segFile{{1, flip(abc, len(abc)-1)}, {4, seg(4, "d")}},
			first: 1, want: []string{"a", "bb", "", "d"}, rep: loadReport{damaged: 1, damageBytes: int64(len(fc))}},
		{name: "FRONT skips delivered entries", files: []segFile{{1, abc}}, front: "3\n", first: 3, want: []string{"ccc"}},
		{name: "unreadable FRONT delivers from the start", files: []segFile{{1, abc}}, front: "x", first: 1, want: []string{"a", "bb", "ccc"}},
		{name: "FRONT past the segments", files: []segFile{{1, abc}}, front: "9", first: 9},
		{name: "legacy segment", files: []segFile{{1, legacy("a", "bb", "ccc")}}, first: 1, want: []string{"a", "bb", "ccc"}},
		{name: "legacy segment cut short is damage, not a torn write", files: []segFile{{1, legacy("a", "bb", "ccc")[:7]}},
			first: 1, want: []string{"a", "bb"}, rep: loadReport{damaged: 1, damageBytes: 2}},
		{name: "legacy length overflow", files: []segFile{{1, cat(legacy("a"), []byte{0xff, 0xff, 0xff, 0x0f, 'x'})}},
			first: 1, want: []string{"a"}, rep: loadReport{damaged: 1, damageBytes: 5}},
		{name: "legacy then format 2", files: []segFile{{1, legacy("a", "bb")}, {3, seg(3, "ccc")}},
			first: 1, want: []string{"a", "bb", "ccc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "s")
			if err := os.MkdirAll(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, segName(f.start)), f.data, 0o640); err != nil {
					t.Fatal(err)
				}
			}
			if tc.front != "" {
				if err := os.WriteFile(filepath.Join(dir, frontFile), []byte(tc.front), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			l, rep, err := openSegLog(dir, filepath.Join(dir, "..", "q"), "state", 64<<10, discard)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if rep != tc.rep {
				t.Errorf("report %+v, want %+v", rep, tc.rep)
			}
			if l.first != tc.first || l.last != tc.first+uint64(len(tc.want))-1 {
				t.Errorf("entries [%d, %d], want [%d, %d]", l.first, l.last, tc.first, tc.first+uint64(len(tc.want))-1)
			}
			for k, want := range tc.want {
				i := tc.first + uint64(k)
				got, err := l.Read(i)
				switch {
				case want == "" && !errors.Is(err, errMissing):
					t.Errorf("entry %d: %q, %v; want it lost", i, got, err)
				case want != "" && (err != nil || string(got) != want):
					t.Errorf("entry %d: %q, %v; want %q", i, got, err, want)
				}
			}
			starts, _ := segmentStarts(dir)
			for k, size := range tc.sizes {
				fi, err := os.Stat(filepath.Join(dir, segName(starts[k])))
				if err != nil || fi.Size() != size {
					t.Errorf("segment %d after open: %v, %v; want %d bytes", k, fi.Size(), err, size)
				}
			}
			if len(tc.files) == 1 && len(tc.files[0].data) < hdr && bytes.HasPrefix(segMagic, tc.files[0].data) && len(starts) != 0 {
				t.Errorf("an empty segment was kept: %v", starts)
			}
		})
	}
}

// The frame layout is the documented one: len | crc32c(len, index, record)
// | index | record, big-endian.
func TestFrameLayout(t *testing.T) {
	t.Parallel()
	got := frame(7, "rec")
	want := []byte{0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 'r', 'e', 'c'}
	sum := crc32.Checksum(append(append([]byte{0, 0, 0, 3}, want[8:16]...), "rec"...), crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(want[4:], sum)
	if !bytes.Equal(got, want) {
		t.Fatalf("frame % x, want % x", got, want)
	}
}

// Writing after a torn tail was cut continues at the cut: the indexes
// the torn write never confirmed are given again, and a reopen reads the
// log whole.
func TestSegLogWritesAfterTornTail(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "s")
	os.MkdirAll(dir, 0o750)
	abc := seg(1, "a", "bb", "ccc")
	if err := os.WriteFile(filepath.Join(dir, segName(1)), abc[:len(abc)-1], 0o640); err != nil {
		t.Fatal(err)
	}
	l, _, err := openSegLog(dir, filepath.Join(dir, "q"), "state", 64<<10, discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([][]byte{[]byte("C"), []byte("D")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, rep, err := openSegLog(dir, filepath.Join(dir, "q"), "state", 64<<10, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got []string
	for i := l.first; i <= l.last; i++ {
		b, err := l.Read(i)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	if rep != (loadReport{}) || fmt.Sprint(got) != "[a bb C D]" {
		t.Fatalf("after reopen %+v %v, want a clean [a bb C D]", rep, got)
	}
}

// Segments roll over at the segment size, TruncateFront removes whole
// segments only and records FRONT, and the disk figure follows the files.
func TestSegLogRollAndTruncateFront(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "s")
	l, _, err := openSegLog(dir, filepath.Join(dir, "q"), "state", 100, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec := bytes.Repeat([]byte("r"), 40) // frame 56 bytes: two per segment
	for range 6 {
		if _, err := l.Write([][]byte{rec}); err != nil {
			t.Fatal(err)
		}
	}
	starts, _ := segmentStarts(dir)
	if fmt.Sprint(starts) != "[1 3 5]" {
		t.Fatalf("segments start at %v, want [1 3 5]", starts)
	}
	if got := l.SegmentsBefore(4); got != 1 {
		t.Fatalf("SegmentsBefore(4) = %d, want 1", got)
	}
	if err := l.TruncateFront(4); err != nil {
		t.Fatal(err)
	}
	starts, _ = segmentStarts(dir)
	if fmt.Sprint(starts) != "[3 5]" || l.first != 4 || l.Disk() != 2*(8+2*56) {
		t.Fatalf("after TruncateFront(4): segments %v, first %d, disk %d", starts, l.first, l.Disk())
	}
	if f, _ := readFront(dir); f != 4 {
		t.Fatalf("FRONT = %d, want 4", f)
	}
	if _, err := l.Read(3); err == nil {
		t.Fatal("entry 3 readable after TruncateFront(4)")
	}
}

func TestSegSizeFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ budget, want int64 }{
		{0, 64 << 10}, {512 << 10, 64 << 10}, {16 << 20, 1 << 20}, {1 << 30, segmentSize},
	} {
		if got := segSizeFor(tc.budget); got != tc.want {
			t.Errorf("segSizeFor(%d) = %d, want %d", tc.budget, got, tc.want)
		}
	}
}
