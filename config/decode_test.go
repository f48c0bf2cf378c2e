package config

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestSyntaxProblems covers decodeStrict's and addSyntax's handling of
// files that are not YAML, or not a mapping: one problem, at the line the
// mistake is on, and nothing after it.
func TestSyntaxProblems(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "empty file", site: "",
			want: []problem{{"", 0, "want a mapping of keys at the top level"}}},
		{name: "only comments", site: "# hospital: to be written\n",
			want: []problem{{"", 0, "want a mapping of keys at the top level"}}},
		{name: "a list", site: "- hospital\n- units\n",
			want: []problem{{"", 1, "want a mapping of keys at the top level"}}},
		{name: "a word", site: "hospital\n",
			want: []problem{{"", 1, "want a mapping of keys at the top level"}}},
		// A parser error: yaml.v3 counts its lines from 0, addSyntax adds one.
		{name: "unclosed flow mapping", site: minimalSite + "mqtt: {broker: tcp://127.0.0.1:1883\nlog: {level: debug}\n",
			want: []problem{{"", 6, "invalid YAML: did not find expected ',' or '}'"}}},
		{name: "unclosed flow list", site: minimalSite + "pools: [a, b\nlog: {level: debug}\n",
			want: []problem{{"", 6, "invalid YAML: did not find expected ',' or ']'"}}},
		{name: "key indented too little", site: minimalSite + "http:\n  listen: 127.0.0.1:8080\n hosts: [a]\n",
			want: []problem{{"", 8, "invalid YAML: did not find expected key"}}},
		// A scanner error: its line is 1-based already.
		{name: "mapping in a plain value", site: minimalSite + "log: level: debug\n",
			want: []problem{{"", 6, "invalid YAML: mapping values are not allowed in this context"}}},
		{name: "unclosed quote", site: minimalSite + "log: {level: \"debug}\n",
			want: []problem{{"", 6, "invalid YAML: found unexpected end of stream"}}},
		{name: "duplicate directive", site: "%YAML 1.1\n%YAML 1.1\n---\n" + minimalSite,
			want: []problem{{"", 2, "invalid YAML: found duplicate %YAML directive"}}},
		// Problems yaml.v3 gives no line for are the file's.
		{name: "control character", site: minimalSite + "log: {level: \"\x01\"}\n",
			want: []problem{{"", 0, "invalid YAML: control characters are not allowed"}}},
		{name: "unknown alias", site: minimalSite + "log: *missing\n",
			want: []problem{{"", 0, "invalid YAML: unknown anchor 'missing' referenced"}}},
		// Errors yaml.v3 raises while decoding, not parsing, stop the file
		// too; they carry yaml.v3's own prefix and no line.
		{name: "bad base64", site: minimalSite + "log: {level: !!binary abc}\n",
			want: []problem{{"", 0, "yaml: !!binary value contains invalid base64 data"}}},
		{name: "merge of a scalar", site: minimalSite + "log: {<<: debug}\n",
			want: []problem{{"", 0, "yaml: map merge requires map or sequence of maps as the value"}}},
	})
}

// TestSyntaxLineBugs shows two syntax errors reported at the wrong line:
// yaml.v3 leaves out "line 1" (its line 0) from scanner errors on the
// first line, and puts a tab that breaks indentation on the line of the
// scalar before it.
func TestSyntaxLineBugs(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "mapping in a plain value on line 1", site: "hospital: id: h1\n",
			want: []problem{{"", 1, "invalid YAML: mapping values are not allowed in this context"}}},
		{name: "tab", site: minimalSite + "log:\n  level: debug\n\tformat: json\n",
			want: []problem{{"", 8, "invalid YAML: found a tab character that violates indentation"}}},
	})
}

