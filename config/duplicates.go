package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// dupKeyPrefix starts the name a duplicate key is renamed to before
// decoding. yaml.v3 drops the whole mapping a duplicate key is in, so a
// repeated key in the hospital block (or at the top level) would be
// followed by false "required" problems; renamed, the rest of the mapping
// decodes, and what the new name causes (an unknown key, a map entry) is
// dropped again.
const dupKeyPrefix = "icugate-duplicate-key-"

// scalarPatch is new source text for one single-line scalar.
type scalarPatch struct {
	n    *yaml.Node
	text string
}

// applyPatches replaces each patch's scalar in data, keeping lines, and
// reports which replacements were made (a multi-line scalar is not).
func applyPatches(data []byte, patches []scalarPatch) ([]byte, []bool) {
	order := make([]int, len(patches))
	for i := range order {
		order[i] = i
	}
	// From the end of the file, so the columns of those still to
	// replace stay valid.
	sort.Slice(order, func(a, b int) bool {
		na, nb := patches[order[a]].n, patches[order[b]].n
		return na.Line > nb.Line || na.Line == nb.Line && na.Column > nb.Column
	})
	done := make([]bool, len(patches))
	for _, i := range order {
		if out, ok := replaceScalar(data, patches[i].n, patches[i].text); ok {
			data, done[i] = out, true
		}
	}
	return data, done
}

// duplicateKeys returns a patch renaming every repeated scalar key after
// its first, in every mapping of the tree, with the line of the first.
func duplicateKeys(root *yaml.Node) (patches []scalarPatch, firstLine []int) {
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			first := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode {
					continue
				}
				if line, dup := first[k.Value]; dup {
					patches = append(patches, scalarPatch{k, fmt.Sprintf("%s%d", dupKeyPrefix, len(patches))})
					firstLine = append(firstLine, line)
				} else {
					first[k.Value] = k.Line
				}
			}
		}
		for _, ch := range n.Content {
			walk(ch)
		}
	}
	walk(root)
	return patches, firstLine
}

// dropRenamed deletes the entries that renamed duplicate keys put into
// maps (profile simulate blocks).
func dropRenamed(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			dropRenamed(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				dropRenamed(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			dropRenamed(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			key := k
			if key.Kind() == reflect.Interface {
				key = key.Elem()
			}
			if key.Kind() == reflect.String && strings.HasPrefix(key.String(), dupKeyPrefix) {
				v.SetMapIndex(k, reflect.Value{})
				continue
			}
			dropRenamed(v.MapIndex(k))
		}
	}
}
