package config

import "go.yaml.in/yaml/v3"

// doc is one parsed YAML file: its name and node tree, used to put line
// numbers on problems found after decoding.
type doc struct {
	file string
	root *yaml.Node // the document's top mapping; nil when empty
}

func newDoc(file string, n *yaml.Node) *doc {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n != nil && n.Kind == yaml.DocumentNode {
		n = nil
	}
	return &doc{file: file, root: n}
}

// node walks a path of mapping keys (string) and sequence indexes (int)
// and returns the deepest node reached and whether the whole path exists.
func (d *doc) node(path ...any) (*yaml.Node, bool) {
	n := d.root
	if n == nil {
		return nil, false
	}
	for _, p := range path {
		next := child(n, p)
		if next == nil {
			return n, false
		}
		n = next
	}
	return n, true
}

func child(n *yaml.Node, p any) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch k := p.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				return n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && k >= 0 && k < len(n.Content) {
			return n.Content[k]
		}
	}
	return nil
}

// line is the line of the node at path, or of its deepest existing
// ancestor when the path is absent (a missing key is reported where its
// mapping starts).
func (d *doc) line(path ...any) int {
	n, _ := d.node(path...)
	if n == nil {
		return 0
	}
	return n.Line
}

// has reports whether the key at path is present in the file.
func (d *doc) has(path ...any) bool {
	_, ok := d.node(path...)
	return ok
}