// TestTypeProblems covers rewordYAML through Load: what yaml.v3 cannot
// decode is named in the user's terms, at its line, and the rest of the
// file is still checked.
func TestTypeProblems(t *testing.T) {
	t.Parallel()
	const dur = "want a duration such as 15s or 1m"
	runSiteCases(t, []siteCase{
		{name: "duration without unit", site: minimalSite + "hold: 15\n",
			want: []problem{{"", 6, `cannot use int "15" here: ` + dur}}},
		{name: "duration as a fraction", site: minimalSite + "hold: 1.5\n",
			want: []problem{{"", 6, `cannot use float "1.5" here: ` + dur}}},
		{name: "duration in words", site: minimalSite + "hold: 15 seconds\n",
			want: []problem{{"", 6, `cannot use str "15 seconds" here: ` + dur}}},
		{name: "duration as a list", site: minimalSite + "hold: [15s]\n",
			want: []problem{{"", 6, "cannot use a list here: " + dur}}},
		{name: "integer in words", site: minimalSite + "target_year: next\n",
			want: []problem{{"", 6, `cannot use str "next" here: want an integer`}}},
		{name: "bool in words", site: minimalSite + "clinical: maybe\n",
			want: []problem{{"", 6, `cannot use str "maybe" here: want true or false`}}},
		{name: "mapping for a list", site: minimalSite + "pools: {id: store}\n",
			want: []problem{{"", 6, "cannot use a mapping here: want a list"}}},
		{name: "list for a mapping", site: minimalSite + "log: [debug]\n",
			want: []problem{{"", 6, "cannot use a list here: want a mapping"}}},
		{name: "list for a string", site: minimalSite + "http:\n  hosts: [[a, b]]\n",
			want: []problem{{"", 7, "cannot use a list here: want a string"}}},
		{name: "mapping for a string", site: minimalSite + "log:\n  level: {name: debug}\n",
			want: []problem{{"", 7, "cannot use a mapping here: want a string"}}},
		{name: "several in one file", site: minimalSite + "hold: soon\nclinical: 2\nhttp: {max_event_clients: lots}\n",
			want: []problem{
				{"", 6, `cannot use str "soon" here: ` + dur},
				{"", 7, `cannot use int "2" here: want true or false`},
				{"", 8, `cannot use str "lots" here: want an integer`},
			}},
		{name: "scalar for the hospital block", site: "hospital: St Mary\n" + minimalRest,
			want: []problem{
				{"", 1, `cannot use str "St Mary" here: want a mapping`},
				{"", 1, "hospital.id is required"},
				{"", 1, `hospital.level is "": want tertiary or secondary`},
				{"", 1, "hospital.total_beds must be the hospital's inpatient beds, more than 0 (got 0)"},
			}},
		// Through an alias, a problem is located at the anchored node.
		{name: "alias of a unit", site: "hospital: {id: h1, level: tertiary, total_beds: 100}\nunits:\n  - &u {id: icu1, class: general, beds: [b1]}\n  - *u\n" + twoUnitDevices,
			want: []problem{
				{"", 3, `duplicate unit id "icu1" (first at line 3)`},
				{"", 3, `duplicate bed id "b1" (already a bed of unit icu1)`},
			}},
		{name: "a number in a profile", site: minimalSite, profiles: map[string]string{
			"mon": "kind: monitor\nvalues:\n  - {name: status, table: input, address: 0, range: [0, high]}\n"},
			want: []problem{
				{"mon.yaml", 3, `cannot use str "high" here: want a number`},
				{"mon.yaml", 3, "value status: range must be two numbers [min, max]"},
			}},
	})
}

