package config

import (
	"fmt"

	"github.com/icugate/icugate/rules"
)

// ruleKind is how a value appears to state rules: bools as bool, unscaled
// integers as int (so bitand() works), strings as string, the rest float64.
func (v *Value) ruleKind() rules.Kind {
	switch {
	case v.Type == TypeBool || v.Bit != nil || v.Table == TableCoil || v.Table == TableDiscrete:
		return rules.Bool
	case v.Type == TypeString:
		return rules.String
	case v.isInteger() && (v.Scale == nil || *v.Scale == 1) && v.Offset == 0:
		return rules.Int
	default:
		return rules.Float
	}
}

func (v *Value) isInteger() bool {
	switch v.Type {
	case TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeInt64, TypeUint64, "":
		return true
	}
	return false
}

// ruleInputs lists the profile's values as the state rules see them.
func (p *Profile) ruleInputs() []rules.Input {
	in := make([]rules.Input, len(p.Values))
	for i := range p.Values {
		in[i] = rules.Input{Name: p.Values[i].Name, Kind: p.Values[i].ruleKind(), Where: p.Values[i].Where()}
	}
	return in
}

// Compile compiles the profile's state rules into Rules and builds its
// value index. Load calls it; tests that build profiles in code call it
// themselves.
func (p *Profile) Compile() error {
	p.index = make(map[string]int, len(p.Values))
	for i := range p.Values {
		p.index[p.Values[i].Name] = i
	}
	set, err := rules.Compile(p.Name, p.ruleInputs(), rules.Source{
		Fault: p.State.Fault, Maintenance: p.State.Maintenance, InUse: p.State.InUse,
	})
	if err != nil {
		return fmt.Errorf("profile %s: %w", p.Name, err)
	}
	p.Rules = set
	return nil
}
