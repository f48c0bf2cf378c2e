package config

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxDecodeRetries bounds how many aborting scalars decodeStrict works
// around in one file.
const maxDecodeRetries = 8

// decodeStrict decodes data into v (a pointer to a struct), rejecting
// unknown keys, and records every problem in c. It returns the file's node
// tree for locating later problems, and whether v was fully decoded (false
// after a syntax error: further checks would only add noise).
//
// yaml.v3 keeps going after type errors but aborts on an error returned by a
// custom unmarshaller (e.g. an invalid size). To still report every
// problem, such a scalar is recorded, replaced by 0 in the source (lines are
// kept), and the file decoded again.
func decodeStrict(c *collector, file string, data []byte, v any) (*doc, bool) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		c.addSyntax(file, err.Error(), data)
		return newDoc(file, nil), false
	}
	d := newDoc(file, &root)
	if d.root == nil {
		return d, true
	}
	if d.root.Kind != yaml.MappingNode {
		c.add(file, d.root.Line, "want a mapping of keys at the top level")
		return d, false
	}
	refused := checkIntegers(c, file, d.root, reflect.TypeOf(v))
	// Duplicate keys are renamed and numbers already reported replaced by
	// 0, each reported once here, so that yaml.v3 neither drops the
	// mapping a duplicate is in nor reports a number again.
	patches, firstLine := duplicateKeys(d.root)
	renamed := len(patches)
	for _, n := range refused {
		patches = append(patches, scalarPatch{n, "0"})
	}
	tree := &root // the tree of data as patched, for neutraliseLine
	if len(patches) > 0 {
		var done []bool
		data, done = applyPatches(data, patches)
		for i := range renamed {
			if done[i] { // else yaml.v3 reports it
				k := patches[i].n
				c.add(file, k.Line, "mapping key %q already defined at line %d", k.Value, firstLine[i])
			}
		}
		tree = new(yaml.Node)
		if err := yaml.Unmarshal(data, tree); err != nil {
			c.addSyntax(file, err.Error(), data) // not expected: only scalars changed
			return d, false
		}
	}
	rv := reflect.ValueOf(v).Elem()
	for range maxDecodeRetries {
		rv.Set(reflect.Zero(rv.Type()))
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err := dec.Decode(v)
		var te *yaml.TypeError
		if err == nil || errors.Is(err, io.EOF) || errors.As(err, &te) {
			if te != nil {
				for _, m := range te.Errors {
					if !strings.Contains(m, dupKeyPrefix) { // already reported
						c.addYAML(file, m)
					}
				}
			}
			if renamed > 0 {
				dropRenamed(rv)
			}
			return d, true
		}
		c.addYAML(file, err.Error())
		m := linePrefix.FindStringSubmatch(err.Error())
		if m == nil {
			return d, false
		}
		line, _ := strconv.Atoi(m[1])
		patched, ok := neutraliseLine(data, tree, line)
		if !ok {
			return d, false
		}
		data = patched
	}
	return d, false
}

// neutraliseLine replaces the scalar mapping values on one line with 0.
func neutraliseLine(data []byte, root *yaml.Node, line int) ([]byte, bool) {
	var targets []*yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				if v := n.Content[i]; v.Kind == yaml.ScalarNode && v.Line == line {
					targets = append(targets, v)
				}
			}
		}
		for _, ch := range n.Content {
			walk(ch)
		}
	}
	walk(root)
	if len(targets) == 0 {
		return nil, false
	}
	// Replace from the rightmost scalar so earlier columns stay valid.
	out := data
	for i := len(targets) - 1; i >= 0; i-- {
		var ok bool
		if out, ok = replaceScalar(out, targets[i], "0"); !ok {
			return nil, false
		}
	}
	return out, true
}

// replaceScalar replaces a single-line scalar's source text with text.
func replaceScalar(data []byte, n *yaml.Node, text string) ([]byte, bool) {
	start := lineStart(data, n.Line)
	if start < 0 {
		return nil, false
	}
	off := start
	for col := 1; col < n.Column; col++ { // columns count characters
		if off >= len(data) || data[off] == '\n' {
			return nil, false
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	end := scalarEnd(data, off, n)
	if end < 0 {
		return nil, false
	}
	out := make([]byte, 0, len(data))
	out = append(out, data[:off]...)
	out = append(out, text...)
	return append(out, data[end:]...), true
}

func lineStart(data []byte, line int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off
}

func scalarEnd(data []byte, off int, n *yaml.Node) int {
	if off >= len(data) {
		return -1
	}
	switch n.Style {
	case 0, yaml.TaggedStyle:
		if !bytes.HasPrefix(data[off:], []byte(n.Value)) {
			return -1
		}
		return off + len(n.Value)
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		q := data[off]
		for i := off + 1; i < len(data) && data[i] != '\n'; i++ {
			switch {
			case q == '"' && data[i] == '\\':
				i++
			case data[i] == q && q == '\'' && i+1 < len(data) && data[i+1] == '\'':
				i++
			case data[i] == q:
				return i + 1
			}
		}
	}
	return -1
}
