package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/icugate/icugate/store"
)

const restoreUsage = `usage: icugate restore -data DIR -i BACKUP.tar.gz [-config-dir DIR]

Puts the state.db of a backup (icugate backup) back into the data
directory, and with -config-dir the site file and the files it named into
that directory. Before changing anything it checks every file against the
manifest's SHA-256 and the state.db's format (a backup of a newer format
is refused: restore it with that version of icugate), and it refuses while
a gateway runs on DIR (stop it first). The state.db it replaces is kept as
state.db.before-restore, and a config file it replaces as
FILE.before-restore. See docs/upgrades.md.
`

func runRestore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "", "data `directory` to restore state.db into (required)")
	in := fs.String("i", "", "backup `file` (.tar.gz) written by icugate backup")
	configDir := fs.String("config-dir", "", "also restore the site file and the files it names into this `directory`")
	fs.Usage = func() {
		fmt.Fprint(stderr, restoreUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *dataDir == "" || *in == "" {
		fmt.Fprintln(stderr, "icugate restore: -data DIR and -i BACKUP.tar.gz are required, and nothing else after the flags")
		return 2
	}
	m, err := restore(*in, *dataDir, *configDir, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "icugate restore: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored state.db (format %d) of %s, backed up %s by icugate %s, into %s\n",
		m.StateFormat, m.Hospital, m.Created.Format("2006-01-02 15:04 MST"), m.Version, *dataDir)
	// Install refuses when a kept copy is there already: one there now
	// is the state.db this restore replaced.
	if kept := filepath.Join(*dataDir, "state.db"+store.BeforeRestore); fileExists(kept) {
		fmt.Fprintf(stdout, "the state.db it replaced is kept as %s\n", kept)
	}
	return 0
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// unpacked is a backup read and checked: state.db in a temporary file
// beside the live one, config files in memory.
type unpacked struct {
	m      manifest
	state  string
	config map[string][]byte
}

// restore checks the backup in, then puts it in place. Nothing changes
// when a check fails.
func restore(in, dataDir, configDir string, stdout io.Writer) (*manifest, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, err
	}
	u, err := unpack(in, dataDir, configDir != "")
	if u != nil && u.state != "" {
		defer os.Remove(u.state) // gone once installed
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w; nothing was changed", in, err)
	}
	if u.m.StateFormat > store.Format {
		return nil, fmt.Errorf("%s holds a state.db of format %d, newer than this icugate knows (up to %d): restore it with icugate %s or newer; nothing was changed",
			in, u.m.StateFormat, store.Format, u.m.Version)
	}
	var writes []configWrite
	if configDir != "" {
		if writes, err = planConfig(u, configDir); err != nil {
			return nil, fmt.Errorf("%w; nothing was changed", err)
		}
	}
	if err := store.Install(filepath.Join(dataDir, "state.db"), u.state); err != nil {
		return nil, fmt.Errorf("%w; nothing was changed", err)
	}
	for i, w := range writes {
		if err := w.apply(); err != nil {
			return nil, fmt.Errorf("state.db is restored, and %d of %d config files, but %s failed: %w", i, len(writes), w.path, err)
		}
		fmt.Fprintf(stdout, "restored %s\n", w.path)
		if w.outside != "" {
			fmt.Fprintf(stdout, "%s was outside the site's directory, at %s: copy it back there if that is still where the site names it\n", w.path, w.outside)
		}
	}
	return &u.m, nil
}

// unpack reads the archive, writing state.db to a temporary file in
// dataDir, and checks every entry against the manifest.
func unpack(in, dataDir string, keepConfig bool) (*unpacked, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("not a backup of icugate (gzip: %w)", err)
	}
	u := &unpacked{config: map[string][]byte{}}
	sums := map[string]manifestFile{}
	var haveManifest bool
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return u, fmt.Errorf("damaged archive: %w", err)
		}
		name := hdr.Name
		if hdr.Typeflag != tar.TypeReg || !validName(name) {
			return u, fmt.Errorf("unexpected entry %q: not a backup written by icugate", name)
		}
		if _, dup := sums[name]; dup || name == manifestName && haveManifest {
			return u, fmt.Errorf("entry %q appears twice", name)
		}
		h := sha256.New()
		var n int64
		switch {
		case name == manifestName:
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return u, fmt.Errorf("damaged archive: %w", err)
			}
			if err := json.Unmarshal(b, &u.m); err != nil {
				return u, fmt.Errorf("manifest.json: %w", err)
			}
			if u.m.Layout < 1 || u.m.Layout > backupLayout {
				return u, fmt.Errorf("the backup's layout is %d; this icugate reads up to %d: restore it with icugate %s or newer", u.m.Layout, backupLayout, u.m.Version)
			}
			haveManifest = true
			continue
		case name == stateName:
			tmp, err := os.CreateTemp(dataDir, ".state.db.restore-*")
			if err != nil {
				return u, err
			}
			u.state = tmp.Name()
			n, err = io.Copy(io.MultiWriter(tmp, h), tr)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return u, fmt.Errorf("state.db: %w", err)
			}
		default:
			var buf bytes.Buffer
			n, err = io.Copy(io.MultiWriter(&buf, h), io.LimitReader(tr, maxConfigFile+1))
			if err != nil {
				return u, fmt.Errorf("damaged archive: %w", err)
			}
			if keepConfig {
				u.config[name] = buf.Bytes()
			}
		}
		sums[name] = manifestFile{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	// Read to the end: gzip checks its CRC there.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return u, fmt.Errorf("damaged archive: %w", err)
	}
	if !haveManifest {
		return u, errors.New("no manifest.json: not a backup written by icugate")
	}
	for _, want := range u.m.Files {
		got, ok := sums[want.Name]
		switch {
		case !ok:
			return u, fmt.Errorf("%s is in the manifest but not in the archive", want.Name)
		case got.Size != want.Size || got.SHA256 != want.SHA256:
			return u, fmt.Errorf("%s does not match its checksum in the manifest: the backup is damaged", want.Name)
		}
		delete(sums, want.Name)
	}
	for name := range sums {
		return u, fmt.Errorf("%s is in the archive but not in its manifest", name)
	}
	if u.state == "" {
		return u, errors.New("the backup holds no state.db")
	}
	format, err := store.Verify(u.state)
	if err != nil {
		return u, err
	}
	if format != u.m.StateFormat {
		return u, fmt.Errorf("state.db is of format %d but the manifest says %d", format, u.m.StateFormat)
	}
	return u, nil
}

