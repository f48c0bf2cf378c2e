package config

import (
	"strings"
	"testing"
)

// TestProfileRules covers validateProfile's checks of the profile as a
// whole: kind, values, max_gap, time_path, topic, value names, serial and
// telemetry.
func TestProfileRules(t *testing.T) {
	t.Parallel()
	runProfileCases(t, []profileCase{
		{name: "no kind", profile: "values:\n  - {name: a, table: holding, address: 0}\n",
			want: []problem{{"", 1, "profile has no kind (ventilator, monitor, ecmo, crrt, ...)"}}},
		{name: "kind capitalised", profile: "values:\n  - {name: a, table: holding, address: 0}\nkind: Ventilator\n",
			want: []problem{{"", 3, `invalid kind "Ventilator": use lower-case letters, digits, _ or -`}}},
		{name: "kind with a space", profile: "kind: infusion pump\nvalues:\n  - {name: a, table: holding, address: 0}\n",
			want: []problem{{"", 1, `invalid kind "infusion pump": use lower-case letters, digits, _ or -`}}},
		{name: "no values", profile: "name: x\nkind: monitor\n",
			want: []problem{{"", 1, "profile has no values"}}},
		{name: "empty values", profile: "kind: monitor\nvalues: []\n",
			want: []problem{{"", 2, "profile has no values"}}},
		{name: "max_gap on mqtt", profile: "kind: monitor\ntopic: d/{id}\nmax_gap: 4\nvalues:\n  - {name: a, path: a}\n",
			want: []problem{{"", 3, "max_gap applies to Modbus profiles only"}}},
		{name: "max_gap negative", profile: "kind: monitor\nmax_gap: -1\nvalues:\n  - {name: a, table: holding, address: 0}\n",
			want: []problem{{"", 2, "max_gap must not be negative"}}},
		{name: "time_path on modbus", profile: "kind: monitor\ntime_path: ts\nvalues:\n  - {name: a, table: holding, address: 0}\n",
			want: []problem{{"", 2, "time_path applies to MQTT profiles only"}}},
		{name: "topic with wildcard", profile: "kind: monitor\ntopic: devices/+/status\nvalues:\n  - {name: a, path: a}\n",
			want: []problem{{"", 2, `topic "devices/+/status" must not contain MQTT wildcards`}}},
		{name: "value without name", profile: "kind: monitor\nvalues:\n  - {name: a, table: holding, address: 0}\n  - table: holding\n    address: 1\n",
			want: []problem{{"", 4, "value 2 has no name"}}},
		{name: "value name not an identifier", profile: "kind: monitor\nvalues:\n  - table: holding\n    address: 0\n    name: heart-rate\n",
			want: []problem{{"", 5, `value name "heart-rate" must be an identifier (letters, digits, _) so state rules can use it`}}},
		{name: "value name starts with a digit", profile: "kind: monitor\nvalues:\n  - {name: 2nd, table: holding, address: 0}\n",
			want: []problem{{"", 3, `value name "2nd" must be an identifier (letters, digits, _) so state rules can use it`}}},
		{name: "duplicate value", profile: "kind: monitor\nvalues:\n  - {name: a, table: holding, address: 0}\n  - {name: b, table: holding, address: 1}\n  - table: holding\n    name: a\n    address: 2\n",
			want: []problem{{"", 6, `duplicate value "a" (first at line 3)`}}},
		{name: "serial names no value", profile: "kind: monitor\nvalues:\n  - {name: a, table: holding, address: 0}\nserial: sn\n",
			want: []problem{{"", 4, `serial names unknown value "sn"`}}},
		{name: "telemetry names no value", profile: "kind: monitor\nvalues:\n  - {name: a, table: holding, address: 0}\ntelemetry:\n  - a\n  - pressure\n",
			want: []problem{{"", 6, `telemetry names unknown value "pressure"`}}},
		{name: "telemetry twice", profile: "kind: monitor\nvalues:\n  - {name: a, table: holding, address: 0}\ntelemetry: [a, a]\n",
			want: []problem{{"", 4, `telemetry lists "a" twice`}}},
	})
}

