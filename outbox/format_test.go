package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixture copies testdata/name into a new temporary directory.
func fixture(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "outbox")
	copyTree(t, filepath.Join("testdata", name), dst)
	return dst
}

// fixtureWaiting is what the fixtures' generator (testdata/
// fixturegen_test.go.txt) left waiting: records r05 to r13, in order.
func fixtureWaiting() []string {
	classes := []Class{State, Telemetry, Telemetry, Telemetry, State, State, Telemetry, Telemetry, Telemetry, Telemetry, State, State, Telemetry}
	var out []string
	for i, c := range classes {
		n := i + 1
		if n <= 4 {
			continue // delivered before the generator closed the outbox
		}
		if c == State {
			out = append(out, fmt.Sprintf("icu_capacity,unit=cicu free=%di r%02d", n%7, n))
			continue
		}
		pad := strings.Repeat("x", (n%4)*300)
		out = append(out, fmt.Sprintf("icu_device,device=vent-%02d pressure=%d,note=\"%s\" r%02d", n%5, 20+n, pad, n))
	}
	return out
}

// TestOpenEarlierFormats opens outboxes that earlier versions left with
// points waiting, and checks that each point is delivered once, in order,
// and that the directory is then stamped with the current format.
func TestOpenEarlierFormats(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"format1-wal", "format2-unstamped"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := fixture(t, name)
			o := open(t, dir, 1<<20)
			got := drain(t, o, 3)
			if want := fixtureWaiting(); !reflect.DeepEqual(got, want) {
				t.Errorf("delivered %q\nwant %q", got, want)
			}
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, formatFile)); err != nil || string(b) != "2\n" {
				t.Errorf("FORMAT = %q, %v; want 2", b, err)
			}
			o = open(t, dir, 1<<20)
			defer o.Close()
			if got := drain(t, o, 10); len(got) != 0 {
				t.Errorf("after delivery and reopen: %q waits again", got)
			}
		})
	}
}

func TestNewOutboxStamped(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "outbox")
	o := open(t, dir, 1<<20)
	defer o.Close()
	if b, err := os.ReadFile(filepath.Join(dir, formatFile)); err != nil || string(b) != fmt.Sprintf("%d\n", Format) {
		t.Errorf("FORMAT of a new outbox = %q, %v", b, err)
	}
}

// treeState lists every file under dir with its bytes and time.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%x %v", b, fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNewerFormatRefused: an outbox of a newer format is refused at Open
// with a message that says what to do, and nothing in it changes: no
// segment cut or rewritten, no FRONT, no LOCK made.
func TestNewerFormatRefused(t *testing.T) {
	t.Parallel()
	dir := fixture(t, "format2-unstamped")
	if err := os.WriteFile(filepath.Join(dir, formatFile), []byte("3\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// A torn tail, which an Open of a known format would cut.
	seg := filepath.Join(dir, "telemetry", "00000000000000000001")
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1})
	f.Close()
	old := time.Now().Add(-time.Hour)
	for p := range treeState(t, dir) {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	before := treeState(t, dir)

	o, err := Open(Options{Dir: dir})
	if err == nil {
		o.Close()
		t.Fatal("Open of a newer format succeeded")
	}
	if !errors.Is(err, ErrNewerFormat) {
		t.Errorf("error %v is not ErrNewerFormat", err)
	}
	for _, w := range []string{dir, "newer icugate", "format 3", "knows up to 2", "upgrade icugate", "move the directory aside", "nothing was changed"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if after := treeState(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("refused Open changed the directory:\nbefore %v\nafter  %v", before, after)
	}
}

func TestDamagedFormatFileRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, formatFile), []byte("two\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	o, err := Open(Options{Dir: dir})
	if err == nil {
		o.Close()
		t.Fatal("Open with a damaged FORMAT succeeded")
	}
	if !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "write 2 into it") {
		t.Errorf("error %q; want it to say FORMAT is damaged and what to do", err)
	}
}