// TestUnknownKeys covers the strict decoding of every block: an unknown
// key is named with the block it is in (yamlTypeName), at its line.
func TestUnknownKeys(t *testing.T) {
	t.Parallel()
	const tail = "; check its spelling and indentation"
	runSiteCases(t, []siteCase{
		{name: "top level", site: minimalSite + "hould: 15s\n",
			want: []problem{{"", 6, `unknown key "hould" (in top level)` + tail}}},
		{name: "hospital", site: "hospital: {id: h1, level: tertiary, total_beds: 100, beds: 100}\n" + minimalRest,
			want: []problem{{"", 1, `unknown key "beds" (in hospital)` + tail}}},
		{name: "staffing", site: "hospital: {id: h1, level: tertiary, total_beds: 100, staffing: {doctors: 1, nurse: 3}}\n" + minimalRest,
			want: []problem{{"", 1, `unknown key "nurse" (in staffing)` + tail}}},
		{name: "unit", site: "hospital: {id: h1, level: tertiary, total_beds: 100}\nunits:\n  - id: icu1\n    class: general\n    bed: [b2]\n    beds: [b1]\n" + twoUnitDevices,
			want: []problem{{"", 5, `unknown key "bed" (in unit)` + tail}}},
		{name: "pool", site: minimalSite + "pools:\n  - id: store\n    owner: icu1\n",
			want: []problem{{"", 8, `unknown key "owner" (in pool)` + tail}}},
		{name: "device", site: deviceBase + "  - {id: m3, profile: mon, at: store, colour: red, modbus: {address: \"10.0.0.2:502\"}}\n",
			want: []problem{{"", 7, `unknown key "colour" (in device)` + tail}}},
		{name: "modbus block", site: deviceBase + "  - id: m3\n    profile: mon\n    at: store\n    modbus:\n      address: \"10.0.0.2:502\"\n      intervall: 2s\n",
			want: []problem{{"", 12, `unknown key "intervall" (in modbus block)` + tail}}},
		{name: "rtu block", site: deviceBase + "  - {id: m3, profile: mon, at: store, modbus: {rtu: {device: /dev/ttyS0, speed: 9600}}}\n",
			want: []problem{{"", 7, `unknown key "speed" (in rtu block)` + tail}}},
		{name: "device mqtt block", site: deviceBase + "  - {id: m3, profile: mon-mqtt, at: store, mqtt: {qos: 1}}\n" + withBroker,
			want: []problem{{"", 7, `unknown key "qos" (in device mqtt block)` + tail}}},
		{name: "mqtt broker block", site: minimalSite + "mqtt:\n  broker: tcp://127.0.0.1:1883\n  password: secret\n",
			want: []problem{{"", 8, `unknown key "password" (in mqtt broker block)` + tail}}},
		{name: "TLS", site: minimalSite + "mqtt:\n  broker: ssl://broker:8883\n  tls:\n    ca: ca.pem\n",
			want: []problem{{"", 9, `unknown key "ca" (in TLS)` + tail}}},
		{name: "influxdb", site: minimalSite + "influxdb:\n  url: http://influx:8086\n  bucket: icu\n  token: secret\n",
			want: []problem{{"", 9, `unknown key "token" (in influxdb)` + tail}}},
		{name: "outbox", site: minimalSite + "outbox:\n  dirr: /var/lib/icugate\n",
			want: []problem{{"", 7, `unknown key "dirr" (in outbox)` + tail}}},
		{name: "report", site: minimalSite + "report:\n  key: report.key\n",
			want: []problem{{"", 7, `unknown key "key" (in report)` + tail}}},
		{name: "HTTP", site: minimalSite + "http:\n  port: 8080\n",
			want: []problem{{"", 7, `unknown key "port" (in HTTP)` + tail}}},
		{name: "log", site: minimalSite + "log:\n  lvl: debug\n",
			want: []problem{{"", 7, `unknown key "lvl" (in log)` + tail}}},
		{name: "profile top level", site: minimalSite, profiles: map[string]string{
			"mon": "kind: monitor\nmanufacturer: Acme\nvalues:\n  - {name: status, table: input, address: 0}\n"},
			want: []problem{{"mon.yaml", 2, `unknown key "manufacturer" (in profile)` + tail}}},
		{name: "profile value", site: minimalSite, profiles: map[string]string{
			"mon": "kind: monitor\nvalues:\n  - {name: status, table: input, adress: 0}\n"},
			want: []problem{
				{"mon.yaml", 3, `unknown key "adress" (in value)` + tail},
				{"mon.yaml", 3, "value status has no address"},
			}},
		{name: "profile state", site: minimalSite, profiles: map[string]string{
			"mon": "kind: monitor\nvalues:\n  - {name: status, table: input, address: 0}\nstate:\n  inuse: status > 0\n"},
			want: []problem{{"mon.yaml", 5, `unknown key "inuse" (in state)` + tail}}},
	})
}

