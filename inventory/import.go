package inventory

import (
	"errors"
	"fmt"
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
	// CurrentBroken is set when the site did not load as it is (its
	// devices file is what is broken): Diff is then against the site
	// without that file.
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
	cur, target, broken, err := currentSite(in)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Target: target, Skipped: map[string]int{}, CurrentBroken: broken}
	// A site that loads only without the target lists it: an empty file
	// in its place fixes nothing otherwise.
	plan.Included = broken != nil
	for _, f := range cur.DeviceFiles {
		plan.Included = plan.Included || samePath(f.Path, target)
	}
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

// currentSite loads the site as it is, and finds the target. A site that
// does not load because of the devices file being replaced is loaded
// without it (broken says why); any other problem of the site is returned:
// it must be fixed first.
func currentSite(in Import) (site *config.Site, target string, broken, err error) {
	site, err = config.Load(in.Site)
	var probs *config.Problems
	if err != nil && !errors.As(err, &probs) {
		return nil, "", nil, err
	}
	target = in.Target
	if probs == nil {
		if target == "" && len(site.DeviceFiles) == 0 {
			return nil, "", nil, &NoTargetError{Site: in.Site}
		}
		if target == "" {
			target = site.DeviceFiles[0].Path
		}
		return site, target, nil, nil
	}
	if target == "" {
		// A site that lists a devices file not written yet (the first
		// import) does not load; its first entry is still the target.
		if target = firstDeviceFile(in.Site); target == "" {
			return nil, "", nil, fmt.Errorf("%s does not pass its check (icugate check -c %s); fix it first:\n%w", in.Site, in.Site, err)
		}
	}
	base, err2 := config.LoadWithDeviceFile(in.Site, target, []byte("devices: []\n"))
	if err2 != nil {
		return nil, "", nil, fmt.Errorf("%s has problems besides %s; fix them first (icugate check -c %s):\n%w", in.Site, target, in.Site, err2)
	}
	return base, target, err, nil
}

// firstDeviceFile is the site's first device_files entry, resolved, read
// without checking the site; "" when there is none.
func firstDeviceFile(site string) string {
	data, err := os.ReadFile(site)
	if err != nil {
		return ""
	}
	var s struct {
		DeviceFiles []string `yaml:"device_files"`
	}
	if yaml.Unmarshal(data, &s) != nil || len(s.DeviceFiles) == 0 || s.DeviceFiles[0] == "" {
		return ""
	}
	if filepath.IsAbs(s.DeviceFiles[0]) {
		return s.DeviceFiles[0]
	}
	return filepath.Join(filepath.Dir(site), s.DeviceFiles[0])
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
