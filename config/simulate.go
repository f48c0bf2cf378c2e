package config

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/icugate/icugate/rules"
)

// SimulatedSamples returns the decoded values a simulated device in state
// serves, positioned as p.Values: the profile's simulate entries, and 0
// (or "") for values not listed. icusim encodes them; tests derive them.
func (p *Profile) SimulatedSamples(state string) ([]rules.Sample, error) {
	sim, ok := p.Simulate[state]
	if !ok {
		return nil, fmt.Errorf("profile %s: no simulate values for state %s", p.Name, state)
	}
	out := make([]rules.Sample, len(p.Values))
	for name, x := range sim {
		i := slices.IndexFunc(p.Values, func(v Value) bool { return v.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("profile %s: simulate.%s names unknown value %q", p.Name, state, name)
		}
		switch x := x.(type) {
		case string:
			out[i].Str = x
		case bool:
			if x {
				out[i].Num = 1
			}
		default:
			f, ok := number(x)
			if !ok {
				return nil, fmt.Errorf("profile %s: simulate.%s.%s: %v is not a number", p.Name, state, name, x)
			}
			out[i].Num = f
		}
	}
	return out, nil
}

func number(x any) (float64, bool) {
	switch x := x.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// typeBounds is the raw range of each integer type.
var typeBounds = map[string][2]float64{
	TypeInt16:  {math.MinInt16, math.MaxInt16},
	TypeUint16: {0, math.MaxUint16},
	TypeInt32:  {math.MinInt32, math.MaxInt32},
	TypeUint32: {0, math.MaxUint32},
	TypeInt64:  {math.MinInt64, math.MaxInt64},
	TypeUint64: {0, math.MaxUint64},
}

// simFits reports whether a simulate value can be served by value v: its
// Go type matches, and once unscaled it fits v's type exactly and lies in
// v's plausible range.
func simFits(v *Value, x any) error {
	switch {
	case v.Type == TypeString:
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("%v is not a string", x)
		}
		if v.Length > 0 && len(s) > 2*v.Length {
			return fmt.Errorf("%q is longer than %d characters (%d registers)", s, 2*v.Length, v.Length)
		}
		return nil
	case v.Type == TypeBool || v.Bit != nil:
		if _, ok := x.(bool); ok {
			return nil
		}
		if f, ok := number(x); ok && (f == 0 || f == 1) {
			return nil
		}
		return fmt.Errorf("%v is not a bool", x)
	}
	f, ok := number(x)
	if !ok {
		return fmt.Errorf("%v is not a number", x)
	}
	if len(v.Range) == 2 && (f < v.Range[0] || f > v.Range[1]) {
		return fmt.Errorf("%v is outside the value's range [%g, %g]", x, v.Range[0], v.Range[1])
	}
	scale := 1.0
	if v.Scale != nil && *v.Scale != 0 {
		scale = *v.Scale
	}
	raw := (f - v.Offset) / scale
	if b, ok := typeBounds[v.Type]; ok {
		if math.Abs(raw-math.Round(raw)) > 1e-6*math.Max(1, math.Abs(raw)) {
			return fmt.Errorf("%v does not encode as a whole %s (raw %g)", x, v.Type, raw)
		}
		if raw < b[0] || raw > b[1] {
			return fmt.Errorf("%v does not fit a %s (raw %g)", x, v.Type, raw)
		}
	}
	if v.Type == TypeFloat32 && math.Abs(raw) > math.MaxFloat32 {
		return fmt.Errorf("%v does not fit a float32", x)
	}
	return nil
}

func sortedKeys[M ~map[K]V, K cmp.Ordered, V any](m M) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