// TestPoolForms covers Pool.UnmarshalYAML's errors.
func TestPoolYAMLProblems(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "a list", site: minimalSite + "pools:\n  - store\n  - [a, b]\n",
			want: []problem{{"", 8, "a pool is an id or a mapping {id, unit}"}}},
		{name: "id a list", site: minimalSite + "pools:\n  - id: [a]\n",
			want: []problem{{"", 7, "pool id must be a string"}}},
		{name: "unit a mapping", site: minimalSite + "pools:\n  - id: store\n    unit: {id: icu1}\n",
			want: []problem{{"", 8, "pool unit must be a string"}}},
		{name: "two mistakes", site: minimalSite + "pools:\n  - id: store\n    units: icu1\n    unit: [icu1]\n",
			want: []problem{
				{"", 8, `unknown key "units" (in pool); check its spelling and indentation`},
				{"", 9, "pool unit must be a string"},
			}},
	})
}

// TestDuplicateKeys: a key given twice is reported at its second line.
func TestDuplicateKeys(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "in a flow mapping", site: minimalSite + "log: {level: debug, level: info}\n",
			want: []problem{{"", 6, `mapping key "level" already defined at line 6`}}},
	})
}

// TestDuplicateKeyCascade: yaml.v3 drops the whole mapping a duplicate
// key is in, so a duplicate in the hospital block also reports its id,
// level and beds as missing, though the file gives them; a duplicate at
// the top level empties the whole site.
func TestDuplicateKeyCascade(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "hospital", site: "hospital:\n  id: h1\n  level: tertiary\n  total_beds: 100\n  level: secondary\n" + minimalRest,
			want: []problem{{"", 5, `mapping key "level" already defined at line 3`}}},
		{name: "top level", site: minimalSite + "hold: 5s\nhold: 10s\n",
			want: []problem{{"", 7, `mapping key "hold" already defined at line 6`}}},
	})
}

// TestFractionalIntegers covers checkIntegers: a number with a fraction
// where an integer is wanted is a problem at its line, in the site and in
// profiles, at any depth.
func TestFractionalIntegers(t *testing.T) {
	t.Parallel()
	const want = " here: want an integer"
	runSiteCases(t, []siteCase{
		{name: "top level", site: minimalSite + "target_year: 2025.5\n",
			want: []problem{{"", 6, "cannot use 2025.5" + want}}},
		{name: "integral float syntax", site: "hospital: {id: h1, level: tertiary, total_beds: 1e3}\n" + minimalRest,
			want: []problem{{"", 1, "cannot use 1e3" + want}}},
		{name: "in a device's modbus block", site: deviceBase + "  - id: m3\n    profile: mon\n    at: store\n    modbus:\n      address: \"10.0.0.2:502\"\n      unit_id: 2.5\n",
			want: []problem{{"", 12, "cannot use 2.5" + want}}},
		{name: "in an rtu block", site: deviceBase + "  - {id: m3, profile: mon, at: store, modbus: {rtu: {device: /dev/ttyS0, baud: 9600.5}}}\n",
			want: []problem{{"", 7, "cannot use 9600.5" + want}}},
		{name: "through an alias", site: minimalSite + "mqtt: {broker: \"tcp://a:1\", max_message_bytes: &n 2.5}\nhttp: {max_event_clients: *n}\n",
			want: []problem{{"", 6, "cannot use 2.5" + want}}},
		{name: "device failures", site: deviceBase + "  - id: m3\n    failures: 2.0\n    profile: mon\n    at: store\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 8, "cannot use 2.0" + want}}},
		{name: "profile address and max_gap", site: minimalSite, profiles: map[string]string{
			"mon": "kind: monitor\nmax_gap: 2.5\nvalues:\n  - {name: status, table: input, address: 1.5}\n"},
			want: []problem{
				{"mon.yaml", 2, "cannot use 2.5" + want},
				{"mon.yaml", 4, "cannot use 1.5" + want},
			}},
	})
	// A duration is decoded by yaml.v3, which reports a fraction itself:
	// checkIntegers leaves time.Duration alone, so the problem is not
	// reported twice.
	runSiteCases(t, []siteCase{
		{name: "duration is not an integer", site: minimalSite + "hold: 2.5\n",
			want: []problem{{"", 6, `cannot use float "2.5" here: want a duration such as 15s or 1m`}}},
	})
}

// TestIntegerEdges covers integers at and beyond what YAML and Go hold.
func TestIntegerEdges(t *testing.T) {
	t.Parallel()
	s := loadClean(t, "hospital: {id: h1, level: tertiary, total_beds: 0x7fffffff}\n"+minimalRest+"target_year: 0o3751\n")
	if s.Hospital.TotalBeds != 0x7fffffff || s.TargetYear != 2025 {
		t.Errorf("hex and octal integers: total_beds %d, target_year %d", s.Hospital.TotalBeds, s.TargetYear)
	}
	runSiteCases(t, []siteCase{
		{name: "int overflow", site: minimalSite + "http: {max_event_clients: 9223372036854775808}\n",
			want: []problem{{"", 6, `cannot use int "9223372..." here: want an integer`}}},
	})
}

// TestHugeIntegerReportedTwice: an integer too large for int64 is reported
// by checkIntegers and again by yaml.v3, in two wordings.
func TestHugeIntegerReportedTwice(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "target_year", site: minimalSite + "target_year: 99999999999999999999\n",
			want: []problem{{"", 6, "cannot use 99999999999999999999 here: want an integer"}}},
	})
}

