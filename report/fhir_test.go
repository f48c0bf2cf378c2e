package report

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/icugate/icugate/pipeline"
)

func TestFHIRMeasureReport(t *testing.T) {
	site := testSite(t, false)
	snap := engineAt(t, site, time.Second, map[string]pipeline.DeviceState{"vent-g1": pipeline.InUse, "mon-c1": pipeline.Fault}).Snapshot()
	doc, err := FHIR(&snap, site)
	if err != nil {
		t.Fatal(err)
	}
	var rt struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(doc, &rt); err != nil || rt.ResourceType != "MeasureReport" {
		t.Fatalf("resourceType = %q, %v", rt.ResourceType, err)
	}
	mr, err := fhir.UnmarshalMeasureReport(doc)
	if err != nil {
		t.Fatalf("not a FHIR MeasureReport: %v\n%s", err, doc)
	}
	// Required in R4: status, type, measure, period.
	if mr.Status != fhir.MeasureReportStatusComplete || mr.Type != fhir.MeasureReportTypeSummary || mr.Measure == "" {
		t.Fatalf("status/type/measure = %v %v %q", mr.Status, mr.Type, mr.Measure)
	}
	want := snap.AsOf.UTC().Format(time.RFC3339)
	if mr.Period.Start == nil || *mr.Period.Start != want || mr.Period.End == nil || *mr.Period.End != want {
		t.Fatalf("period = %+v, want %s", mr.Period, want)
	}
	if mr.Reporter == nil || mr.Reporter.Identifier == nil || *mr.Reporter.Identifier.Value != "H001" {
		t.Fatalf("reporter = %+v", mr.Reporter)
	}
	counts := func(g fhir.MeasureReportGroup) map[string]int {
		m := map[string]int{}
		for _, p := range g.Population {
			if p.Code == nil || len(p.Code.Coding) == 0 || p.Count == nil {
				t.Fatalf("population without code or count: %+v", p)
			}
			m[*p.Code.Coding[0].Code] = *p.Count
		}
		return m
	}
	if len(mr.Group) != 2 {
		t.Fatalf("groups = %d", len(mr.Group))
	}
	h := snap.Capacity.Hospital
	beds, vents := counts(mr.Group[0]), counts(mr.Group[1])
	if beds["numBeds"] != h.BedsTotal || beds["numBedsOcc"] != h.BedsOccupied || beds["numBedsAvail"] != h.BedsAvailable {
		t.Errorf("bed populations %v vs %+v", beds, h)
	}
	v := h.Kinds["ventilator"]
	if vents["numVent"] != v.Total || vents["numVentUse"] != v.InUse || vents["numVentAvail"] != v.Standby || v.InUse != 1 {
		t.Errorf("ventilator populations %v vs %+v", vents, v)
	}
	// Stratified per unit, then per class; strata sum to the hospital.
	for gi, g := range mr.Group {
		if len(g.Stratifier) != 2 || len(g.Stratifier[0].Stratum) != len(site.Units) || len(g.Stratifier[1].Stratum) != 3 {
			t.Fatalf("group %d stratifiers = %+v", gi, g.Stratifier)
		}
		total := counts(g)
		for _, st := range g.Stratifier {
			sum := map[string]int{}
			for _, s := range st.Stratum {
				if s.Value == nil || s.Value.Text == nil {
					t.Fatalf("stratum without value")
				}
				for _, p := range s.Population {
					sum[*p.Code.Coding[0].Code] += *p.Count
				}
			}
			for code, n := range sum {
				// Ventilators in the hospital's store belong to no unit.
				if code != "numVent" && code != "numVentAvail" && n != total[code] {
					t.Errorf("%s: strata sum %d, hospital %d", code, n, total[code])
				}
			}
		}
	}
}