// validName accepts the names a backup holds: clean, relative, under the
// known prefixes, never leaving them.
func validName(name string) bool {
	if name == manifestName || name == stateName {
		return true
	}
	if path.Clean(name) != name || path.IsAbs(name) || strings.Contains(name, "\\") {
		return false
	}
	for _, p := range []string{configPrefix, outsidePrefix} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && rest != ".." && !strings.HasPrefix(rest, "../") {
			return true
		}
	}
	return false
}

// configWrite is one config file to put in place.
type configWrite struct {
	path    string
	data    []byte
	mode    os.FileMode
	outside string // the original path, for a file outside the site's directory
	// ownerOf is the file whose owner and group the file gets: the one it
	// replaces, else the config directory (restore runs as root, the
	// gateway as its own user, who must still read its config).
	ownerOf string
}

// planConfig decides where each config file goes and refuses before
// anything is written when a file would replace an earlier kept copy.
func planConfig(u *unpacked, configDir string) ([]configWrite, error) {
	var out []configWrite
	for _, f := range u.m.Files {
		if f.Name == stateName {
			continue
		}
		w := configWrite{data: u.config[f.Name], mode: f.perm()}
		if rel, ok := strings.CutPrefix(f.Name, configPrefix); ok {
			w.path = filepath.Join(configDir, filepath.FromSlash(rel))
		} else {
			rel := strings.TrimPrefix(f.Name, outsidePrefix)
			w.path, w.outside = filepath.Join(configDir, "outside", filepath.FromSlash(rel)), f.Source
		}
		w.ownerOf = configDir
		if fileExists(w.path) {
			w.ownerOf = w.path
		}
		if old, err := os.ReadFile(w.path); err == nil && !bytes.Equal(old, w.data) {
			if _, err := os.Lstat(w.path + store.BeforeRestore); err == nil {
				return nil, fmt.Errorf("%s is there from an earlier restore: move it away (or delete it) first, so that it is not overwritten", w.path+store.BeforeRestore)
			}
		}
		out = append(out, w)
	}
	return out, nil
}

// apply writes the file atomically, keeping a different file it replaces
// as FILE.before-restore.
func (w configWrite) apply() error {
	if err := os.MkdirAll(filepath.Dir(w.path), 0o750); err != nil {
		return err
	}
	if old, err := os.ReadFile(w.path); err == nil {
		if bytes.Equal(old, w.data) {
			return nil
		}
		if err := os.Link(w.path, w.path+store.BeforeRestore); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(w.path), ".restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(w.data)
	if err == nil {
		err = tmp.Chmod(w.mode)
	}
	if fi, serr := os.Stat(w.ownerOf); err == nil && serr == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			err = tmp.Chown(int(st.Uid), int(st.Gid))
		}
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), w.path)
}
