package rules

import (
	"math"
	"strings"
	"testing"
)

var inputs = []Input{
	{Name: "status", Kind: Int},
	{Name: "alarm", Kind: Bool},
	{Name: "pressure", Kind: Float},
	{Name: "serial", Kind: String},
}

func mustCompile(t *testing.T, src Source) *Set {
	t.Helper()
	s, err := Compile("vent", inputs, src)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

func TestDeriveKinds(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, Source{
		Fault:       "alarm",
		Maintenance: `serial == "SVC"`,
		InUse:       "bitand(status, 4) != 0 && pressure > 2.5",
	})
	for _, tc := range []struct {
		name   string
		values []Sample
		want   Condition
	}{
		{"all quiet", []Sample{{}, {}, {}, {}}, Condition{}},
		{"alarm bit true when non-zero", []Sample{{}, {Num: 1}, {}, {}}, Condition{Fault: true}},
		{"string compared as string", []Sample{{}, {}, {}, {Str: "SVC"}}, Condition{Maintenance: true}},
		{"bit and float both needed", []Sample{{Num: 4}, {}, {Num: 3}, {}}, Condition{InUse: true}},
		{"bit set, float too low", []Sample{{Num: 4}, {}, {Num: 2.5}, {}}, Condition{}},
		{"other bit", []Sample{{Num: 3}, {}, {Num: 3}, {}}, Condition{}},
		{"int input truncates", []Sample{{Num: 4.9}, {}, {Num: 3}, {}}, Condition{InUse: true}},
		{"everything", []Sample{{Num: 4}, {Num: 1}, {Num: 9}, {Str: "SVC"}}, Condition{Fault: true, Maintenance: true, InUse: true}},
	} {
		got, err := s.Derive(tc.values)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDeriveRefusesBadValues(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, Source{Fault: "alarm"})
	for _, tc := range []struct {
		name   string
		values []Sample
		want   string
	}{
		{"too few", []Sample{{}}, "profile vent: got 1 values, want 4"},
		{"too many", make([]Sample, 5), "got 5 values, want 4"},
		{"NaN number", []Sample{{}, {}, {Num: math.NaN()}, {}}, "value pressure is NaN"},
	} {
		_, err := s.Derive(tc.values)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// A NaN in a string input's unused Num is not a number and is fine.
	if _, err := s.Derive([]Sample{{}, {}, {}, {Num: math.NaN(), Str: "x"}}); err != nil {
		t.Errorf("NaN beside a string: %v", err)
	}
}

func TestCompileNamesTheBrokenRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src  Source
		want string
	}{
		{Source{Fault: "nosuch > 1"}, "state.fault:"},
		{Source{Maintenance: "status +"}, "state.maintenance:"},
		{Source{InUse: "pressure"}, "state.in_use:"}, // a float, not a bool
		{Source{InUse: "status & 2"}, "state.in_use:"},
	} {
		_, err := Compile("vent", inputs, tc.src)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want prefix %q", tc.src, err, tc.want)
		}
	}
}

func TestEmptyRulesAreNeverTrue(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, Source{})
	if f, m, u := s.HasRule(); f || m || u {
		t.Fatalf("HasRule = %v %v %v, want none", f, m, u)
	}
	c, err := s.Derive([]Sample{{Num: 4}, {Num: 1}, {Num: 9}, {Str: "SVC"}})
	if err != nil || c != (Condition{}) {
		t.Fatalf("Derive = %+v, %v; want nothing true", c, err)
	}
	if s.Inputs() != len(inputs) {
		t.Fatalf("Inputs = %d", s.Inputs())
	}
}

// TestDeriveInReusesEnvWithoutStaleValues checks that a kept environment
// gives the same answers as a fresh one, call after call.
func TestDeriveInReusesEnvWithoutStaleValues(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, Source{Fault: "alarm", InUse: "status > 0"})
	env := s.Env([]Sample{{Num: 7}, {Num: 1}, {}, {}})
	if env["status"] != 7 || env["alarm"] != true {
		t.Fatalf("Env = %v", env)
	}
	seq := [][]Sample{
		{{Num: 1}, {Num: 1}, {}, {}},
		{{}, {}, {}, {}},
		{{Num: 2}, {}, {}, {}},
	}
	for i, v := range seq {
		kept, err := s.DeriveIn(env, v)
		if err != nil {
			t.Fatal(err)
		}
		fresh, _ := s.Derive(v)
		if kept != fresh {
			t.Fatalf("call %d: kept env gives %+v, fresh %+v", i, kept, fresh)
		}
	}
}

func TestConditionStatePrecedence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    Condition
		want string
	}{
		{Condition{}, "standby"},
		{Condition{InUse: true}, "in_use"},
		{Condition{Maintenance: true, InUse: true}, "maintenance"},
		{Condition{Fault: true, Maintenance: true, InUse: true}, "fault"},
	} {
		if got := tc.c.State(); got != tc.want {
			t.Errorf("%+v.State() = %s, want %s", tc.c, got, tc.want)
		}
	}
}

// TestRuntimeErrorNamesRule: a rule that fails at run time (division by an
// int zero panics inside expr and comes back as an error) names its rule.
func TestRuntimeErrorNamesRule(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, Source{Maintenance: "10 % status == 0"})
	_, err := s.Derive([]Sample{{Num: 0}, {}, {}, {}})
	if err == nil || !strings.Contains(err.Error(), "maintenance rule") {
		t.Fatalf("err = %v, want a maintenance rule error", err)
	}
}

// TestExplain: a state's cause names the values its rule read, in order of
// first appearance, with where each comes from; unread values are left out.
func TestExplain(t *testing.T) {
	t.Parallel()
	inputs := []Input{
		{Name: "status", Kind: Int, Where: "holding 3"},
		{Name: "tech_fault", Kind: Bool, Where: "discrete 9"},
		{Name: "mode", Kind: String, Where: "$.mode"},
		{Name: "flow", Kind: Float},
	}
	s, err := Compile("p", inputs, Source{
		Fault:       "tech_fault || bitand(status, 4) != 0 || tech_fault",
		Maintenance: `mode == "service"`,
	})
	if err != nil {
		t.Fatal(err)
	}
	vals := []Sample{{Num: 36}, {Num: 1}, {Str: "service"}, {Num: 2.5}}
	for _, c := range []struct {
		r    Rule
		want string
	}{
		{FaultRule, "tech_fault = true (discrete 9), status = 36 (holding 3)"},
		{MaintenanceRule, `mode = "service" ($.mode)`},
		{InUseRule, ""},
	} {
		if got := s.Explain(c.r, vals); got != c.want {
			t.Errorf("Explain(%d) = %q, want %q", c.r, got, c.want)
		}
	}
	if got := s.Explain(FaultRule, vals[:2]); got != "" {
		t.Errorf("Explain with too few values = %q, want empty", got)
	}
}
