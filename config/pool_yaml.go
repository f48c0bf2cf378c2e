package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML accepts a pool as a bare id ("store") or as a mapping
// {id, unit}. Errors are returned as *yaml.TypeError so the decoder keeps
// going and every problem in the file is reported.
func (p *Pool) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		p.ID = n.Value
		return nil
	case yaml.MappingNode:
		var errs []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var dst *string
			switch k.Value {
			case "id":
				dst = &p.ID
			case "unit":
				dst = &p.Unit
			default:
				errs = append(errs, fmt.Sprintf("line %d: field %s not found in type config.Pool", k.Line, k.Value))
				continue
			}
			if v.Kind != yaml.ScalarNode {
				errs = append(errs, fmt.Sprintf("line %d: pool %s must be a string", v.Line, k.Value))
				continue
			}
			*dst = v.Value
		}
		if len(errs) > 0 {
			return &yaml.TypeError{Errors: errs}
		}
		return nil
	default:
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a pool is an id or a mapping {id, unit}", n.Line)}}
	}
}