// TestModbusValueRules covers validateModbusValue, one broken value per
// row after a valid first value at line 3.
func TestModbusValueRules(t *testing.T) {
	t.Parallel()
	const head = "kind: monitor\nvalues:\n  - {name: ok, table: holding, address: 100}\n"
	const types = "bool, int16, uint16, int32, uint32, float32, int64, uint64, float64, string"
	runProfileCases(t, []profileCase{
		{name: "no table", profile: head + "  - name: a\n    address: 0\n",
			want: []problem{{"", 4, "value a has no table (coil, discrete, holding or input)"}}},
		{name: "unknown table", profile: head + "  - name: a\n    address: 0\n    table: register\n",
			want: []problem{{"", 6, `value a: unknown table "register" (want coil, discrete, holding or input)`}}},
		{name: "unknown type", profile: head + "  - name: a\n    table: holding\n    address: 0\n    type: int24\n",
			want: []problem{{"", 7, `value a: unknown type "int24" (want one of ` + types + ")"}}},
		{name: "type capitalised", profile: head + "  - {name: a, table: holding, address: 0, type: UINT16}\n",
			want: []problem{{"", 4, `value a: unknown type "UINT16" (want one of ` + types + ")"}}},
		{name: "coil not bool", profile: head + "  - name: a\n    table: coil\n    address: 0\n    type: uint16\n",
			want: []problem{{"", 7, "value a: table coil holds single bits: type must be bool"}}},
		{name: "discrete not bool", profile: head + "  - {name: a, table: discrete, address: 0, type: int32}\n",
			want: []problem{{"", 4, "value a: table discrete holds single bits: type must be bool"}}},
		{name: "bit of a coil", profile: head + "  - name: a\n    table: coil\n    address: 0\n    bit: 1\n",
			want: []problem{{"", 7, "value a: bit applies to register tables only"}}},
		{name: "string without length", profile: head + "  - {name: sn, table: input, address: 0, type: string}\n",
			want: []problem{{"", 4, "value sn: type string needs a length (registers, 2 characters each)"}}},
		{name: "string with negative length", profile: head + "  - {name: sn, table: input, address: 0, type: string, length: -4}\n",
			want: []problem{{"", 4, "value sn: type string needs a length (registers, 2 characters each)"}}},
		{name: "length of a number", profile: head + "  - name: a\n    table: input\n    address: 0\n    length: 2\n",
			want: []problem{{"", 7, "value a: length applies to type string only"}}},
		{name: "no address", profile: head + "  - name: a\n    table: input\n",
			want: []problem{{"", 4, "value a has no address"}}},
		{name: "address negative", profile: head + "  - name: a\n    table: input\n    address: -1\n",
			want: []problem{{"", 6, "value a: address -1 outside 0..65535"}}},
		{name: "address 65536", profile: head + "  - {name: a, table: input, address: 65536}\n",
			want: []problem{{"", 4, "value a: address 65536 outside 0..65535"}}},
		{name: "coil address 65536", profile: head + "  - {name: a, table: coil, address: 65536}\n",
			want: []problem{{"", 4, "value a: address 65536 outside 0..65535"}}},
		{name: "float64 past the end", profile: head + "  - {name: a, table: input, address: 65533, type: float64}\n",
			want: []problem{{"", 4, "value a: 4 registers from address 65533 run past 65535"}}},
		{name: "string past the end", profile: head + "  - {name: a, table: input, address: 65530, type: string, length: 8}\n",
			want: []problem{{"", 4, "value a: 8 registers from address 65530 run past 65535"}}},
		{name: "unknown order", profile: head + "  - name: a\n    table: input\n    address: 0\n    type: int32\n    order: abcd\n",
			want: []problem{{"", 8, `value a: unknown order "abcd" (want ABCD, CDAB, BADC or DCBA)`}}},
		{name: "order of one register", profile: head + "  - {name: a, table: input, address: 0, type: uint16, order: DCBA}\n",
			want: []problem{{"", 4, "value a: order applies to multi-register types only, not uint16"}}},
		{name: "order of a default type", profile: head + "  - {name: a, table: input, address: 0, order: CDAB}\n",
			want: []problem{{"", 4, "value a: order applies to multi-register types only, not uint16"}}},
		{name: "bit of a float", profile: head + "  - name: a\n    table: input\n    address: 0\n    type: float32\n    bit: 3\n",
			want: []problem{{"", 8, "value a: bit cannot be taken from a float32"}}},
		{name: "bit of a string", profile: head + "  - {name: a, table: input, address: 0, type: string, length: 2, bit: 0}\n",
			want: []problem{{"", 4, "value a: bit cannot be taken from a string"}}},
		{name: "bit 16 of uint16", profile: head + "  - {name: a, table: input, address: 0, bit: 16}\n",
			want: []problem{{"", 4, "value a: bit 16 outside 0..15 of a uint16 register value"}}},
		{name: "bit negative", profile: head + "  - {name: a, table: input, address: 0, bit: -1}\n",
			want: []problem{{"", 4, "value a: bit -1 outside 0..15 of a uint16 register value"}}},
		{name: "bit 64 of int64", profile: head + "  - {name: a, table: input, address: 0, type: int64, bit: 64}\n",
			want: []problem{{"", 4, "value a: bit 64 outside 0..63 of a int64 register value"}}},
	})
}

