package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A site may keep its devices in files of their own (device_files), so that
// an inventory imported from the hospital's CMMS (icugate import) replaces
// one file and never touches the site file an engineer edits by hand. Each
// file holds one key, devices:, a list of the same device blocks as the
// site's own devices:. Load appends them after the site's inline devices,
// in the order device_files lists the files, and checks the whole as one
// list: a device id used twice, or a Modbus unit id used twice on one
// address, is a problem wherever the two devices are.
//
// Every check in this package locates a device's problem by its index in
// site.devices of one node tree. So the included files' device nodes are
// grafted into the site's tree with their lines moved past the site's own
// (each file its own range, as go/token.FileSet gives each file a base),
// and once checking is done, relocate turns such a line back into the
// included file and its own line.

// DeviceFile is one entry of the site's device_files: a YAML file whose
// devices: list Load appends to the site's devices.
type DeviceFile struct {
	// Path is the file, resolved against the site file's directory by Load.
	Path string
	// Devices are the ids of the devices the file holds, in its order;
	// filled by Load (tools such as icugate import use it to tell a
	// file's devices from the rest of the site).
	Devices []string
}

// UnmarshalYAML reads an entry of device_files: a path.
func (f *DeviceFile) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a device file is a path such as devices.yaml", n.Line)}}
	}
	f.Path = n.Value
	return nil
}

// MaxDeviceFileSize is the largest devices file Load reads, as for a site
// file: 4 MiB, some 25,000 devices written one per line.
const MaxDeviceFileSize = maxFileSize

// LoadWithDeviceFile loads the site at path as Load does, but as if the
// devices file file held data instead of what is on disk, and, when the
// site's device_files does not list file, as if it were listed last. file
// is compared after resolving, so it may be given as Load returns it in
// DeviceFiles or as any other path to the same file. Problems in data are
// reported against file. icugate import uses it to check devices with every
// rule icugate check applies before it writes them.
//
// Unlike Load, it returns the site along with its *Problems whenever the
// site file itself could be decoded: a tool that replaces the devices file
// needs the site's units, beds and profiles even while the devices file
// it is about to replace (or the lack of one) makes the site fail its
// check. Such a site must not be run.
func LoadWithDeviceFile(path, file string, data []byte) (*Site, error) {
	site, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read site %s: %w", path, err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("config: devices file %s: %w", file, err)
	}
	if siteAbs, err := filepath.Abs(path); err == nil && siteAbs == abs {
		return nil, fmt.Errorf("config: devices file %s is the site file itself", file)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config: devices file %s: %w", file, refusal(fmt.Sprintf("larger than %d MiB: split the devices over several files", maxFileSize>>20)))
	}
	return loadSiteWith(path, site, &overlay{file: file, abs: abs, data: data})
}

// overlay is a devices file's content given in place of the disk's.
type overlay struct {
	file string // as the caller named it, for problems
	abs  string
	data []byte
	used bool
}

// devicesFile is the shape of an included file.
type devicesFile struct {
	Devices []Device `yaml:"devices"`
}

// included is one devices file grafted into the site's tree.
type included struct {
	file  string
	base  int // lines of this file are base+1, base+2, ... in the tree
	lines int
	first int // index in site.Devices of its first device
	count int
}

// includeDeviceFiles reads every file of device_files (and the overlay),
// decodes it, appends its devices to the site and grafts its device nodes
// into the site's tree.
func (l *loader) includeDeviceFiles(dir string, siteData []byte, ov *overlay) {
	s, d := l.site, l.d
	l.siteLines = bytes.Count(siteData, []byte("\n")) + 1
	l.nextBase = l.siteLines
	seen := map[string]int{} // absolute path -> index in device_files
	siteAbs, _ := filepath.Abs(s.File)
	for i := range s.DeviceFiles {
		f := &s.DeviceFiles[i]
		line := d.line("device_files", i)
		if f.Path == "" {
			l.at(line, "device_files[%d] is empty: name a devices file such as devices.yaml", i)
			continue
		}
		f.Path = resolve(dir, f.Path)
		abs, err := filepath.Abs(f.Path)
		if err != nil {
			l.at(line, "device file %s: %v", f.Path, err)
			continue
		}
		if j, dup := seen[abs]; dup {
			l.at(line, "device file %s is already listed (line %d)", f.Path, d.line("device_files", j))
			continue
		}
		seen[abs] = i
		if abs == siteAbs {
			l.at(line, "device file %s is the site file itself: name a file that holds only devices:", f.Path)
			continue
		}
		var data []byte
		if ov != nil && abs == ov.abs {
			ov.used = true
			data = ov.data
		} else if data, err = readFile(f.Path); err != nil {
			var ref refusal
			switch {
			case errors.Is(err, fs.ErrNotExist):
				l.at(line, "device file %s not found (paths are relative to the site file's directory)", f.Path)
			case errors.As(err, &ref):
				l.c.add(f.Path, 0, "%v", ref)
			default:
				l.at(line, "device file %s: %v", f.Path, err)
			}
			continue
		}
		f.Devices = l.include(f.Path, data)
	}
	if ov != nil && !ov.used {
		s.DeviceFiles = append(s.DeviceFiles, DeviceFile{Path: ov.file})
		f := &s.DeviceFiles[len(s.DeviceFiles)-1]
		f.Devices = l.include(ov.file, ov.data)
	}
}

