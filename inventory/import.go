package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/icugate/icugate/config"
)

// Import is one CMMS export to turn into a site's devices file.
type Import struct {
	// Site is the site file the devices belong to.
	Site string
	// Source names the export in problems and in the file's header.
	Source string
	// Data is the export's bytes.
	Data []byte
	// Target is the devices file to write; "" is the site's first
	// device_files entry.
	Target string
	// Mapping maps the export's columns and values; nil: DefaultMapping.
	Mapping  *Mapping
	Encoding Encoding
	// Now is written in the file's header.
	Now time.Time
}

// Plan is an import every row of which is good and whose devices pass the
// site check: what Write would write and how the site's devices change.
type Plan struct {
	// Target is the devices file; Included says whether the site's
	// device_files lists it (when not, Write writes it all the same and
	// the site must be told, see IncludeLine).
	Target   string
	Included bool
	Table    *Table
	// Ignored are the export's columns no field is read from.
	Ignored []string
	// Devices are the devices written, and Rows the row of each.
	Devices []config.Device
	Rows    []int
	// Skipped counts the rows not imported, by reason ("status 报废").
	Skipped map[string]int
	// UnreadSerials counts, per profile, rows whose serial the profile
	// cannot read: checked for duplicates, not written.
	UnreadSerials map[string]int
	// CurrentBroken says why the site does not pass its check as it is
	// (often the devices file being replaced, or its absence before the
	// first import); Diff is against the devices that did load.
	CurrentBroken error
	Diff          Diff
	// Content is the devices file.
	Content []byte
}

// NoTargetError is Prepare's error for a site that names no devices file
// when no target is given.
type NoTargetError struct{ Site string }

func (e *NoTargetError) Error() string {
	return fmt.Sprintf("%s has no device_files: add the line\n    device_files: [devices.yaml]\nat the top level of %s (the path is relative to it), or name the devices file to write with -o", e.Site, e.Site)
}

// IncludeLine is the site line that makes the site read target.
func IncludeLine(site, target string) string {
	rel, err := filepath.Rel(filepath.Dir(site), target)
	if err != nil {
		rel = target
	}
	return fmt.Sprintf("device_files: [%s]", rel)
}

// Prepare reads the export, checks every row against the site and the new
// devices file with the rest of the site as icugate check would, and
// returns the plan. Problems come back as *Problems: every row's, or,
// once the rows are good, the site check's, each at its row where it
// concerns one device.
func Prepare(in Import) (*Plan, error) {
	m := in.Mapping
	if m == nil {
		m = DefaultMapping()
	}
	cur, target, listed, broken, err := currentSite(in)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Target: target, Included: listed, Skipped: map[string]int{}, CurrentBroken: broken}
	x := newSiteIndex(cur, target)
	ps := &problems{file: in.Source}
	t, shape := ReadTable(in.Source, in.Data, in.Encoding, m)
	plan.Table = t
	ps.list = append(ps.list, shape...)
	if t.Header == nil {
		return nil, ps.err()
	}
	cols, ok := resolveColumns(t, m, ps)
	if !ok {
		return nil, ps.err()
	}
	plan.Ignored = cols.Ignored
	c := newConverter(m, x, cols, ps)
	for _, r := range t.Rows {
		c.convert(r)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if len(c.devices) == 0 {
		ps.add(0, "", "every row is skipped (%s): nothing to import", skippedText(c.skipped))
		return nil, ps.err()
	}
	plan.Devices, plan.Rows, plan.Skipped, plan.UnreadSerials = c.devices, c.rows, c.skipped, c.unreadSerial
	content, first := renderDevices(fileHeader(in, t, plan), c.devices)
	if len(content) > config.MaxDeviceFileSize {
		ps.add(0, "", "%d devices make a devices file of %.1f MiB, more than the %d MiB a site reads from one file: split the export and import each part to its own file (-o), all listed in device_files",
			len(c.devices), float64(len(content))/(1<<20), config.MaxDeviceFileSize>>20)
		return nil, ps.err()
	}
	plan.Content = content
	next, err := config.LoadWithDeviceFile(in.Site, target, content)
	var probs *config.Problems
	if errors.As(err, &probs) {
		for _, p := range probs.List {
			if i := p.Line - first; samePath(p.File, target) && i >= 0 && i < len(c.rows) {
				ps.add(c.rows[i], "", "%s", p.Message)
				continue
			}
			ps.list = append(ps.list, Problem{File: p.File, Line: p.Line, Message: p.Message})
		}
		return nil, ps.err()
	}
	if err != nil {
		return nil, err
	}
	plan.Diff = diffDevices(cur.Devices, next.Devices)
	return plan, nil
}