// TestMQTTValueRules covers validateMQTTValue.
func TestMQTTValueRules(t *testing.T) {
	t.Parallel()
	const head = "kind: monitor\ntopic: devices/{id}\nvalues:\n  - {name: ok, path: ok}\n"
	runProfileCases(t, []profileCase{
		{name: "no path", profile: head + "  - name: a\n    type: bool\n",
			want: []problem{{"", 5, "value a has no path (a dotted path into the JSON payload)"}}},
		{name: "table and address", profile: head + "  - {name: a, path: a, table: holding}\n  - {name: b, path: b, address: 3}\n",
			want: []problem{
				{"", 5, "value a has a Modbus table/address but the profile is MQTT: a profile is either Modbus or MQTT"},
				{"", 6, "value b has a Modbus table/address but the profile is MQTT: a profile is either Modbus or MQTT"},
			}},
		// A register value in a profile whose other values are payload
		// paths makes the profile MQTT: the register value is the one
		// reported.
		{name: "mixed without topic", profile: "kind: monitor\nvalues:\n  - {name: a, table: holding, address: 0}\n  - {name: b, path: b}\n",
			want: []problem{
				{"", 3, "value a has no path (a dotted path into the JSON payload)"},
				{"", 3, "value a has a Modbus table/address but the profile is MQTT: a profile is either Modbus or MQTT"},
			}},
		{name: "unknown type", profile: head + "  - name: a\n    path: a\n    type: number\n",
			want: []problem{{"", 7, `value a: unknown type "number" (want one of bool, int16, uint16, int32, uint32, float32, int64, uint64, float64, string)`}}},
		{name: "order", profile: head + "  - {name: a, path: a, type: int32, order: CDAB}\n",
			want: []problem{{"", 5, "value a: order and length apply to Modbus registers only"}}},
		{name: "length", profile: head + "  - {name: a, path: a, type: string, length: 4}\n",
			want: []problem{{"", 5, "value a: order and length apply to Modbus registers only"}}},
		{name: "bit 64", profile: head + "  - name: a\n    path: a\n    type: uint64\n    bit: 64\n",
			want: []problem{{"", 8, "value a: bit 64 must be 0..63 of an integer value"}}},
		{name: "bit negative", profile: head + "  - {name: a, path: a, type: int16, bit: -1}\n",
			want: []problem{{"", 5, "value a: bit -1 must be 0..63 of an integer value"}}},
		// An MQTT value's default type is float64 (a JSON number), which a
		// bit cannot be taken from.
		{name: "bit of the default type", profile: head + "  - {name: a, path: a, bit: 0}\n",
			want: []problem{{"", 5, "value a: bit 0 must be 0..63 of an integer value"}}},
	})
}

// TestScaleRangeRules covers validateScaleRange.
func TestScaleRangeRules(t *testing.T) {
	t.Parallel()
	const head = "kind: monitor\nvalues:\n  - {name: ok, table: holding, address: 100}\n"
	runProfileCases(t, []profileCase{
		{name: "scale 0", profile: head + "  - name: a\n    table: input\n    address: 0\n    scale: 0\n",
			want: []problem{{"", 7, "value a: scale must not be 0"}}},
		{name: "scale of a coil", profile: head + "  - {name: a, table: coil, address: 0, scale: 2}\n",
			want: []problem{{"", 4, "value a: scale and offset apply to numbers only, not bool"}}},
		{name: "offset of a string", profile: head + "  - {name: a, table: input, address: 0, type: string, length: 2, offset: 1}\n",
			want: []problem{{"", 4, "value a: scale and offset apply to numbers only, not string"}}},
		{name: "scale 1 of a bool is no scaling", profile: head + "  - {name: a, table: coil, address: 0, scale: 1}\n",
			want: nil},
		{name: "range of one number", profile: head + "  - name: a\n    table: input\n    address: 0\n    range: [10]\n",
			want: []problem{{"", 7, "value a: range must be two numbers [min, max]"}}},
		{name: "range of three numbers", profile: head + "  - {name: a, table: input, address: 0, range: [0, 1, 2]}\n",
			want: []problem{{"", 4, "value a: range must be two numbers [min, max]"}}},
		{name: "empty range", profile: head + "  - {name: a, table: input, address: 0, range: []}\n",
			want: []problem{{"", 4, "value a: range must be two numbers [min, max]"}}},
		{name: "range reversed", profile: head + "  - {name: a, table: input, address: 0, range: [100, -5.5]}\n",
			want: []problem{{"", 4, "value a: range min 100 is greater than max -5.5"}}},
		{name: "range of a string", profile: head + "  - {name: a, table: input, address: 0, type: string, length: 2, range: [0, 1]}\n",
			want: []problem{{"", 4, "value a: range does not apply to strings"}}},
	})
}

