package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/icugate/icugate/rules"
)

// valueName is what a state rule can refer to: an identifier.
var valueName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// kindName is a device kind: lower-case, e.g. ventilator, infusion_pump.
var kindName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

var (
	tables     = []string{TableCoil, TableDiscrete, TableHolding, TableInput}
	valueTypes = []string{TypeBool, TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeFloat32, TypeInt64, TypeUint64, TypeFloat64, TypeString}
	orders     = []string{OrderABCD, OrderCDAB, OrderBADC, OrderDCBA}
)

// validateProfile checks a decoded profile (defaults applied) and records
// each problem at its line in the profile file.
func validateProfile(c *collector, d *doc, p *Profile) {
	at := func(line int, format string, args ...any) { c.add(d.file, line, format, args...) }
	if p.Kind == "" {
		at(d.line("kind"), "profile has no kind (ventilator, monitor, ecmo, crrt, ...)")
	} else if !kindName.MatchString(p.Kind) {
		at(d.line("kind"), "invalid kind %q: use lower-case letters, digits, _ or -", p.Kind)
	}
	if len(p.Values) == 0 {
		at(d.line("values"), "profile has no values")
	}
	mqtt := p.Transport() == "mqtt"
	if mqtt && p.MaxGap != nil {
		at(d.line("max_gap"), "max_gap applies to Modbus profiles only")
	}
	if p.MaxGap != nil && *p.MaxGap < 0 {
		at(d.line("max_gap"), "max_gap must not be negative")
	}
	if !mqtt && p.TimePath != "" {
		at(d.line("time_path"), "time_path applies to MQTT profiles only")
	}
	if strings.ContainsAny(p.Topic, "+#") {
		at(d.line("topic"), "topic %q must not contain MQTT wildcards", p.Topic)
	}
	names := map[string]int{}
	for i := range p.Values {
		v := &p.Values[i]
		line := d.line("values", i)
		if v.Name == "" {
			at(line, "value %d has no name", i+1)
		} else if !valueName.MatchString(v.Name) {
			at(d.line("values", i, "name"), "value name %q must be an identifier (letters, digits, _) so state rules can use it", v.Name)
		} else if j, dup := names[v.Name]; dup {
			at(d.line("values", i, "name"), "duplicate value %q (first at line %d)", v.Name, d.line("values", j))
		} else {
			names[v.Name] = i
		}
		if mqtt {
			validateMQTTValue(at, d, i, v)
		} else {
			validateModbusValue(at, d, i, v)
		}
		validateScaleRange(at, d, i, v)
	}
	if p.Serial != "" {
		if _, ok := names[p.Serial]; !ok {
			at(d.line("serial"), "serial names unknown value %q", p.Serial)
		}
	}
	seen := map[string]bool{}
	for i, t := range p.Telemetry {
		if _, ok := names[t]; !ok {
			at(d.line("telemetry", i), "telemetry names unknown value %q", t)
		} else if seen[t] {
			at(d.line("telemetry", i), "telemetry lists %q twice", t)
		}
		seen[t] = true
	}
	compileRules(at, d, p)
	validateSimulate(at, d, p)
}

func validateModbusValue(at func(int, string, ...any), d *doc, i int, v *Value) {
	name := v.Name
	if v.Path != "" {
		at(d.line("values", i, "path"), "value %s has a path but the profile reads Modbus registers: a profile is either Modbus or MQTT", name)
	}
	if !slices.Contains(tables, v.Table) {
		if v.Table == "" {
			at(d.line("values", i), "value %s has no table (coil, discrete, holding or input)", name)
		} else {
			at(d.line("values", i, "table"), "value %s: unknown table %q (want coil, discrete, holding or input)", name, v.Table)
		}
		return
	}
	if !slices.Contains(valueTypes, v.Type) {
		at(d.line("values", i, "type"), "value %s: unknown type %q (want one of %s)", name, v.Type, strings.Join(valueTypes, ", "))
		return
	}
	bits := v.Table == TableCoil || v.Table == TableDiscrete
	if bits && v.Type != TypeBool {
		at(d.line("values", i, "type"), "value %s: table %s holds single bits: type must be bool", name, v.Table)
		return
	}
	if bits && v.Bit != nil {
		at(d.line("values", i, "bit"), "value %s: bit applies to register tables only", name)
	}
	if v.Type == TypeString && v.Length <= 0 {
		at(d.line("values", i), "value %s: type string needs a length (registers, 2 characters each)", name)
		return
	}
	if v.Type != TypeString && v.Length != 0 {
		at(d.line("values", i, "length"), "value %s: length applies to type string only", name)
	}
	if v.Address == nil {
		at(d.line("values", i), "value %s has no address", name)
	} else {
		a, n := *v.Address, max(v.Registers(), 1)
		switch {
		case a < 0 || a > 65535:
			at(d.line("values", i, "address"), "value %s: address %d outside 0..65535", name, a)
		case a+n-1 > 65535:
			at(d.line("values", i, "address"), "value %s: %d registers from address %d run past 65535", name, n, a)
		}
	}
	if v.Order != "" {
		switch {
		case !slices.Contains(orders, v.Order):
			at(d.line("values", i, "order"), "value %s: unknown order %q (want ABCD, CDAB, BADC or DCBA)", name, v.Order)
		case v.Registers() <= 1:
			at(d.line("values", i, "order"), "value %s: order applies to multi-register types only, not %s", name, v.Type)
		}
	}
	if v.Bit != nil && !bits {
		width := 16 * v.Registers()
		switch {
		case v.Type == TypeFloat32 || v.Type == TypeFloat64 || v.Type == TypeString:
			at(d.line("values", i, "bit"), "value %s: bit cannot be taken from a %s", name, v.Type)
		case *v.Bit < 0 || *v.Bit >= width:
			at(d.line("values", i, "bit"), "value %s: bit %d outside 0..%d of a %s register value", name, *v.Bit, width-1, v.Type)
		}
	}
}

