// Package rules evaluates a device profile's state rules: boolean
// expressions (github.com/expr-lang/expr syntax) over the values a driver
// decoded, which say whether the device is in fault, in maintenance or in
// use (PRODUCT §4). config compiles a profile's rules into a Set when it
// loads the profile, so that a broken rule is a config error with its line;
// the pipeline evaluates the Set on every observation. The package knows
// nothing of YAML, drivers or beds: it takes named, typed inputs and
// returns a Condition.
package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Sample is one decoded value of an observation, positioned as the inputs
// of its profile's Set. Str is used only by String inputs; every other kind
// is in Num (bools as 0 or 1).
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

// State names the state a condition alone gives an online device, with the
// precedence of PRODUCT §4: fault, maintenance, in use, standby.
func (c Condition) State() string {
	switch {
	case c.Fault:
		return "fault"
	case c.Maintenance:
		return "maintenance"
	case c.InUse:
		return "in_use"
	default:
		return "standby"
	}
}

// Kind is the Go type a value has inside a rule.
type Kind uint8

// Kinds. Unscaled integers are Int so that bitand() works on them; booleans
// and bits are Bool; everything else numeric is Float.
const (
	Float Kind = iota
	Int
	Bool
	String
)

// Input is one value the rules may read, by name and kind. A Set's inputs
// are in the profile's value order, which is also the order of the samples
// passed to Derive.
type Input struct {
	Name string
	Kind Kind
	// Where says where the value comes from ("discrete 9", "holding 3
	// bit 2", "$.alarm.code"), for explanations; may be empty.
	Where string
}

// Source is the text of a profile's three rules; an empty rule is never
// true.
type Source struct {
	Fault       string
	Maintenance string
	InUse       string
}

// Set is a profile's state rules, compiled. It is immutable and safe for
// concurrent use; the rule environment passed to DeriveIn is not.
type Set struct {
	name        string
	inputs      []Input
	fault       *vm.Program
	maintenance *vm.Program
	inUse       *vm.Program
	// reads holds, per rule (Fault, Maintenance, InUse), the inputs the
	// rule reads, in order of first appearance.
	reads [3][]int
}

// Rule names a profile's rule, for Explain.
type Rule uint8

// The three rules of a profile.
const (
	FaultRule Rule = iota
	MaintenanceRule
	InUseRule
)

// typeEnv is the environment rules are compiled against: every input with
// the Go type it will have at run time.
func typeEnv(inputs []Input) map[string]any {
	env := make(map[string]any, len(inputs))
	for _, in := range inputs {
		switch in.Kind {
		case Bool:
			env[in.Name] = false
		case Int:
			env[in.Name] = 0
		case String:
			env[in.Name] = ""
		default:
			env[in.Name] = 0.0
		}
	}
	return env
}

// CompileRule compiles one rule over inputs, so that a caller can report
// each broken rule on its own; an empty rule compiles to nil.
func CompileRule(inputs []Input, src string) (*vm.Program, error) {
	if src == "" {
		return nil, nil
	}
	return expr.Compile(src, expr.Env(typeEnv(inputs)), expr.AsBool())
}

// Compile compiles the three rules of the profile called name. The error
// names the rule that failed ("state.fault: ...").
func Compile(name string, inputs []Input, src Source) (*Set, error) {
	s := &Set{name: name, inputs: append([]Input(nil), inputs...)}
	var err error
	if s.fault, err = CompileRule(inputs, src.Fault); err != nil {
		return nil, fmt.Errorf("state.fault: %w", err)
	}
	if s.maintenance, err = CompileRule(inputs, src.Maintenance); err != nil {
		return nil, fmt.Errorf("state.maintenance: %w", err)
	}
	if s.inUse, err = CompileRule(inputs, src.InUse); err != nil {
		return nil, fmt.Errorf("state.in_use: %w", err)
	}
	for r, prog := range []*vm.Program{s.fault, s.maintenance, s.inUse} {
		s.reads[r] = readsOf(prog, inputs)
	}
	return s, nil
}

