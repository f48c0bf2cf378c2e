package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Load reads a site config, applies defaults, loads and compiles every
// profile its devices name, and validates the whole. When anything is
// wrong it returns a *Problems listing every problem with its file and
// line; an unreadable site file is a plain error wrapping the os error.
//
// Relative paths in the site (profiles_dir, outbox.dir and every *_file)
// are resolved against the site file's directory, so the Site returned
// holds paths usable from the current directory.
func Load(path string) (*Site, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read site %s: %w", path, err)
	}
	return loadSite(path, data)
}

// LoadProfile reads, checks and compiles one profile file (for `icugate
// probe` and icusim). Problems are returned as a *Problems.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
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

// loader carries the state of one Load.
type loader struct {
	c    collector
	site *Site
	d    *doc
	// profileLine is the site line that first named each profile, for
	// problems about the profile as a whole (e.g. its file is missing).
	profileLine map[string]int
}

func loadSite(path string, data []byte) (*Site, error) {
	l := &loader{site: &Site{}, profileLine: map[string]int{}}
	s := l.site
	d, complete := decodeStrict(&l.c, path, data, s)
	l.d = d
	s.File = path
	if !complete {
		return nil, l.c.err()
	}
	applySiteDefaults(s, d, filepath.Dir(path))
	l.loadProfiles()
	for i := range s.Devices {
		if p := s.Profiles[s.Devices[i].Profile]; p != nil {
			applyDeviceProfileDefaults(&s.Devices[i], p)
		}
	}
	l.validate()
	if err := l.c.err(); err != nil {
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
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			l.c.add(l.d.file, line, "device %s: profile %q not found: no file %s", s.Devices[i].ID, name, file)
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