// currentSite loads the site as it is, with the target as it is on disk
// (none when it does not exist yet). The site comes back even when it does
// not pass its check, with its problems (broken): the devices file about to
// be replaced, or the lack of one, is often why (a site whose devices all
// live in that file has none without it). The check of the new file
// reports whatever remains. Only a site file that cannot be read or
// decoded at all stops the import here.
func currentSite(in Import) (site *config.Site, target string, listed bool, broken, err error) {
	files := listedDeviceFiles(in.Site)
	target = in.Target
	if target == "" {
		if len(files) == 0 {
			if _, err := os.Stat(in.Site); err != nil {
				return nil, "", false, nil, fmt.Errorf("read site: %w", err)
			}
			return nil, "", false, nil, &NoTargetError{Site: in.Site}
		}
		target = files[0]
	}
	if samePath(target, in.Site) {
		return nil, "", false, nil, fmt.Errorf("%s is the site file itself: the devices file must be a file of its own (-o)", target)
	}
	for _, f := range files {
		listed = listed || samePath(f, target)
	}
	current, err := os.ReadFile(target)
	exists := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
		current = []byte("devices: []\n")
	case err != nil:
		return nil, "", false, nil, fmt.Errorf("read the current devices file: %w", err)
	}
	site, err = config.LoadWithDeviceFile(in.Site, target, current)
	var probs *config.Problems
	switch {
	case site == nil:
		return nil, "", false, nil, fmt.Errorf("%s cannot be read as a site; fix it first (icugate check -c %s):\n%w", in.Site, in.Site, err)
	case err != nil && !errors.As(err, &probs):
		return nil, "", false, nil, err
	case listed && !exists:
		broken = fmt.Errorf("%s does not exist yet", target)
	case probs != nil:
		broken = err
	}
	return site, target, listed, broken, nil
}

// listedDeviceFiles are the site's device_files entries, resolved against
// its directory, read without checking the site (which may not pass its
// check before the first import).
func listedDeviceFiles(site string) []string {
	data, err := os.ReadFile(site)
	if err != nil {
		return nil
	}
	var s struct {
		DeviceFiles []string `yaml:"device_files"`
	}
	if yaml.Unmarshal(data, &s) != nil {
		return nil
	}
	var out []string
	for _, f := range s.DeviceFiles {
		if f == "" {
			continue
		}
		if !filepath.IsAbs(f) {
			f = filepath.Join(filepath.Dir(site), f)
		}
		out = append(out, f)
	}
	return out
}

// fileHeader is the devices file's comment: where it came from and how to
// change it.
func fileHeader(in Import, t *Table, p *Plan) []string {
	src := filepath.Base(in.Source)
	h := []string{
		fmt.Sprintf("Devices imported by icugate import from %s, %s.", src, in.Now.UTC().Format("2006-01-02 15:04 UTC")),
		fmt.Sprintf("%d devices from %d rows (%s, %s-separated).", len(p.Devices), len(t.Rows), t.Encoding, delimiterWord(t.Delimiter)),
	}
	if len(p.Skipped) > 0 {
		h = append(h, "Skipped: "+skippedText(p.Skipped)+".")
	}
	return append(h,
		"Change devices in the CMMS and import again: this file is replaced.",
		"icugate export -c SITE writes the site's devices back as CSV.",
	)
}

func delimiterWord(d rune) string {
	switch d {
	case '\t':
		return "tab"
	case ';':
		return "semicolon"
	}
	return "comma"
}

// skippedText is "3 rows status 报废, 1 row kind 输液泵".
func skippedText(s map[string]int) string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ", "
		}
		out += plural(s[k], "row") + " " + k
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// RowsByID maps each imported device to its row (for Diff.Write).
func (p *Plan) RowsByID() map[string]int {
	out := make(map[string]int, len(p.Devices))
	for i := range p.Devices {
		out[p.Devices[i].ID] = p.Rows[i]
	}
	return out
}