// readsOf lists the inputs prog reads, by index, in order of first
// appearance in its source.
func readsOf(prog *vm.Program, inputs []Input) []int {
	if prog == nil {
		return nil
	}
	index := make(map[string]int, len(inputs))
	for i, in := range inputs {
		index[in.Name] = i
	}
	v := &identVisitor{index: index, seen: map[int]bool{}}
	node := prog.Node()
	ast.Walk(&node, v)
	return v.reads
}

type identVisitor struct {
	index map[string]int
	seen  map[int]bool
	reads []int
}

func (v *identVisitor) Visit(n *ast.Node) {
	id, ok := (*n).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if i, ok := v.index[id.Value]; ok && !v.seen[i] {
		v.seen[i] = true
		v.reads = append(v.reads, i)
	}
}

// Explain says what the rule read in values, e.g. "tech_fault = true
// (discrete 9), status = 34 (holding 3)": the cause of a state names the
// values that made its rule true, not only the rule. Empty when the rule
// is not set or values do not fit the Set.
func (s *Set) Explain(r Rule, values []Sample) string {
	if int(r) >= len(s.reads) || len(values) != len(s.inputs) {
		return ""
	}
	var b strings.Builder
	for k, i := range s.reads[r] {
		if k > 0 {
			b.WriteString(", ")
		}
		in := s.inputs[i]
		b.WriteString(in.Name)
		b.WriteString(" = ")
		switch in.Kind {
		case Bool:
			b.WriteString(strconv.FormatBool(values[i].Num != 0))
		case String:
			b.WriteString(strconv.Quote(values[i].Str))
		default:
			b.WriteString(strconv.FormatFloat(values[i].Num, 'g', 6, 64))
		}
		if in.Where != "" {
			b.WriteString(" (" + in.Where + ")")
		}
	}
	return b.String()
}

// Inputs returns the number of values the Set expects per Derive.
func (s *Set) Inputs() int { return len(s.inputs) }

// HasRule reports which rules are set (not empty): fault, maintenance,
// in use.
func (s *Set) HasRule() (fault, maintenance, inUse bool) {
	return s.fault != nil, s.maintenance != nil, s.inUse != nil
}

// Env builds the run-time environment of the rules from samples.
func (s *Set) Env(values []Sample) map[string]any {
	return s.envInto(make(map[string]any, len(s.inputs)), values)
}

// envInto fills env from values and returns it. Every input is set on every
// call, so a map reused for one Set never holds a stale value.
func (s *Set) envInto(env map[string]any, values []Sample) map[string]any {
	for i, in := range s.inputs {
		if i >= len(values) {
			break
		}
		v := values[i]
		switch in.Kind {
		case Bool:
			env[in.Name] = v.Num != 0
		case String:
			env[in.Name] = v.Str
		case Int:
			env[in.Name] = int(v.Num)
		default:
			env[in.Name] = v.Num
		}
	}
	return env
}

// Derive evaluates the rules over one set of values, positioned as the
// Set's inputs.
func (s *Set) Derive(values []Sample) (Condition, error) {
	return s.DeriveIn(nil, values)
}

// DeriveIn is Derive with a rule environment the caller keeps for this Set
// and passes again on the next call (nil: a new one), so that steady
// polling does not build a map per poll.
func (s *Set) DeriveIn(env map[string]any, values []Sample) (Condition, error) {
	if len(values) != len(s.inputs) {
		return Condition{}, fmt.Errorf("profile %s: got %d values, want %d", s.name, len(values), len(s.inputs))
	}
	for i := range values {
		if math.IsNaN(values[i].Num) && s.inputs[i].Kind != String {
			return Condition{}, fmt.Errorf("profile %s: value %s is NaN", s.name, s.inputs[i].Name)
		}
	}
	if env == nil {
		env = make(map[string]any, len(s.inputs))
	}
	env = s.envInto(env, values)
	var c Condition
	var err error
	if c.Fault, err = run(s.fault, env); err != nil {
		return c, fmt.Errorf("profile %s: fault rule: %w", s.name, err)
	}
	if c.Maintenance, err = run(s.maintenance, env); err != nil {
		return c, fmt.Errorf("profile %s: maintenance rule: %w", s.name, err)
	}
	if c.InUse, err = run(s.inUse, env); err != nil {
		return c, fmt.Errorf("profile %s: in_use rule: %w", s.name, err)
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
