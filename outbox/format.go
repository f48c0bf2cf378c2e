package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Format is the outbox layout this code writes, kept as decimal text in
// the file FORMAT of the outbox directory. It numbers the whole directory
// (state/ and telemetry/ with their segments and FRONT, quarantine/), not
// one segment, so that a change of layout that a segment header cannot
// express (a new directory, a new file) is covered too:
//
//	1  segments of github.com/tidwall/wal (before FORMAT existed)
//	2  our own segments (segment.go); still reads format-1 segments, which
//	   are delivered and removed, never rewritten
//
// A directory without FORMAT was written before it existed, by format 1 or
// 2 code; its segments say which (segment.go tells them apart) and Open
// stamps it 2. A newer icugate that changes the layout writes its format to
// FORMAT before anything of the new layout, so that this code, meeting it,
// refuses at Open with ErrNewerFormat and changes nothing (not even LOCK).
const Format = 2

const formatFile = "FORMAT"

// ErrNewerFormat is wrapped by the error of Open when the outbox directory
// was written by a newer icugate.
var ErrNewerFormat = errors.New("outbox is of a newer format")

// NewerFormatError says that an outbox directory was written by a newer
// icugate.
type NewerFormatError struct {
	Dir   string
	Found int // the directory's format
	Known int // the newest this binary reads
}

func (e *NewerFormatError) Error() string {
	return fmt.Sprintf("outbox %s was written by a newer icugate (format %d; this binary knows up to %d): "+
		"upgrade icugate; or, to go back to this version, move the directory aside (the points still in it are then "+
		"not sent; the newer icugate can send them later); nothing was changed", e.Dir, e.Found, e.Known)
}

// Is makes errors.Is(err, ErrNewerFormat) hold.
func (e *NewerFormatError) Is(target error) bool { return target == ErrNewerFormat }

// readFormat returns the format in dir's FORMAT file: 0 when dir or the
// file does not exist (never stamped), an error when it holds no number
// or a newer format than this code reads. It only reads.
func readFormat(dir string) (int, error) {
	path := filepath.Join(dir, formatFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: read %s: %w", path, err)
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("outbox: %s is damaged (%.20q; want a format number): if this version of icugate wrote the outbox, write %d into it", path, b, Format)
	}
	if n > Format {
		return n, &NewerFormatError{Dir: dir, Found: n, Known: Format}
	}
	return n, nil
}

// stampFormat records Format in dir's FORMAT file, atomically.
func stampFormat(dir string) error {
	path := filepath.Join(dir, formatFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(Format) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}