// include decodes one devices file and appends its devices; it returns
// their ids.
func (l *loader) include(file string, data []byte) []string {
	var df devicesFile
	fd, complete := decodeStrict(&l.c, file, data, &df)
	if !complete {
		return nil
	}
	inc := included{file: file, base: l.nextBase, lines: bytes.Count(data, []byte("\n")) + 1, first: len(l.site.Devices), count: len(df.Devices)}
	l.nextBase += inc.lines
	l.included = append(l.included, inc)
	var nodes []*yaml.Node
	if n, ok := fd.node("devices"); ok {
		if n.Kind == yaml.SequenceNode {
			nodes = n.Content
		}
		if len(nodes) != len(df.Devices) {
			// An entry yaml.v3 could not decode at all is left out of
			// df.Devices (and reported); without knowing which, every
			// device of the file is located at its devices: key.
			nodes = placeholders(n.Line, len(df.Devices))
		}
	}
	shiftLines(fd.root, inc.base)
	l.graft(nodes)
	ids := make([]string, len(df.Devices))
	for i := range df.Devices {
		ids[i] = df.Devices[i].ID
	}
	l.site.Devices = append(l.site.Devices, df.Devices...)
	return ids
}

// graft appends device nodes to the site's devices: sequence, which first
// gets exactly one node per inline device so that indexes stay aligned.
func (l *loader) graft(nodes []*yaml.Node) {
	root := l.d.root
	if root == nil || len(nodes) == 0 {
		return
	}
	seq, ok := l.d.node("devices")
	if !ok {
		seq = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: root.Line}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "devices", Line: root.Line}, seq)
	}
	if seq.Kind != yaml.SequenceNode {
		// devices: with no list (null); the site decoded no inline device.
		*seq = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: seq.Line}
	}
	inline := len(l.site.Devices)
	switch {
	case len(seq.Content) > inline:
		seq.Content = seq.Content[:inline]
	case len(seq.Content) < inline:
		seq.Content = append(seq.Content, placeholders(seq.Line, inline-len(seq.Content))...)
	}
	seq.Content = append(seq.Content, nodes...)
}

func placeholders(line, n int) []*yaml.Node {
	out := make([]*yaml.Node, n)
	for i := range out {
		out[i] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line}
	}
	return out
}

// shiftLines moves every node of a tree base lines down.
func shiftLines(n *yaml.Node, base int) {
	if n == nil {
		return
	}
	n.Line += base
	for _, c := range n.Content {
		shiftLines(c, base)
	}
}

// position turns a line of the grafted tree into its file and line.
func (l *loader) position(line int) (file string, fileLine int, inc *included) {
	if line > l.siteLines {
		for i := range l.included {
			in := &l.included[i]
			if line > in.base && line <= in.base+in.lines {
				return in.file, line - in.base, in
			}
		}
	}
	return l.d.file, line, nil
}

var (
	// lineRef is how problems name another line: "(first at line 12)",
	// "(line 12)".
	lineRef = regexp.MustCompile(`(at |\()line (\d+)`)
	// deviceIndex is how problems name a device by its index.
	deviceIndex = regexp.MustCompile(`devices\[(\d+)\]|^device (\d+) has no id`)
)

// relocate moves the problems found in the grafted tree to the included
// file and line they concern, and rewrites the lines and device indexes
// their messages name to the file they are in.
func (l *loader) relocate() {
	if len(l.included) == 0 {
		return
	}
	for i := range l.c.list {
		p := &l.c.list[i]
		if p.File == l.d.file {
			var inc *included
			p.File, p.Line, inc = l.position(p.Line)
			p.Message = lineRef.ReplaceAllStringFunc(p.Message, func(m string) string {
				sub := lineRef.FindStringSubmatch(m)
				n, _ := strconv.Atoi(sub[2])
				file, line, _ := l.position(n)
				if file == p.File {
					return sub[1] + "line " + strconv.Itoa(line)
				}
				return sub[1] + file + ":" + strconv.Itoa(line)
			})
			if inc != nil {
				p.Message = deviceIndex.ReplaceAllStringFunc(p.Message, func(m string) string {
					sub := deviceIndex.FindStringSubmatch(m)
					if sub[1] != "" {
						n, _ := strconv.Atoi(sub[1])
						return "devices[" + strconv.Itoa(n-inc.first) + "]"
					}
					n, _ := strconv.Atoi(sub[2])
					return "device " + strconv.Itoa(n-inc.first) + " has no id"
				})
			}
			continue
		}
		for _, in := range l.included {
			if p.File == in.file {
				// The decoder names the file's top level by our type.
				p.Message = strings.Replace(p.Message, "(in devicesfile)", "(a devices file holds only devices:)", 1)
			}
		}
	}
}