// TestScaleOfABitMessage: a bit taken from a uint16 register is a bool,
// but the message calls it by its register type, as if uint16 were not a
// number.
func TestScaleOfABitMessage(t *testing.T) {
	t.Parallel()
	path := writeProfile(t, "kind: monitor\nvalues:\n  - {name: a, table: input, address: 0, bit: 2, scale: 10}\n")
	_, err := LoadProfile(path)
	if err == nil || !strings.Contains(err.Error(), "bit") {
		t.Fatalf("want a message about the bit, got: %v", err)
	}
}

// TestStateRuleProblems covers compileRules: each broken rule is
// reported at its own line, the "&" mistake with a hint.
func TestStateRuleProblems(t *testing.T) {
	t.Parallel()
	const head = "kind: monitor\nvalues:\n  - {name: status, table: input, address: 0}\n  - {name: temp, table: input, address: 1, scale: 0.1}\n  - {name: on, table: coil, address: 0}\nstate:\n"
	const hint = "; expr has no & operator: test bits with bitand(value, mask) != 0"
	runProfileCases(t, []profileCase{
		{name: "single &", profile: head + "  fault: status & 1 != 0\n",
			want: []problem{{"", 7, `state.fault: unexpected token Operator("&") (1:8)` + hint}}},
		{name: "&& is not the mistake", profile: head + "  in_use: on && missing\n",
			want: []problem{{"", 7, "state.in_use: unknown name missing (1:7)"}}},
		{name: "unknown name", profile: head + "  fault: status > 0\n  maintenance: service_mode\n",
			want: []problem{{"", 8, "state.maintenance: unknown name service_mode (1:1)"}}},
		{name: "not a bool", profile: head + "  in_use: status + 1\n",
			want: []problem{{"", 7, "state.in_use: expected bool, but got int*"}}},
		{name: "bitand of a scaled value", profile: head + "  in_use: bitand(temp, 2) != 0\n",
			want: []problem{{"", 7, "state.in_use: cannot use float64 as argument (type int) to call bitand *"}}},
		{name: "every rule broken", profile: head + "  fault: status &\n  maintenance: nope\n  in_use: on ==\n",
			want: []problem{
				{"", 7, "state.fault: *"},
				{"", 8, "state.maintenance: unknown name nope (1:1)"},
				{"", 9, "state.in_use: *"},
			}},
	})
}

