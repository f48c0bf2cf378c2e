package config

import (
	"fmt"
	"math"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Sample is one decoded value of an observation, positioned as in
// Profile.Values. Str is used only by values of type string; every other
// type is in Num (bools as 0 or 1).
type Sample struct {
	Num float64
	Str string
}

// Condition is what a profile's state rules say about a device from one set
// of values. The engine turns it into a device state (PRODUCT §4).
type Condition struct {
	Fault       bool
	Maintenance bool
	InUse       bool
}

// exprKind is how a value appears to state rules: bools as bool, unscaled
// integers as int (so bitand() works), strings as string, the rest float64.
func (v *Value) exprKind() any {
	switch {
	case v.Type == TypeBool || v.Bit != nil || v.Table == TableCoil || v.Table == TableDiscrete:
		return false
	case v.Type == TypeString:
		return ""
	case v.isInteger() && (v.Scale == nil || *v.Scale == 1) && v.Offset == 0:
		return 0
	default:
		return 0.0
	}
}

func (v *Value) isInteger() bool {
	switch v.Type {
	case TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeInt64, TypeUint64, "":
		return true
	}
	return false
}

// typeEnv is the environment state rules are compiled against: every value
// name with the Go type it will have at run time.
func (p *Profile) typeEnv() map[string]any {
	env := make(map[string]any, len(p.Values))
	for i := range p.Values {
		env[p.Values[i].Name] = p.Values[i].exprKind()
	}
	return env
}

// compileRule compiles one state rule; an empty rule compiles to nil.
func (p *Profile) compileRule(src string) (*vm.Program, error) {
	if src == "" {
		return nil, nil
	}
	return expr.Compile(src, expr.Env(p.typeEnv()), expr.AsBool())
}

// Env builds the run-time environment for the state rules from samples.
func (p *Profile) Env(values []Sample) map[string]any {
	return p.envInto(make(map[string]any, len(p.Values)), values)
}

// envInto fills env with the rule environment of values and returns it.
// Every profile value is set on every call, so a map reused for one
// profile never holds a stale value.
func (p *Profile) envInto(env map[string]any, values []Sample) map[string]any {
	for i := range p.Values {
		if i >= len(values) {
			break
		}
		s := values[i]
		switch p.Values[i].exprKind().(type) {
		case bool:
			env[p.Values[i].Name] = s.Num != 0
		case string:
			env[p.Values[i].Name] = s.Str
		case int:
			env[p.Values[i].Name] = int(s.Num)
		default:
			env[p.Values[i].Name] = s.Num
		}
	}
	return env
}

// Derive evaluates the compiled state rules over one set of values.
// values must be positioned as p.Values.
func (p *Profile) Derive(values []Sample) (Condition, error) {
	return p.DeriveIn(nil, values)
}

// DeriveIn is Derive with a rule environment the caller keeps for this
// profile and passes again on the next call (nil: a new one), so that
// steady polling does not build a map per poll.
func (p *Profile) DeriveIn(env map[string]any, values []Sample) (Condition, error) {
	if len(values) != len(p.Values) {
		return Condition{}, fmt.Errorf("profile %s: got %d values, want %d", p.Name, len(values), len(p.Values))
	}
	for i := range values {
		if math.IsNaN(values[i].Num) && p.Values[i].Type != TypeString {
			return Condition{}, fmt.Errorf("profile %s: value %s is NaN", p.Name, p.Values[i].Name)
		}
	}
	if env == nil {
		env = make(map[string]any, len(p.Values))
	}
	env = p.envInto(env, values)
	var c Condition
	var err error
	if c.Fault, err = run(p.Rules.Fault, env); err != nil {
		return c, fmt.Errorf("profile %s: fault rule: %w", p.Name, err)
	}
	if c.Maintenance, err = run(p.Rules.Maintenance, env); err != nil {
		return c, fmt.Errorf("profile %s: maintenance rule: %w", p.Name, err)
	}
	if c.InUse, err = run(p.Rules.InUse, env); err != nil {
		return c, fmt.Errorf("profile %s: in_use rule: %w", p.Name, err)
	}
	return c, nil
}

func run(prog *vm.Program, env map[string]any) (bool, error) {
	if prog == nil {
		return false, nil
	}
	out, err := expr.Run(prog, env)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// Compile compiles the profile's state rules and builds its value index.
// Load calls it; tests that build profiles in code call it themselves.
func (p *Profile) Compile() error {
	p.index = make(map[string]int, len(p.Values))
	for i := range p.Values {
		p.index[p.Values[i].Name] = i
	}
	var err error
	if p.Rules.Fault, err = p.compileRule(p.State.Fault); err != nil {
		return fmt.Errorf("state.fault: %w", err)
	}
	if p.Rules.Maintenance, err = p.compileRule(p.State.Maintenance); err != nil {
		return fmt.Errorf("state.maintenance: %w", err)
	}
	if p.Rules.InUse, err = p.compileRule(p.State.InUse); err != nil {
		return fmt.Errorf("state.in_use: %w", err)
	}
	return nil
}
