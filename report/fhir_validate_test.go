package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	rpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// validateFHIR parses doc with Google's FHIR R4 implementation
// (github.com/google/fhir/go) with validation: cardinalities and required
// elements, reference target types, primitive formats and the codes of
// bound code elements. It returns the parsed resource.
func validateFHIR(tb testing.TB, doc []byte) *rpb.ContainedResource {
	tb.Helper()
	res, err := validatorFor(tb).UnmarshalR4(doc)
	if err != nil {
		tb.Fatalf("not valid FHIR R4: %v\n%s", err, doc)
	}
	return res
}

func validatorFor(tb testing.TB) *jsonformat.Unmarshaller {
	tb.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// fhirSite is testSite with an ECMO device in the store, so every device
// group has something to count.
func fhirSite(tb testing.TB, id, name string) *config.Site {
	tb.Helper()
	s := testSite(tb, false)
	s.Hospital.ID, s.Hospital.Name = id, name
	s.Report.GatewayID = "gw-" + id
	s.Profiles["test-ecmo"] = testProfile(tb, "ecmo")
	s.Devices = append(s.Devices, config.Device{
		ID: "ecmo-s1", Kind: "ecmo", Profile: "test-ecmo", At: "store",
		Modbus: &config.ModbusDevice{Address: "127.0.0.1:502", UnitID: 1, Interval: time.Second},
	})
	return s
}

// fhirStates: g1 occupied, g2 degraded (faulty monitor), c1 degraded
// (ventilator in maintenance), mon-c2 never seen (missing, so c2 degraded
// and the counts unverified), ECMO in use.
var fhirStates = map[string]pipeline.DeviceState{
	"vent-g1": pipeline.InUse, "mon-g2": pipeline.Fault, "vent-c1": pipeline.Maintenance,
	"mon-c2": pipeline.Offline, "ecmo-s1": pipeline.InUse,
}

// fhirReport builds the report of a fhirSite at t0+d.
func fhirReport(tb testing.TB, id, name string, d time.Duration) *Report {
	tb.Helper()
	site := fhirSite(tb, id, name)
	snap := engineAt(tb, site, d, fhirStates).Snapshot()
	r, err := Build(&snap, site, 1)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// mustFHIR returns a function that fails the test on err:
// mustFHIR(t)(FHIR(...)).
func mustFHIR(tb testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
}

// Loosely typed views of the JSON for the SANER checks below.
type (
	jCoding  struct{ System, Code, Display string }
	jConcept struct {
		Coding []jCoding
		Text   string
	}
	jPop struct {
		Code  jConcept
		Count *int
	}
	jReport struct {
		ResourceType string
		ID           string
		Contained    []struct {
			ResourceType string
			ID           string
			Identifier   []struct{ System, Value string }
		}
		Status, Type, Measure, Date string
		Subject, Reporter           struct {
			Reference, Type string
			Identifier      *struct{ System, Value string }
		}
		Period struct{ Start, End string }
		Group  []struct {
			Code         jConcept
			Population   []jPop
			MeasureScore *struct{ Value float64 }
			Stratifier   []struct {
				Code    []jConcept
				Stratum []struct {
					Value      *jConcept
					Component  []struct{ Code, Value jConcept }
					Population []jPop
				}
			}
		}
	}
)

func decodeReport(tb testing.TB, doc []byte) jReport {
	tb.Helper()
	var r jReport
	if err := json.Unmarshal(doc, &r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// code finds the coding of system in c.
func (c jConcept) code(system string) string {
	for _, x := range c.Coding {
		if x.System == system {
			return x.Code
		}
	}
	return ""
}

// measured is a population's measured-value code, SANER's or ours.
func (c jConcept) measured() string {
	return c.code(SANERMeasuredValue) + c.code(ICUGateCodes)
}

// checkSANER checks a MeasureReport against the constraints of SANER's
// PublicHealthMeasureReport that a FHIR R4 parser does not know.
func checkSANER(tb testing.TB, doc []byte, wantSubject, wantID string) jReport {
	tb.Helper()
	r := decodeReport(tb, doc)
	fail := func(format string, a ...any) { tb.Helper(); tb.Fatalf("SANER: "+format+"\n%s", append(a, doc)...) }
	if r.ResourceType != "MeasureReport" || r.Status != "complete" || r.Type != "summary" || r.Measure != FHIRMeasure {
		fail("resourceType/status/type/measure = %s %s %s %s", r.ResourceType, r.Status, r.Type, r.Measure)
	}
	// Subject: a Location with an identifier (here contained, by fragment).
	s := r.Subject
	if s.Type != "Location" || s.Identifier == nil || s.Identifier.System != wantSubject || s.Identifier.Value != wantID {
		fail("subject = %+v", s)
	}
	if !strings.HasPrefix(s.Reference, "#") {
		fail("subject.reference %q is not a contained resource", s.Reference)
	}
	found := false
	for _, c := range r.Contained {
		if "#"+c.ID == s.Reference {
			found = c.ResourceType == "Location" && len(c.Identifier) == 1 &&
				c.Identifier[0].System == wantSubject && c.Identifier[0].Value == wantID
		}
	}
	if !found {
		fail("subject.reference %q names no contained Location with identifier %s|%s", s.Reference, wantSubject, wantID)
	}
	if r.Reporter.Type != "Organization" || r.Reporter.Identifier == nil || r.Reporter.Identifier.Value == "" {
		fail("reporter = %+v", r.Reporter)
	}
	// date and period: precise to the second, with an offset; start < end.
	for _, v := range []string{r.Date, r.Period.Start, r.Period.End} {
		if _, err := time.Parse("2006-01-02T15:04:05-07:00", v); err != nil || !strings.HasSuffix(v, "+00:00") {
			fail("dateTime %q is not precise to the second with a time zone", v)
		}
	}
	start, _ := time.Parse(time.RFC3339, r.Period.Start)
	end, _ := time.Parse(time.RFC3339, r.Period.End)
	if !start.Before(end) {
		fail("period %s .. %s is not an interval", r.Period.Start, r.Period.End)
	}
	if len(r.Group) < 2 {
		fail("groups = %d", len(r.Group))
	}
	for _, g := range r.Group {
		if g.Code.code(SANERMeasureGroup)+g.Code.code(ICUGateCodes) == "" {
			fail("group without a code: %+v", g.Code)
		}
		for _, p := range g.Population {
			checkPopulation(tb, p, doc)
		}
		for _, st := range g.Stratifier {
			if len(st.Code) == 0 || st.Code[0].code(ICUGateStratifiers) == "" || len(st.Stratum) == 0 {
				fail("stratifier without code or strata: %+v", st)
			}
			for _, x := range st.Stratum {
				if x.Value != nil {
					fail("stratum.value is set (SANER names strata by component)")
				}
				if len(x.Component) != 1 || x.Component[0].Code.code(ICUGateStratifiers) != st.Code[0].code(ICUGateStratifiers) ||
					len(x.Component[0].Value.Coding) != 1 || x.Component[0].Value.Coding[0].Code == "" {
					fail("stratum component = %+v", x.Component)
				}
				if len(x.Population) != len(g.Population) {
					fail("stratum has %d populations, group %d", len(x.Population), len(g.Population))
				}
				for _, p := range x.Population {
					checkPopulation(tb, p, doc)
				}
			}
		}
	}
	// The SANER-coded counts of ICU beds and ventilators.
	want := map[string]string{
		"numICUBeds": "Beds", "numICUBedsOcc": "Beds", "numICUBedsAvail": "Beds",
		"numVent": "Ventilators", "numVentUse": "Ventilators", "numVentAvail": "Ventilators",
	}
	for _, g := range r.Group {
		for _, p := range g.Population {
			if grp, ok := want[p.Code.code(SANERMeasuredValue)]; ok && grp == g.Code.code(SANERMeasureGroup) {
				delete(want, p.Code.code(SANERMeasuredValue))
			}
		}
	}
	if len(want) != 0 {
		fail("SANER MeasuredValues codes missing from their groups: %v", want)
	}
	return r
}

// checkPopulation: a count, a measured-value code and a role coding.
func checkPopulation(tb testing.TB, p jPop, doc []byte) {
	tb.Helper()
	if p.Count == nil || *p.Count < 0 {
		tb.Fatalf("SANER: population %+v without a count\n%s", p.Code, doc)
	}
	if p.Code.measured() == "" {
		tb.Fatalf("SANER: population without a measured-value code: %+v\n%s", p.Code, doc)
	}
	roles := map[string]bool{"initial-population": true, "denominator": true, "denominator-exclusion": true, "numerator": true}
	if !roles[p.Code.code(MeasurePopulationRole)] && p.Code.code(SANERPopulationRole) != "numerator-complement" {
		tb.Fatalf("SANER: population %s without a role coding: %+v\n%s", p.Code.measured(), p.Code, doc)
	}
}

// counts maps a group's measured-value codes to their counts.
func counts(pops []jPop) map[string]int {
	m := map[string]int{}
	for _, p := range pops {
		m[p.Code.measured()] = *p.Count
	}
	return m
}

func fmtCounts(m map[string]int) string { return fmt.Sprint(m) }
