package config

import (
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// checkIntegers reports numbers with a fraction where an integer is
// expected (total_beds: 1.5, unit_id: 2.7): yaml.v3 would silently drop
// the fraction. It walks the node tree alongside the Go type decoded into.
//
// It returns the numbers it reported that yaml.v3 cannot store either
// (beyond the integer's range): decodeStrict replaces them before decoding,
// so that yaml.v3 does not report them a second time in its own words.
func checkIntegers(c *collector, file string, n *yaml.Node, t reflect.Type) (refused []*yaml.Node) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := fields[n.Content[i].Value]; ok {
				refused = append(refused, checkIntegers(c, file, n.Content[i+1], ft)...)
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, e := range n.Content {
				refused = append(refused, checkIntegers(c, file, e, t.Elem())...)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				refused = append(refused, checkIntegers(c, file, n.Content[i], t.Elem())...)
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t != durationType && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
			c.add(file, n.Line, "cannot use %s here: want an integer", n.Value)
			if n.Decode(reflect.New(t).Interface()) != nil {
				refused = append(refused, n)
			}
		}
	}
	return refused
}

// yamlFields maps a struct's YAML keys to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
