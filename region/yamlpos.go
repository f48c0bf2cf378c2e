package region

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// problem is one validation finding about a YAML file: where (a path of
// mapping keys and sequence indexes, e.g. hospitals, 2, parts, 0, id) and
// what. The same problems serve a config built in code (named by path)
// and one loaded from a file (named by file:line).
type problem struct {
	at  []any
	msg string
}

func (p problem) path() string {
	var b strings.Builder
	for _, a := range p.at {
		switch v := a.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(v) + "]")
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// problems collects findings.
type problems []problem

func (ps *problems) add(msg string, at ...any) { *ps = append(*ps, problem{at: at, msg: msg}) }

func (ps *problems) addf(at []any, format string, args ...any) {
	*ps = append(*ps, problem{at: at, msg: fmt.Sprintf(format, args...)})
}

// err joins the problems as "path: message"; nil when there are none.
func (ps problems) err() error {
	errs := make([]error, 0, len(ps))
	for _, p := range ps {
		if path := p.path(); path != "" {
			errs = append(errs, fmt.Errorf("%s: %s", path, p.msg))
		} else {
			errs = append(errs, errors.New(p.msg))
		}
	}
	return errors.Join(errs...)
}

// errIn joins the problems as "file:line: path: message", the form
// `icuregion check` prints and editors jump to. The line is the nearest
// one the path reaches in the document (the key, else its parent).
func (ps problems) errIn(file string, root *yaml.Node) error {
	errs := make([]error, 0, len(ps))
	for _, p := range ps {
		line := lineOf(root, p.at...)
		prefix := file
		if line > 0 {
			prefix += ":" + strconv.Itoa(line)
		}
		if path := p.path(); path != "" {
			errs = append(errs, fmt.Errorf("%s: %s: %s", prefix, path, p.msg))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s", prefix, p.msg))
		}
	}
	return errors.Join(errs...)
}

// parseNode parses data into a node tree for lineOf; nil when it does not
// parse (the strict decode reports that error with its line).
func parseNode(data []byte) *yaml.Node {
	var n yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&n); err != nil {
		return nil
	}
	return &n
}

// lineOf is the line of the node at path in the document root: a string
// step is a mapping key (its key's line), an int a sequence index. Where
// the path leaves the document, the last line reached; 0 without one.
func lineOf(root *yaml.Node, at ...any) int {
	n := root
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, step := range at {
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						line = n.Content[i].Line
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s >= 0 && s < len(n.Content) {
				next = n.Content[s]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
