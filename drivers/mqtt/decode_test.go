package mqtt

import (
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

func ptr[T any](v T) *T { return &v }

// testProfile covers every value type the decoder knows.
func testProfile(t testing.TB) *config.Profile {
	t.Helper()
	p := &config.Profile{
		Name:     "test-mqtt",
		Kind:     "ventilator",
		Topic:    "devices/{id}/status",
		TimePath: "ts",
		Values: []config.Value{
			{Name: "serial_number", Path: "serial", Type: config.TypeString},
			{Name: "running", Path: "status.running", Type: config.TypeBool},
			{Name: "fault_code", Path: "status.fault_code", Type: config.TypeUint16, Range: []float64{0, 9999}},
			{Name: "temp", Path: "sensors.0.temp", Type: config.TypeFloat64, Scale: ptr(0.1), Offset: -10, Range: []float64{-50, 100}},
			{Name: "service", Path: "flags", Type: config.TypeUint16, Bit: ptr(2)},
			{Name: "hr", Path: "vitals.hr", Type: config.TypeFloat64, Clinical: true},
		},
		Serial: "serial_number",
		State:  config.StateRules{Fault: "fault_code != 0", Maintenance: "service", InUse: "running"},
	}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodPayload = `{"ts":"2026-11-25T10:00:00Z","serial":"V-1","status":{"running":true,"fault_code":0},"sensors":[{"temp":300}],"flags":4}`

func TestDecodeGood(t *testing.T) {
	d := newDecoder(testProfile(t), false)
	got, b := d.decode([]byte(goodPayload))
	if b != nil {
		t.Fatalf("decode: %v", b)
	}
	want := []rules.Sample{{Str: "V-1"}, {Num: 1}, {Num: 0}, {Num: 20}, {Num: 1}, {}}
	for i := range want {
		if got.values[i] != want[i] {
			t.Errorf("value %s = %+v, want %+v", d.profile.Values[i].Name, got.values[i], want[i])
		}
	}
	if got.serial != "V-1" {
		t.Errorf("serial = %q", got.serial)
	}
	if !got.hasTime || !got.time.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("time = %v %v", got.time, got.hasTime)
	}
	cond, err := d.profile.Rules.Derive(got.values)
	if err != nil || !cond.InUse || !cond.Maintenance || cond.Fault {
		t.Errorf("derive = %+v, %v", cond, err)
	}
}

func TestDecodeClinicalOnlyWhenEnabled(t *testing.T) {
	payload := strings.Replace(goodPayload, `"flags":4`, `"flags":4,"vitals":{"hr":72}`, 1)
	off := newDecoder(testProfile(t), false)
	got, b := off.decode([]byte(payload))
	if b != nil || got.values[5].Num != 0 {
		t.Fatalf("clinical off: hr = %v, %v; want not collected", got.values[5], b)
	}
	on := newDecoder(testProfile(t), true)
	got, b = on.decode([]byte(payload))
	if b != nil || got.values[5].Num != 72 {
		t.Fatalf("clinical on: hr = %v, %v; want 72", got.values[5], b)
	}
	// Enabled clinical values are required like any other.
	if _, b := on.decode([]byte(goodPayload)); b == nil || b.reason != ReasonMissingValue {
		t.Fatalf("clinical on, hr absent: %v, want %s", b, ReasonMissingValue)
	}
}

func TestDecodeTimeForms(t *testing.T) {
	want := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, ts := range []string{`"2026-11-25T10:00:00Z"`, `"2026-11-25T11:00:00+01:00"`, `1795600800`, `1795600800000`} {
		payload := strings.Replace(goodPayload, `"2026-11-25T10:00:00Z"`, ts, 1)
		got, b := newDecoder(testProfile(t), false).decode([]byte(payload))
		if b != nil || !got.time.Equal(want) {
			t.Errorf("ts %s: time %v, %v; want %v", ts, got.time, b, want)
		}
	}
	noTS := strings.Replace(goodPayload, `"ts":"2026-11-25T10:00:00Z",`, ``, 1)
	got, b := newDecoder(testProfile(t), false).decode([]byte(noTS))
	if b != nil || got.hasTime {
		t.Errorf("no ts: hasTime %v, %v; want receipt time used", got.hasTime, b)
	}
}

func TestDecodeRefusals(t *testing.T) {
	deep := strings.Repeat(`{"a":`, maxDepth+1) + `1` + strings.Repeat(`}`, maxDepth+1)
	cases := []struct {
		name, payload, reason string
	}{
		{"invalid utf8", "{\"serial\":\"\xff\xfe\"}", ReasonInvalidUTF8},
		{"too deep", deep, ReasonTooDeep},
		{"too deep in array", strings.Repeat("[", 100), ReasonTooDeep},
		{"not json", `{"serial":`, ReasonNotJSON},
		{"plain text", `online`, ReasonNotJSON},
		{"not object", `[1,2,3]`, ReasonNotObject},
		{"missing value", strings.Replace(goodPayload, `"fault_code":0`, `"code":0`, 1), ReasonMissingValue},
		{"path through scalar", strings.Replace(goodPayload, `"sensors":[{"temp":300}]`, `"sensors":7`, 1), ReasonMissingValue},
		{"index out of range", strings.Replace(goodPayload, `"sensors":[{"temp":300}]`, `"sensors":[]`, 1), ReasonMissingValue},
		{"string for bool", strings.Replace(goodPayload, `"running":true`, `"running":"yes"`, 1), ReasonWrongType},
		{"2 for bool", strings.Replace(goodPayload, `"running":true`, `"running":2`, 1), ReasonWrongType},
		{"number for string", strings.Replace(goodPayload, `"serial":"V-1"`, `"serial":12`, 1), ReasonWrongType},
		{"long string", strings.Replace(goodPayload, `"V-1"`, `"`+strings.Repeat("x", 300)+`"`, 1), ReasonWrongType},
		{"fraction for uint16", strings.Replace(goodPayload, `"fault_code":0`, `"fault_code":1.5`, 1), ReasonWrongType},
		{"negative uint16", strings.Replace(goodPayload, `"fault_code":0`, `"fault_code":-1`, 1), ReasonWrongType},
		{"overflow uint16", strings.Replace(goodPayload, `"fault_code":0`, `"fault_code":70000`, 1), ReasonWrongType},
		{"null number", strings.Replace(goodPayload, `"fault_code":0`, `"fault_code":null`, 1), ReasonWrongType},
		{"NaN string", strings.Replace(goodPayload, `"temp":300`, `"temp":"NaN"`, 1), ReasonNaN},
		{"Infinity string", strings.Replace(goodPayload, `"temp":300`, `"temp":"-Infinity"`, 1), ReasonNaN},
		{"NaN literal", strings.Replace(goodPayload, `"temp":300`, `"temp":NaN`, 1), ReasonNotJSON},
		{"huge number", strings.Replace(goodPayload, `"temp":300`, `"temp":1e999`, 1), ReasonNotJSON},
		{"out of range", strings.Replace(goodPayload, `"fault_code":0`, `"fault_code":10000`, 1), ReasonOutOfRange},
		{"scaled out of range", strings.Replace(goodPayload, `"temp":300`, `"temp":3000`, 1), ReasonOutOfRange},
		{"bad time", strings.Replace(goodPayload, `"2026-11-25T10:00:00Z"`, `"yesterday"`, 1), ReasonBadTime},
		{"bool time", strings.Replace(goodPayload, `"2026-11-25T10:00:00Z"`, `true`, 1), ReasonBadTime},
		{"negative unix time", strings.Replace(goodPayload, `"2026-11-25T10:00:00Z"`, `-5`, 1), ReasonBadTime},
	}
	d := newDecoder(testProfile(t), false)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, b := d.decode([]byte(c.payload))
			if b == nil {
				t.Fatalf("decoded %q; want refusal %s", c.payload, c.reason)
			}
			if b.reason != c.reason {
				t.Fatalf("reason %s (%v), want %s", b.reason, b.err, c.reason)
			}
		})
	}
}

func TestDepthIgnoresBracketsInStrings(t *testing.T) {
	payload := strings.Replace(goodPayload, `"V-1"`, `"`+strings.Repeat(`[{`, 100)+`\""`, 1)
	got, b := newDecoder(testProfile(t), false).decode([]byte(payload))
	if b != nil || got.serial != strings.Repeat(`[{`, 100)+`"` {
		t.Fatalf("serial %q, %v; brackets inside a string are not nesting", got.serial, b)
	}
	at := strings.Repeat(`[`, maxDepth) + strings.Repeat(`]`, maxDepth)
	if _, b := newDecoder(testProfile(t), false).decode([]byte(`{"x":` + at + `}`)); b == nil || b.reason != ReasonTooDeep {
		t.Fatalf("%d levels: %v, want %s", maxDepth+1, b, ReasonTooDeep)
	}
}