// TestSimulateRules covers validateSimulate and simFits: each simulate
// entry must be servable by its value and make the rules derive its state.
func TestSimulateRules(t *testing.T) {
	t.Parallel()
	const head = `kind: monitor
values:
  - {name: status, table: input, address: 0, range: [0, 7]}
  - {name: on, table: coil, address: 0}
  - {name: temp, table: input, address: 1, scale: 0.1}
  - {name: sn, table: input, address: 2, type: string, length: 2}
  - {name: hours, table: input, address: 3, type: float32}
  - {name: count, table: input, address: 5}
state:
  fault: bitand(status, 1) != 0
  in_use: "on"
simulate:
`
	runProfileCases(t, []profileCase{
		{name: "unknown state", profile: head + "  offline: {}\n",
			want: []problem{{"", 13, `simulate: unknown state "offline" (want standby, in_use, fault or maintenance)`}}},
		{name: "unknown value", profile: head + "  fault:\n    status: 1\n    pressure: 3\n",
			want: []problem{{"", 15, `simulate.fault: unknown value "pressure"`}}},
		{name: "outside the range", profile: head + "  fault: {status: 9}\n",
			want: []problem{{"", 13, "simulate.fault.status: 9 is outside the value's range [0, 7]"}}},
		{name: "not a bool", profile: head + "  in_use: {on: maybe}\n",
			want: []problem{{"", 13, "simulate.in_use.on: maybe is not a bool"}}},
		{name: "bool as 2", profile: head + "  in_use: {on: 2}\n",
			want: []problem{{"", 13, "simulate.in_use.on: 2 is not a bool"}}},
		{name: "number as text", profile: head + "  standby: {count: many}\n",
			want: []problem{{"", 13, "simulate.standby.count: many is not a number"}}},
		{name: "string as number", profile: head + "  standby: {sn: 42}\n",
			want: []problem{{"", 13, "simulate.standby.sn: 42 is not a string"}}},
		{name: "string too long", profile: head + "  standby: {sn: ABCDE}\n",
			want: []problem{{"", 13, `simulate.standby.sn: "ABCDE" is longer than 4 characters (2 registers)`}}},
		{name: "not a whole raw value", profile: head + "  standby: {temp: 36.55}\n",
			want: []problem{{"", 13, "simulate.standby.temp: 36.55 does not encode as a whole uint16 (raw 365.4*"}}},
		{name: "does not fit the type", profile: head + "  standby: {count: 70000}\n",
			want: []problem{{"", 13, "simulate.standby.count: 70000 does not fit a uint16 (raw 70000)"}}},
		{name: "negative unsigned", profile: head + "  standby: {count: -1}\n",
			want: []problem{{"", 13, "simulate.standby.count: -1 does not fit a uint16 (raw -1)"}}},
		{name: "does not fit a float32", profile: head + "  standby: {hours: 1e39}\n",
			want: []problem{{"", 13, "simulate.standby.hours: 1e+39 does not fit a float32"}}},
		{name: "beyond int64", profile: head + "  standby: {count: 18446744073709551615}\n",
			want: []problem{{"", 13, "simulate.standby.count: 18446744073709551615 does not fit a uint16 (raw 1.8446744073709552e+19)"}}},
		{name: "bool as 0 and 1, no problem", profile: head + "  standby: {on: 0}\n  in_use: {on: 1}\n", want: nil},
		{name: "with a broken rule", profile: strings.Replace(head, "in_use: \"on\"", "in_use: on &", 1) + "  in_use: {on: true, pressure: 1}\n",
			want: []problem{
				{"", 11, "state.in_use: *"},
				{"", 13, `simulate.in_use: unknown value "pressure"`},
			}},
		{name: "rules derive another state", profile: head + "  maintenance: {status: 2}\n",
			want: []problem{{"", 13, "simulate.maintenance: the state rules derive standby, not maintenance"}}},
		{name: "in_use that is also a fault", profile: head + "  in_use: {on: true, status: 1}\n",
			want: []problem{{"", 13, "simulate.in_use: the state rules derive fault, not in_use"}}},
	})
}

// TestSimulatedSamples covers the errors of Profile.SimulatedSamples, for
// profiles built in code rather than loaded (icusim's and tests' use).
func TestSimulatedSamples(t *testing.T) {
	t.Parallel()
	p := &Profile{Name: "p", Values: []Value{{Name: "a"}, {Name: "s", Type: TypeString}},
		Simulate: map[string]map[string]any{
			"standby": {"a": int64(3), "s": "x"},
			"in_use":  {"a": true},
			"fault":   {"b": 1},
			"maint":   {"a": []int{1}},
		}}
	for _, c := range []struct{ state, want string }{
		{"offline", "profile p: no simulate values for state offline"},
		{"fault", `profile p: simulate.fault names unknown value "b"`},
		{"maint", "profile p: simulate.maint.a: [1] is not a number"},
	} {
		if _, err := p.SimulatedSamples(c.state); err == nil || err.Error() != c.want {
			t.Errorf("SimulatedSamples(%s) = %v, want %q", c.state, err, c.want)
		}
	}
	if s, err := p.SimulatedSamples("standby"); err != nil || s[0].Num != 3 || s[1].Str != "x" {
		t.Errorf("standby: %+v, %v", s, err)
	}
	if s, err := p.SimulatedSamples("in_use"); err != nil || s[0].Num != 1 {
		t.Errorf("in_use: %+v, %v", s, err)
	}
}