func validateMQTTValue(at func(int, string, ...any), d *doc, i int, v *Value) {
	name := v.Name
	if v.Path == "" {
		at(d.line("values", i), "value %s has no path (a dotted path into the JSON payload)", name)
	}
	if v.Table != "" || v.Address != nil {
		at(d.line("values", i), "value %s has a Modbus table/address but the profile is MQTT: a profile is either Modbus or MQTT", name)
	}
	if !slices.Contains(valueTypes, v.Type) {
		at(d.line("values", i, "type"), "value %s: unknown type %q (want one of %s)", name, v.Type, strings.Join(valueTypes, ", "))
	}
	if v.Order != "" || v.Length != 0 {
		at(d.line("values", i), "value %s: order and length apply to Modbus registers only", name)
	}
	if v.Bit != nil && (*v.Bit < 0 || *v.Bit > 63 || !v.isInteger()) {
		at(d.line("values", i, "bit"), "value %s: bit %d must be 0..63 of an integer value", name, *v.Bit)
	}
}

func validateScaleRange(at func(int, string, ...any), d *doc, i int, v *Value) {
	numeric := v.Type != TypeString && v.Type != TypeBool && v.Bit == nil
	if v.Scale != nil && *v.Scale == 0 {
		at(d.line("values", i, "scale"), "value %s: scale must not be 0", v.Name)
	}
	if !numeric && ((v.Scale != nil && *v.Scale != 1) || v.Offset != 0) {
		if v.Bit != nil {
			// v.Type is the type of the register the bit is taken from
			// (uint16), a number: naming it would not say what is wrong.
			at(d.line("values", i), "value %s: scale and offset do not apply to a bit, which reads as true or false", v.Name)
		} else {
			at(d.line("values", i), "value %s: scale and offset apply to numbers only, not %s", v.Name, v.Type)
		}
	}
	if v.Range != nil {
		switch {
		case len(v.Range) != 2:
			at(d.line("values", i, "range"), "value %s: range must be two numbers [min, max]", v.Name)
		case v.Range[0] > v.Range[1]:
			at(d.line("values", i, "range"), "value %s: range min %g is greater than max %g", v.Name, v.Range[0], v.Range[1])
		case v.Type == TypeString:
			at(d.line("values", i, "range"), "value %s: range does not apply to strings", v.Name)
		}
	}
}

// compileRules compiles each state rule on its own so every broken rule is
// reported, then builds the profile's index and programs.
func compileRules(at func(int, string, ...any), d *doc, p *Profile) {
	ok := true
	for _, r := range []struct{ key, src string }{
		{"fault", p.State.Fault}, {"maintenance", p.State.Maintenance}, {"in_use", p.State.InUse},
	} {
		if _, err := rules.CompileRule(p.ruleInputs(), r.src); err != nil {
			msg, _, _ := strings.Cut(err.Error(), "\n")
			if strings.Contains(strings.ReplaceAll(r.src, "&&", ""), "&") {
				msg += "; expr has no & operator: test bits with bitand(value, mask) != 0"
			}
			at(d.line("state", r.key), "state.%s: %s", r.key, msg)
			ok = false
		}
	}
	if ok {
		if err := p.Compile(); err != nil { // cannot fail after the checks above
			at(d.line("state"), "%v", err)
		}
	}
}

// simStates are the device states a profile's simulate section may give.
var simStates = []string{"standby", "in_use", "fault", "maintenance"}

func validateSimulate(at func(int, string, ...any), d *doc, p *Profile) {
	for _, state := range sortedKeys(p.Simulate) {
		if !slices.Contains(simStates, state) {
			at(d.line("simulate", state), "simulate: unknown state %q (want standby, in_use, fault or maintenance)", state)
			continue
		}
		bad := false
		for _, name := range sortedKeys(p.Simulate[state]) {
			i := p.Index(name)
			if p.index == nil {
				i = slices.IndexFunc(p.Values, func(v Value) bool { return v.Name == name })
			}
			if i < 0 {
				at(d.line("simulate", state, name), "simulate.%s: unknown value %q", state, name)
				bad = true
				continue
			}
			if err := simFits(&p.Values[i], p.Simulate[state][name]); err != nil {
				at(d.line("simulate", state, name), "simulate.%s.%s: %v", state, name, err)
				bad = true
			}
		}
		if bad || p.index == nil {
			continue
		}
		samples, err := p.SimulatedSamples(state)
		if err == nil {
			var c rules.Condition
			if c, err = p.Rules.Derive(samples); err == nil && c.State() != state {
				err = fmt.Errorf("the state rules derive %s, not %s", c.State(), state)
			}
		}
		if err != nil {
			at(d.line("simulate", state), "simulate.%s: %v", state, err)
		}
	}
}
