package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Load reads a site config, applies defaults, loads and compiles every
// profile its devices name, and validates the whole. When anything is
// wrong it returns a *Problems listing every problem with its file and
// line. A site file that cannot be read, is not a regular file or is
// larger than 4 MiB is a plain error (wrapping the os error, if any).
//
// Relative paths in the site (profiles_dir, outbox.dir and every *_file)
// are resolved against the site file's directory, so the Site returned
// holds paths usable from the current directory.
func Load(path string) (*Site, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read site %s: %w", path, err)
	}
	return loadSiteWith(path, data, nil)
}

// LoadProfile reads, checks and compiles one profile file (for `icugate
// probe` and icusim). Problems are returned as a *Problems.
func LoadProfile(path string) (*Profile, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read profile %s: %w", path, err)
	}
	var c collector
	p := parseProfile(&c, path, data)
	if err := c.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// maxFileSize bounds what is read of a site or profile file. It is
// generous: the demo site (130 devices) is 18 KB and the shipped profiles
// are under 3 KB; a site of 10,000 devices, more than any hospital's ICUs
// hold, is 1.7 MiB with one line per device as in configs/ and 2.4 MiB
// with every key on its own line (TestLargestSiteFitsTheLimit). Anything
// larger is the wrong file (a log, a dump, a device), and decoding it
// would take tens of seconds and gigabytes (a 50 MB site: 23 s, 2.8 GB).
const maxFileSize = 4 << 20

// refusal is readFile's answer for a path that cannot be the file meant.
type refusal string

func (r refusal) Error() string { return string(r) }

// readFile reads a site or profile file: a regular file (a symlink to one
// is fine) of at most maxFileSize bytes. A device or fifo is refused before
// it is opened: /dev/zero never ends and opening a fifo waits for a writer.
// The size is enforced while reading, not taken from Stat, so a file that
// grows or misreports its size (as /proc does) is bounded all the same.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, refusal(kindOf(fi.Mode()) + ", not a regular file; is this the right file?")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One byte more than allowed tells a file of exactly the limit from a
	// larger one.
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, refusal(fmt.Sprintf("larger than %d MiB; is this the right file?", maxFileSize>>20))
	}
	return data, nil
}

// kindOf names what a non-regular file is, for the refusal.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (fifo)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// loader carries the state of one Load.
type loader struct {
	c    collector
	site *Site
	d    *doc
	// profileLine is the site line that first named each profile, for
	// problems about the profile as a whole (e.g. its file is missing).
	profileLine map[string]int
	// included are the site's device_files, grafted into d (include.go);
	// siteLines and nextBase place their lines after the site's.
	included  []included
	siteLines int
	nextBase  int
}

func loadSite(path string, data []byte) (*Site, error) { return loadSiteWith(path, data, nil) }

// loadSiteWith loads a site; ov, when not nil, stands in for one devices
// file (LoadWithDeviceFile).
func loadSiteWith(path string, data []byte, ov *overlay) (*Site, error) {
	l := &loader{site: &Site{}, profileLine: map[string]int{}}
	s := l.site
	d, complete := decodeStrict(&l.c, path, data, s)
	l.d = d
	s.File = path
	if !complete {
		return nil, l.c.err()
	}
	l.includeDeviceFiles(filepath.Dir(path), data, ov)
	applySiteDefaults(s, d, filepath.Dir(path))
	l.loadProfiles()
	for i := range s.Devices {
		if p := s.Profiles[s.Devices[i].Profile]; p != nil {
			applyDeviceProfileDefaults(&s.Devices[i], p)
		}
	}
	l.validate()
	l.relocate()
	if err := l.c.err(); err != nil {
		if ov != nil {
			return s, err // LoadWithDeviceFile: the site as far as it loaded
		}
		return nil, err
	}
	return s, nil
}

// profileRef is what a device may name as its profile: a file name in
// profiles_dir without extension, never a path.
var profileRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// loadProfiles loads each profile named by a device once, in the order
// devices first name them. A profile with problems is still kept (so
// device checks do not cascade), but its problems make Load fail.
func (l *loader) loadProfiles() {
	s := l.site
	s.Profiles = map[string]*Profile{}
	tried := map[string]bool{}
	for i := range s.Devices {
		name := s.Devices[i].Profile
		if name == "" || tried[name] {
			continue
		}
		tried[name] = true
		line := l.d.line("devices", i, "profile")
		l.profileLine[name] = line
		if !profileRef.MatchString(name) || strings.Contains(name, "..") {
			l.c.add(l.d.file, line, "device %s: invalid profile name %q: name a file in profiles_dir without .yaml", s.Devices[i].ID, name)
			continue
		}
		file := filepath.Join(s.ProfilesDir, name+".yaml")
		data, err := readFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			l.c.add(l.d.file, line, "device %s: profile %q not found: no file %s", s.Devices[i].ID, name, file)
			continue
		}
		if ref := refusal(""); errors.As(err, &ref) {
			// The name was right; the file is the problem.
			l.c.add(file, 0, "%v", ref)
			continue
		}
		if err != nil {
			l.c.add(l.d.file, line, "device %s: profile %q: %v", s.Devices[i].ID, name, err)
			continue
		}
		p := parseProfile(&l.c, file, data)
		if p == nil {
			continue
		}
		if p.Name == "" {
			p.Name = name
		}
		s.Profiles[name] = p
	}
}

// parseProfile decodes and checks one profile; it returns nil only when the
// file cannot be parsed at all.
func parseProfile(c *collector, file string, data []byte) *Profile {
	p := &Profile{}
	d, complete := decodeStrict(c, file, data, p)
	if !complete {
		return nil
	}
	p.File = file
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	for i := range p.Values {
		p.Values[i].Line = d.line("values", i)
	}
	applyProfileDefaults(p)
	validateProfile(c, d, p)
	return p
}
