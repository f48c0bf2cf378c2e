package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a site config or a profile, located by
// file and line (Line 0 when no line applies, e.g. a file that cannot be
// read).
type Problem struct {
	File    string
	Line    int
	Message string
}

// String formats the problem as file:line: message.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// Problems is every problem Load found, sorted by file then line. Load
// returns it as its error so that one run of `icugate check` lists them all.
type Problems struct {
	List []Problem
}

// Error prints one problem per line.
func (p *Problems) Error() string {
	lines := make([]string, len(p.List))
	for i, q := range p.List {
		lines[i] = q.String()
	}
	return strings.Join(lines, "\n")
}

// collector gathers problems while loading; it is not safe for concurrent use.
type collector struct {
	list []Problem
	seen map[Problem]bool
}

func (c *collector) add(file string, line int, format string, args ...any) {
	p := Problem{File: file, Line: line, Message: fmt.Sprintf(format, args...)}
	if c.seen == nil {
		c.seen = make(map[Problem]bool)
	}
	if c.seen[p] {
		return
	}
	c.seen[p] = true
	c.list = append(c.list, p)
}

// err returns the collected problems, sorted, or nil when there are none.
func (c *collector) err() error {
	if len(c.list) == 0 {
		return nil
	}
	list := append([]Problem(nil), c.list...)
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].File != list[j].File {
			return list[i].File < list[j].File
		}
		return list[i].Line < list[j].Line
	})
	return &Problems{List: list}
}

var linePrefix = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// addYAML records one message from the yaml decoder, lifting its
// "line N:" prefix into the problem's line and rewording the messages users
// see most.
func (c *collector) addYAML(file, msg string) {
	line := 0
	if m := linePrefix.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	c.add(file, line, "%s", rewordYAML(msg))
}

var (
	unknownField = regexp.MustCompile(`^field (\S+) not found in type config\.(\w+)$`)
	// The Go type runs to the end: it may hold spaces (interface {}).
	cannotDecode = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

func rewordYAML(msg string) string {
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown key %q (in %s); check its spelling and indentation", m[1], yamlTypeName(m[2]))
	}
	if m := cannotDecode.FindStringSubmatch(msg); m != nil {
		want := m[3]
		switch {
		case want == "time.Duration":
			want = "a duration such as 15s or 1m"
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "map["), strings.HasPrefix(want, "config."):
			want = "a mapping"
		case strings.HasPrefix(want, "int") || strings.HasPrefix(want, "uint"):
			want = "an integer"
		case strings.HasPrefix(want, "float"):
			want = "a number"
		case want == "string":
			want = "a string"
		case want == "bool":
			want = "true or false"
		}
		if m[2] == "" {
			return fmt.Sprintf("cannot use a %s here: want %s", yamlKind(m[1]), want)
		}
		return fmt.Sprintf("cannot use %s %q here: want %s", m[1], m[2], want)
	}
	return msg
}

// yamlTypeName names a config type the way a user sees it in YAML.
func yamlTypeName(goType string) string {
	switch goType {
	case "Site":
		return "top level"
	case "ModbusDevice":
		return "modbus block"
	case "MQTTDevice":
		return "device mqtt block"
	case "MQTT":
		return "mqtt broker block"
	case "RTU":
		return "rtu block"
	case "StateRules":
		return "state"
	case "TLS", "HTTP":
		return goType
	case "InfluxDB":
		return "influxdb"
	}
	return strings.ToLower(goType)
}

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). For those, yaml.v3 reports a 0-based line (the scanner's are
// 1-based), so one is added to point at the right line.
var parserProblems = map[string]bool{
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"did not find expected ',' or '}'":       true,
	"did not find expected ',' or ']'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// scannerProblems are the messages of yaml.v3's scanner. Its lines are
// 1-based, but it leaves out "line 1" (its 0): a scanner message without a
// line is on the first.
var scannerProblems = map[string]bool{
	"block sequence entries are not allowed in this context":       true,
	"could not find expected ':'":                                  true,
	"could not find expected directive name":                       true,
	"did not find expected alphabetic or numeric character":        true,
	"did not find expected comment or line break":                  true,
	"did not find expected digit or '.' character":                 true,
	"did not find expected hexdecimal number":                      true,
	"did not find expected version number":                         true,
	"did not find expected whitespace or line break":               true,
	"did not find expected whitespace":                             true,
	"did not find the expected '>'":                                true,
	"found a tab character that violates indentation":              true,
	"found a tab character where an indentation space is expected": true,
	"found an indentation indicator equal to 0":                    true,
	"found character that cannot start any token":                  true,
	"found extremely long version number":                          true,
	"found invalid Unicode character escape code":                  true,
	"found unexpected document indicator":                          true,
	"found unexpected end of stream":                               true,
	"found unexpected non-alphabetical character":                  true,
	"found unknown directive name":                                 true,
	"found unknown escape character":                               true,
	"mapping keys are not allowed in this context":                 true,
	"mapping values are not allowed in this context":               true,
}

// addSyntax records a YAML syntax error found in data.
func (c *collector) addSyntax(file, msg string, data []byte) {
	m := linePrefix.FindStringSubmatch(msg)
	if m == nil {
		rest := strings.TrimPrefix(msg, "yaml: ")
		line := 0
		// Scanner and parser lines are both 0 on the first line, which
		// yaml.v3 leaves out; other messages (a control character, an
		// unknown alias) have no line at all.
		if scannerProblems[rest] || parserProblems[rest] {
			line = 1
		}
		c.add(file, line, "invalid YAML: %s", rest)
		return
	}
	line, _ := strconv.Atoi(m[1])
	rest := msg[len(m[0]):]
	switch {
	case parserProblems[rest]:
		line++
	case rest == "found a tab character that violates indentation":
		// yaml.v3 gives the line where the plain scalar before the tab
		// starts; the tab is at the start of a later line.
		line = tabIndentedLine(data, line)
	}
	c.add(file, line, "invalid YAML: %s", rest)
}

// tabIndentedLine is the first line after from whose indentation holds a
// tab, or from when there is none.
func tabIndentedLine(data []byte, from int) int {
	for i, l := range strings.Split(string(data), "\n") {
		if n := i + 1; n > from && strings.Contains(l[:len(l)-len(strings.TrimLeft(l, " \t"))], "\t") {
			return n
		}
	}
	return from
}

func yamlKind(tag string) string {
	switch tag {
	case "map":
		return "mapping"
	case "seq":
		return "list"
	}
	return tag
}
