package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/icugate/icugate/pipeline"
)

// compileSchema loads docs/report-schema.json, the published contract.
func compileSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	path, err := filepath.Abs(filepath.Join("..", "docs", "report-schema.json"))
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(path)
	if err != nil {
		tb.Fatalf("compile %s: %v", path, err)
	}
	return sch
}

func validate(tb testing.TB, sch *jsonschema.Schema, doc []byte) {
	tb.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		tb.Fatalf("unmarshal: %v", err)
	}
	if err := sch.Validate(v); err != nil {
		tb.Fatalf("report does not validate against docs/report-schema.json: %v\n%s", err, doc)
	}
}

func TestBuildCountsFollowSnapshot(t *testing.T) {
	site := testSite(t, true)
	e := engineAt(t, site, 2*time.Second, map[string]pipeline.DeviceState{
		"vent-g1": pipeline.InUse, "mon-g2": pipeline.Fault, "vent-c1": pipeline.Offline,
	})
	snap := e.Snapshot()
	r, err := Build(&snap, site, 7)
	if err != nil {
		t.Fatal(err)
	}
	if r.Schema != Schema || r.Sequence != 7 || r.GatewayID != "gw-H001" || r.Hospital.Region != "R01" {
		t.Fatalf("header = %+v", r)
	}
	if !r.AsOf.Equal(t0.Add(2*time.Second)) || r.IntervalSeconds != 60 {
		t.Fatalf("as_of %v interval %v", r.AsOf, r.IntervalSeconds)
	}
	// g1 occupied, g2 degraded (fault), g3 g4 available; c1 degraded
	// (ventilator never seen), c2 available.
	want := map[string][5]int{ // total, equipped, occupied, available, degraded
		"gicu": {4, 3, 1, 2, 1},
		"ccu":  {2, 1, 0, 1, 1},
		"conv": {3, 0, 0, 0, 3},
	}
	for _, u := range r.Units {
		w := want[u.Unit]
		got := [5]int{u.BedsTotal, u.BedsEquipped, u.BedsOccupied, u.BedsAvailable, u.BedsDegraded}
		if got != w {
			t.Errorf("unit %s counts = %v, want %v", u.Unit, got, w)
		}
	}
	if r.Units[1].Subtype != "CCU" {
		t.Errorf("ccu subtype = %q", r.Units[1].Subtype)
	}
	// The store holds 2 monitors and 2 ventilators: two convertible beds ready.
	if r.Totals.ConvertibleReady != 2 || r.Totals.BedsTotal != 9 || r.Totals.BedsEquipped != 4 {
		t.Errorf("totals = %+v", r.Totals)
	}
	if v := r.Totals.Devices["ventilator"]; v.Total != 8 || v.InUse != 1 || v.Offline != 1 || v.Standby != 6 {
		t.Errorf("ventilators = %+v", v)
	}
	if r.Verified || len(r.Evidence.Missing) != 1 || r.Evidence.Missing[0] != "vent-c1" {
		t.Errorf("verified %v evidence %+v", r.Verified, r.Evidence)
	}
	if !r.StaffingDeclared || r.Policy.Staffing == nil || !r.Policy.Staffing.Declared {
		t.Errorf("staffing not marked declared: %+v", r.Policy.Staffing)
	}
	// 4 general beds of 200 = 2% < 4%: not met.
	if r.Policy.General.ConfiguredMet || r.Policy.General.ConfiguredBeds != 4 {
		t.Errorf("general share = %+v", r.Policy.General)
	}
	if err := r.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestBuildRefusesBadSequence(t *testing.T) {
	site := testSite(t, false)
	snap := engineAt(t, site, time.Second, nil).Snapshot()
	for _, seq := range []uint64{0, MaxSequence + 1} {
		if _, err := Build(&snap, site, seq); err == nil {
			t.Errorf("sequence %d accepted", seq)
		}
	}
}

func TestReportsValidateAgainstSchema(t *testing.T) {
	sch := compileSchema(t)
	cases := []struct {
		name     string
		staffing bool
		states   map[string]pipeline.DeviceState
		at       time.Duration
	}{
		{"all standby", false, nil, time.Second},
		{"mixed with staffing", true, map[string]pipeline.DeviceState{"vent-g1": pipeline.InUse, "mon-c2": pipeline.Maintenance, "mon-s1": pipeline.Offline}, time.Second},
		{"nothing seen", false, map[string]pipeline.DeviceState{"mon-g1": pipeline.Offline}, 0},
		{"stale after a minute", true, nil, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			site := testSite(t, tc.staffing)
			e := engineAt(t, site, time.Second, tc.states)
			e.Advance(t0.Add(tc.at + time.Second))
			snap := e.Snapshot()
			r, err := Build(&snap, site, 42)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			validate(t, sch, doc)
			// The signed envelope's report member validates too.
			env, err := Sign(r, newKey(t))
			if err != nil {
				t.Fatal(err)
			}
			var e2 Envelope
			if err := json.Unmarshal(env, &e2); err != nil {
				t.Fatal(err)
			}
			validate(t, sch, e2.Report)
		})
	}
}

func TestSchemaRejectsBrokenReports(t *testing.T) {
	sch := compileSchema(t)
	site := testSite(t, false)
	snap := engineAt(t, site, time.Second, nil).Snapshot()
	r, err := Build(&snap, site, 1)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(r)
	for name, mutate := range map[string]func(m map[string]any){
		"wrong schema":    func(m map[string]any) { m["schema"] = "icugate.capacity/v0" },
		"unknown field":   func(m map[string]any) { m["extra"] = 1 },
		"negative count":  func(m map[string]any) { m["totals"].(map[string]any)["beds_total"] = -1 },
		"missing as_of":   func(m map[string]any) { delete(m, "as_of") },
		"bad time":        func(m map[string]any) { m["as_of"] = "yesterday" },
		"string sequence": func(m map[string]any) { m["sequence"] = "1" },
	} {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		doc, _ := json.Marshal(m)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if sch.Validate(v) == nil {
			t.Errorf("%s: schema accepted it", name)
		}
	}
}
