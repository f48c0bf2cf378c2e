package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Mapping says how a CMMS export's columns and values become devices. The
// zero Mapping (or DefaultMapping) reads icugate's own columns and the
// common English and Chinese headers; a mapping file (configs/inventory/
// mapping.yaml documents every key) adds the names of a hospital's CMMS.
type Mapping struct {
	// Columns names, per field, the headers the field is read from. A
	// field listed here is read only from these headers; the others keep
	// their default names.
	Columns map[string][]string `yaml:"columns"`
	// Kinds maps the CMMS's device kinds to icugate's (呼吸机: ventilator),
	// on top of the defaults. A kind mapped to "skip" skips its rows
	// (devices the gateway does not read, such as infusion pumps).
	Kinds map[string]string `yaml:"kinds"`
	// Profiles picks the profile of a row without one from its vendor and
	// model. Rows are tried in order; then the vendor and model each
	// profile file states.
	Profiles []ProfileRule `yaml:"profiles"`
	// Locations maps CMMS locations to bed or pool ids ("ICU-A 3床":
	// gicu-03). A location not listed is taken as a bed or pool id as it is.
	Locations map[string]string `yaml:"locations"`
	// SkipStatus lists the asset statuses whose rows are not imported.
	// Default: 报废, 已报废, 待报废, 停用, 已停用, 闲置报废, scrapped,
	// retired, disposed, decommissioned. An empty list skips none.
	SkipStatus *[]string `yaml:"skip_status"`
	// Defaults gives a field's value for rows whose cell is empty or whose
	// export has no such column (protocol: modbus-tcp, interval: 2s).
	Defaults map[string]string `yaml:"defaults"`
	// ModbusPort is added to a Modbus TCP address given without a port.
	// Default 502.
	ModbusPort int `yaml:"modbus_port"`
}

// ProfileRule maps a vendor and model to a profile. Model "*" matches
// every model of the vendor.
type ProfileRule struct {
	Vendor  string `yaml:"vendor"`
	Model   string `yaml:"model"`
	Profile string `yaml:"profile"`
}

// DefaultModbusPort is the Modbus TCP port.
const DefaultModbusPort = 502

// LoadMapping reads a mapping file strictly (an unknown key is an error)
// and checks it; problems carry the file and line.
func LoadMapping(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return ParseMapping(path, data)
}

// ParseMapping is LoadMapping on data read already.
func ParseMapping(path string, data []byte) (*Mapping, error) {
	m := &Mapping{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	ps := &problems{file: path}
	if err := dec.Decode(m); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			ps.list = append(ps.list, yamlProblem(path, strings.TrimPrefix(err.Error(), "yaml: ")))
			return nil, ps.err()
		}
		for _, msg := range te.Errors {
			ps.list = append(ps.list, yamlProblem(path, msg))
		}
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	line := func(path ...any) int { return nodeLine(&root, path...) }
	for _, f := range sortedKeys(m.Columns) {
		if _, ok := defaultHeaders[f]; !ok {
			ps.list = append(ps.list, Problem{File: path, Line: line("columns", f), Message: fmt.Sprintf("columns: unknown field %q: want one of %s", f, strings.Join(fieldNames(), ", "))})
		}
	}
	for _, f := range sortedKeys(m.Defaults) {
		if _, ok := defaultHeaders[f]; !ok || f == FieldAssetID {
			ps.list = append(ps.list, Problem{File: path, Line: line("defaults", f), Message: fmt.Sprintf("defaults: %q cannot have a default: want one of the fields but asset_id", f)})
		}
	}
	for i, r := range m.Profiles {
		if r.Vendor == "" || r.Model == "" || r.Profile == "" {
			ps.list = append(ps.list, Problem{File: path, Line: line("profiles", i), Message: fmt.Sprintf("profiles[%d]: give vendor, model (or \"*\") and profile", i)})
		}
	}
	if m.ModbusPort < 0 || m.ModbusPort > 65535 {
		ps.list = append(ps.list, Problem{File: path, Line: line("modbus_port"), Message: "modbus_port: want a port 1..65535"})
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// unknownKey is yaml.v3's message for a key the Mapping does not have.
var unknownKey = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

func yamlProblem(file, msg string) Problem {
	p := Problem{File: file, Message: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			p.Line, _ = strconv.Atoi(n)
			p.Message = after
		}
	}
	if m := unknownKey.FindStringSubmatch(p.Message); m != nil {
		p.Message = fmt.Sprintf("unknown key %q; check its spelling and indentation", m[1])
	}
	return p
}

// nodeLine is the line of the node at a path of mapping keys and
// sequence indexes, or of the deepest one found.
func nodeLine(n *yaml.Node, path ...any) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// DefaultMapping is the mapping without a mapping file.
func DefaultMapping() *Mapping { return &Mapping{} }

// headers are the normalised header names a field is read from.
func (m *Mapping) headers(field string) []string {
	names := defaultHeaders[field]
	if m != nil && len(m.Columns[field]) > 0 {
		names = m.Columns[field]
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = normHeader(n)
	}
	return out
}

// knownHeaders counts the cells that name a field: how the header row is
// told from title rows above it.
func (m *Mapping) knownHeaders(cells []string) int {
	n := 0
	for _, c := range cells {
		if c = normHeader(c); c == "" {
			continue
		}
		for f := range defaultHeaders {
			if slices.Contains(m.headers(f), c) {
				n++
				break
			}
		}
	}
	return n
}

// valueMaps are a Mapping's value tables, normalised once per import.
type valueMaps struct {
	kinds map[string]string // normValue(CMMS kind) -> icugate kind, or "skip"
	skip  map[string]bool   // normValue(status) of rows not to import
}

// valueMaps builds the tables: the mapping's kinds over the built-in
// ones over the kinds of the site's profiles, each as itself.
func (m *Mapping) valueMaps(profileKinds map[string]bool) valueMaps {
	v := valueMaps{kinds: map[string]string{}, skip: map[string]bool{}}
	for k := range profileKinds {
		v.kinds[normValue(k)] = k
	}
	for k, to := range defaultKinds {
		v.kinds[k] = to
	}
	skip := defaultSkipStatus
	if m != nil {
		for k, to := range m.Kinds {
			v.kinds[normValue(k)] = to
		}
		if m.SkipStatus != nil {
			skip = *m.SkipStatus
		}
	}
	for _, s := range skip {
		v.skip[normValue(s)] = true
	}
	return v
}

// location maps a CMMS location to a bed or pool id.
func (m *Mapping) location(v string) string {
	if m != nil {
		if to, ok := m.Locations[v]; ok {
			return to
		}
	}
	return v
}

func (m *Mapping) modbusPort() int {
	if m != nil && m.ModbusPort > 0 {
		return m.ModbusPort
	}
	return DefaultModbusPort
}

func (m *Mapping) defaultValue(field string) string {
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m.Defaults[field])
}

func fieldNames() []string {
	return sortedKeys(defaultHeaders)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