// TestSimulateNotAMapping: rewordYAML's pattern stops at the first space
// of the Go type, so a type with one (map[string]interface {}) is shown to
// the user as Go.
func TestSimulateNotAMapping(t *testing.T) {
	t.Parallel()
	runProfileCases(t, []profileCase{
		{name: "simulate a list", profile: "kind: monitor\nvalues:\n  - {name: a, table: input, address: 0}\nsimulate: [a]\n",
			want: []problem{{"", 4, "cannot use a list here: want a mapping"}}},
	})
}

// TestRewordYAML covers every branch of rewordYAML, including messages it
// passes through unchanged.
func TestRewordYAML(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"field foo not found in type config.Site", `unknown key "foo" (in top level); check its spelling and indentation`},
		{"field foo not found in type config.Profile", `unknown key "foo" (in profile); check its spelling and indentation`},
		{"cannot unmarshal !!str `x` into time.Duration", `cannot use str "x" here: want a duration such as 15s or 1m`},
		{"cannot unmarshal !!map into []config.Unit", "cannot use a mapping here: want a list"},
		{"cannot unmarshal !!seq into map[string]int", "cannot use a list here: want a mapping"},
		{"cannot unmarshal !!seq into config.Log", "cannot use a list here: want a mapping"},
		{"cannot unmarshal !!str `x` into int", `cannot use str "x" here: want an integer`},
		{"cannot unmarshal !!str `x` into uint16", `cannot use str "x" here: want an integer`},
		{"cannot unmarshal !!str `x` into float64", `cannot use str "x" here: want a number`},
		{"cannot unmarshal !!seq into string", "cannot use a list here: want a string"},
		{"cannot unmarshal !!int `2` into bool", `cannot use int "2" here: want true or false`},
		{"cannot unmarshal !!binary into rules.Kind", "cannot use a binary here: want rules.Kind"},
		{"mapping key \"a\" already defined at line 1", "mapping key \"a\" already defined at line 1"},
	} {
		if got := rewordYAML(c.in); got != c.want {
			t.Errorf("rewordYAML(%q) =\n%q, want\n%q", c.in, got, c.want)
		}
	}
}

// TestNeutraliseLine covers the scalar replacement decodeStrict uses to
// get past a scalar that aborts decoding: values on the line become 0 and
// every other line is kept.
func TestNeutraliseLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		line     int
		want     string
		ok       bool
	}{
		{"plain", "a: 1\nb: 12XB\nc: 3\n", 2, "a: 1\nb: 0\nc: 3\n", true},
		{"two on a line", "a: {x: big, y: 'q'}\n", 1, "a: {x: 0, y: 0}\n", true},
		{"double quoted with escapes", "a: \"x\\\"y\" # c\n", 1, "a: 0 # c\n", true},
		{"single quoted with a doubled quote", "a: 'it''s'\n", 1, "a: 0\n", true},
		{"after wide characters", "ü: {é: big}\n", 1, "ü: {é: 0}\n", true},
		{"no scalar on the line", "a:\n  - 1\n", 2, "", false},
		{"multi-line scalar", "a: \"x\n  y\"\n", 1, "", false},
	} {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(c.in), &root); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, ok := neutraliseLine([]byte(c.in), &root, c.line)
		if ok != c.ok || string(got) != c.want {
			t.Errorf("%s: neutraliseLine = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
