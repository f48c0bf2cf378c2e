package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFHIRResourcesValidateR4 parses every kind of resource this package
// produces with Google's FHIR R4 implementation, with validation.
func TestFHIRResourcesValidateR4(t *testing.T) {
	h1 := fhirReport(t, "H001", "First Hospital", time.Second)
	h2 := fhirReport(t, "H_002", "Second & Co", 2*time.Second)
	site := fhirSite(t, "H001", "First Hospital")
	snap := engineAt(t, site, time.Second, fhirStates).Snapshot()

	gateway := mustFHIR(t)(FHIR(&snap, site))
	hospital := mustFHIR(t)(HospitalMeasureReport(h2))
	measure := mustFHIR(t)(MeasureDefinition())
	district := mustFHIR(t)(AggregateMeasureReport(Aggregate{
		Subject: Party{DistrictIDSystem, "D1", "North"}, Reporter: Party{RegionIDSystem, "R01", "Region One Health Authority"},
		AsOf: t0.Add(time.Minute), Reports: []*Report{h2, h1}, Registered: 3,
	}))
	region := mustFHIR(t)(AggregateMeasureReport(Aggregate{
		Subject: Party{RegionIDSystem, "R01", "Region One"}, Reporter: Party{RegionIDSystem, "R01", "Region One Health Authority"},
		AsOf: t0.Add(time.Minute), Reports: []*Report{h1, h2}, Registered: 2,
		Districts: map[string]Party{"H001": {ID: "D1", Name: "North"}, "H_002": {ID: "D2", Name: "South"}},
	}))
	collection := mustFHIR(t)(Bundle(BundleCollection, t0.Add(time.Minute), region, district, measure))
	search := mustFHIR(t)(Bundle(BundleSearchSet, t0.Add(time.Minute), district))

	for _, c := range []struct {
		name, resourceType string
		doc                []byte
	}{
		{"gateway MeasureReport", "MeasureReport", gateway},
		{"hospital MeasureReport (id needing a hash)", "MeasureReport", hospital},
		{"Measure", "Measure", measure},
		{"district MeasureReport", "MeasureReport", district},
		{"region MeasureReport", "MeasureReport", region},
		{"collection Bundle", "Bundle", collection},
		{"searchset Bundle", "Bundle", search},
		{"OperationOutcome", "OperationOutcome", OperationOutcome(IssueInvalid, "_pretty: \"yes\": want true or false")},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := validateFHIR(t, c.doc)
			var got string
			switch {
			case res.GetMeasureReport() != nil:
				got = "MeasureReport"
				if n := len(res.GetMeasureReport().GetContained()); n != 1 {
					t.Errorf("contained resources = %d", n)
				}
			case res.GetMeasure() != nil:
				got = "Measure"
			case res.GetBundle() != nil:
				got = "Bundle"
				// Each entry is itself a valid resource.
				var b struct {
					Entry []struct{ Resource json.RawMessage }
				}
				if err := json.Unmarshal(c.doc, &b); err != nil || len(b.Entry) == 0 {
					t.Fatalf("bundle entries: %v", err)
				}
				for _, e := range b.Entry {
					validateFHIR(t, e.Resource)
				}
			case res.GetOperationOutcome() != nil:
				got = "OperationOutcome"
			}
			if got != c.resourceType {
				t.Fatalf("parsed as %q, want %s", got, c.resourceType)
			}
		})
	}
}

// TestFHIRValidatorRejectsWhatWeAvoid makes sure the validation above is
// real: the faults the old output had are refused by the same parser.
func TestFHIRValidatorRejectsWhatWeAvoid(t *testing.T) {
	doc := mustFHIR(t)(HospitalMeasureReport(fhirReport(t, "H001", "First", time.Second)))
	for _, c := range []struct{ name, old, new string }{
		{"Organization as subject", `"subject":{"reference":"#subject"`, `"subject":{"reference":"Organization/H001"`},
		{"no status", `"status":"complete",`, ``},
		{"status not a MeasureReportStatus", `"status":"complete"`, `"status":"final"`},
		{"period start not a dateTime", `"period":{"start":"`, `"period":{"start":"x`},
	} {
		bad := bytes.Replace(doc, []byte(c.old), []byte(c.new), 1)
		if bytes.Equal(bad, doc) {
			t.Fatalf("%s: %q not in the document", c.name, c.old)
		}
		u := validatorFor(t)
		if _, err := u.UnmarshalR4(bad); err == nil {
			t.Errorf("%s: accepted by the validator", c.name)
		}
	}
}

// TestFHIRMeasureReportSANER checks the gateway's report (three units of
// three classes, a store, devices in every state) against SANER and its
// counts against the report it renders.
func TestFHIRMeasureReportSANER(t *testing.T) {
	r := fhirReport(t, "H001", "First Hospital", time.Second)
	doc := mustFHIR(t)(HospitalMeasureReport(r))
	mr := checkSANER(t, doc, HospitalIDSystem, "H001")

	if mr.Period.End != "2026-03-01T08:00:01+00:00" || mr.Period.Start != "2026-03-01T07:59:01+00:00" || mr.Date != mr.Period.End {
		t.Errorf("period %+v date %s: want the minute interval ending at as_of", mr.Period, mr.Date)
	}
	byCode := map[string]map[string]int{}
	for _, g := range mr.Group {
		byCode[g.Code.code(SANERMeasureGroup)+g.Code.code(ICUGateCodes)] = counts(g.Population)
	}
	tot := r.Totals
	v, e := tot.Devices["ventilator"], tot.Devices["ecmo"]
	want := map[string]map[string]int{
		"Beds": {"numICUBedsConfigured": tot.BedsTotal, "numICUBedsDegraded": tot.BedsDegraded, "numICUBeds": tot.BedsEquipped,
			"numICUBedsOcc": tot.BedsOccupied, "numICUBedsAvail": tot.BedsAvailable},
		"Ventilators": {"numVentConfigured": v.Total, "numVentOutOfService": v.Offline + v.Fault + v.Maintenance,
			"numVent": v.InUse + v.Standby, "numVentUse": v.InUse, "numVentAvail": v.Standby},
		"ECMO":            {"numECMOConfigured": 1, "numECMOOutOfService": 0, "numECMO": 1, "numECMOUse": e.InUse, "numECMOAvail": 0},
		"CRRT":            {"numCRRTConfigured": 0, "numCRRTOutOfService": 0, "numCRRT": 0, "numCRRTUse": 0, "numCRRTAvail": 0},
		"ConvertibleBeds": {"numConvertibleBeds": 3, "numConvertibleReady": tot.ConvertibleReady},
		"Evidence": {"numDevicesConfigured": tot.Evidence.Configured, "numDevicesFresh": tot.Evidence.Fresh,
			"numDevicesNotFresh": tot.Evidence.Configured - tot.Evidence.Fresh},
	}
	for g, w := range want {
		if got := byCode[g]; fmtCounts(got) != fmtCounts(w) {
			t.Errorf("group %s = %v, want %v", g, got, w)
		}
	}
	if _, ok := byCode["Hospitals"]; ok || len(byCode) != len(want) {
		t.Errorf("groups = %v", byCode)
	}
	// The test's states are not trivial: something of each.
	if tot.BedsOccupied != 1 || tot.BedsDegraded == 0 || v.Maintenance != 1 || e.InUse != 1 || r.Verified {
		t.Fatalf("fixture lost its variety: %+v", tot)
	}
	for _, g := range mr.Group {
		if g.Code.code(ICUGateCodes) == "Evidence" {
			if g.MeasureScore == nil || g.MeasureScore.Value != tot.Evidence.Coverage {
				t.Errorf("coverage score = %+v, want %v", g.MeasureScore, tot.Evidence.Coverage)
			}
		}
		// Strata: per unit (in config order), then per class; the beds of
		// each stratifier sum to the hospital's.
		if len(g.Stratifier) != 2 {
			t.Fatalf("group %s: %d stratifiers", g.Code.Text, len(g.Stratifier))
		}
		for si, st := range g.Stratifier {
			var values []string
			sum := map[string]int{}
			for _, x := range st.Stratum {
				values = append(values, x.Component[0].Value.Coding[0].Code)
				for code, n := range counts(x.Population) {
					sum[code] += n
				}
			}
			wantValues := [][]string{{"gicu", "ccu", "conv"}, {"general", "specialty", "convertible"}}[si]
			if strings.Join(values, ",") != strings.Join(wantValues, ",") {
				t.Errorf("group %s stratifier %d strata %v, want %v", g.Code.Text, si, values, wantValues)
			}
			if g.Code.code(SANERMeasureGroup) == "Beds" || g.Code.code(ICUGateCodes) == "ConvertibleBeds" {
				if fmtCounts(sum) != fmtCounts(counts(g.Population)) {
					t.Errorf("group %s stratifier %d sums %v, hospital %v", g.Code.Text, si, sum, counts(g.Population))
				}
			}
		}
	}
}

// TestAggregateMeasureReport sums hospitals (one with two gateways) into a
// district's report and stratifies it.
func TestAggregateMeasureReport(t *testing.T) {
	h1 := fhirReport(t, "H001", "First", time.Second)
	h2a := fhirReport(t, "H002", "Second", 2*time.Second)
	h2b := fhirReport(t, "H002", "Second", 3*time.Second)
	h2b.GatewayID = "gw-H002-b"
	in := Aggregate{
		Subject: Party{DistrictIDSystem, "D1", "North"}, Reporter: Party{RegionIDSystem, "R01", "Authority"},
		AsOf: t0.Add(30 * time.Second), Reports: []*Report{h2b, h1, h2a}, Registered: 4,
		Districts: map[string]Party{"H001": {ID: "D1", Name: "North"}, "H002": {ID: "D1", Name: "North"}},
	}
	doc := mustFHIR(t)(AggregateMeasureReport(in))
	mr := checkSANER(t, doc, DistrictIDSystem, "D1")
	// The period covers the oldest report's interval up to AsOf.
	if mr.Period.Start != "2026-03-01T07:59:01+00:00" || mr.Period.End != "2026-03-01T08:00:30+00:00" {
		t.Errorf("period = %+v", mr.Period)
	}
	beds := counts(mr.Group[0].Population)
	if beds["numICUBedsConfigured"] != 3*h1.Totals.BedsTotal || beds["numICUBedsOcc"] != 3*h1.Totals.BedsOccupied {
		t.Errorf("beds = %v", beds)
	}
	last := mr.Group[len(mr.Group)-1]
	if last.Code.code(ICUGateCodes) != "Hospitals" || fmtCounts(counts(last.Population)) != fmtCounts(map[string]int{"numHospitals": 4, "numHospitalsReporting": 2}) || len(last.Stratifier) != 0 {
		t.Errorf("hospitals group = %+v", last)
	}
	st := mr.Group[0].Stratifier
	if len(st) != 3 || st[0].Code[0].code(ICUGateStratifiers) != "district" || st[1].Code[0].code(ICUGateStratifiers) != "hospital" || st[2].Code[0].code(ICUGateStratifiers) != "class" {
		t.Fatalf("stratifiers = %+v", st)
	}
	if n := len(st[1].Stratum); n != 2 || counts(st[1].Stratum[1].Population)["numICUBedsConfigured"] != 2*h1.Totals.BedsTotal {
		t.Errorf("hospital strata: %d, H002 %v", n, counts(st[1].Stratum[1].Population))
	}
	// Order of the reports does not matter.
	in.Reports = []*Report{h1, h2a, h2b}
	if again := mustFHIR(t)(AggregateMeasureReport(in)); !bytes.Equal(again, doc) {
		t.Error("report order changes the bytes")
	}
	// Summing did not touch the hospitals' reports.
	if h1.Totals.Devices["ventilator"].Total != 8 {
		t.Errorf("h1 ventilators changed: %+v", h1.Totals.Devices["ventilator"])
	}

	// An empty district still reports (all zero), with the Hospitals group.
	empty := mustFHIR(t)(AggregateMeasureReport(Aggregate{Subject: in.Subject, Reporter: in.Reporter, AsOf: in.AsOf, Registered: 1}))
	validateFHIR(t, empty)
	checkSANER(t, empty, DistrictIDSystem, "D1")

	for _, c := range []struct {
		name string
		edit func(*Aggregate)
	}{
		{"no subject", func(a *Aggregate) { a.Subject.ID = "" }},
		{"no reporter", func(a *Aggregate) { a.Reporter = Party{} }},
		{"nil report", func(a *Aggregate) { a.Reports = append(a.Reports, nil) }},
		{"hospital without district", func(a *Aggregate) { a.Districts = map[string]Party{"H001": {ID: "D1"}} }},
	} {
		a := in
		c.edit(&a)
		if _, err := AggregateMeasureReport(a); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// TestFHIRIsDeterministic: the same counts give the same bytes, so a
// platform can compare and deduplicate reports.
func TestFHIRIsDeterministic(t *testing.T) {
	site := fhirSite(t, "H001", "First")
	a := engineAt(t, site, time.Second, fhirStates).Snapshot()
	b := engineAt(t, site, time.Second, fhirStates).Snapshot()
	da, db := mustFHIR(t)(FHIR(&a, site)), mustFHIR(t)(FHIR(&b, site))
	if !bytes.Equal(da, db) {
		t.Fatalf("two renderings differ:\n%s\n%s", da, db)
	}
	m1, m2 := mustFHIR(t)(MeasureDefinition()), mustFHIR(t)(MeasureDefinition())
	if !bytes.Equal(m1, m2) {
		t.Fatal("Measure differs between calls")
	}
}

// TestFHIRErrors: what cannot be rendered is an error, not a broken
// resource.
func TestFHIRErrors(t *testing.T) {
	if _, err := FHIR(nil, nil); err == nil {
		t.Error("nil snapshot: no error")
	}
	if _, err := HospitalMeasureReport(nil); err == nil {
		t.Error("nil report: no error")
	}
	if _, err := HospitalMeasureReport(&Report{}); err == nil {
		t.Error("report without hospital: no error")
	}
	mr := mustFHIR(t)(HospitalMeasureReport(fhirReport(t, "H001", "First", time.Second)))
	for _, c := range []struct {
		name string
		typ  BundleType
		res  [][]byte
	}{
		{"unknown type", "transaction", [][]byte{mr}},
		{"not JSON", BundleCollection, [][]byte{[]byte("{")}},
		{"no id", BundleCollection, [][]byte{[]byte(`{"resourceType":"Measure"}`)}},
		{"same resource twice", BundleCollection, [][]byte{mr, mr}},
	} {
		if _, err := Bundle(c.typ, t0, c.res...); err == nil {
			t.Errorf("Bundle %s: no error", c.name)
		}
	}
}

func TestFHIRID(t *testing.T) {
	for _, c := range []struct{ in []string }{
		{[]string{"icu-capacity", "H001", "1"}},
		{[]string{"icu-capacity", "h_1", "1"}},
		{[]string{"icu-capacity", "h-1", "1"}},
		{[]string{"icu-capacity", strings.Repeat("a", 64), "1772352000"}},
	} {
		id := fhirID(c.in...)
		if len(id) == 0 || len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != "" {
			t.Errorf("fhirID(%q) = %q: not a FHIR id", c.in, id)
		}
	}
	if fhirID("x", "h_1") == fhirID("x", "h-1") {
		t.Error("h_1 and h-1 share an id")
	}
	if got := fhirID("icu-capacity", "H001", "1"); got != "icu-capacity-H001-1" {
		t.Errorf("a clean id changed: %q", got)
	}
	if u := nameUUID("urn:icugate:fhir:Measure/ICUCapacity"); len(u) != 36 || u[14] != '5' {
		t.Errorf("nameUUID = %q, want a version 5 UUID", u)
	}
}

// TestFHIRDocsListEveryCode keeps docs/fhir.md's mapping table true: every
// group and population code of the measure is in it.
func TestFHIRDocsListEveryCode(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "fhir.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if !bytes.Contains(doc, []byte("`"+g.code+"`")) {
			t.Errorf("docs/fhir.md does not name group %s", g.code)
		}
		for _, p := range g.pops {
			if !bytes.Contains(doc, []byte("`"+p.code+"`")) {
				t.Errorf("docs/fhir.md does not name population %s", p.code)
			}
		}
	}
}

// TestFHIRSANERCodesAreSANERs: every code under a SANER system is one the
// SANER IG defines (MeasuredValues, MeasureGroupSystem), with its display.
func TestFHIRSANERCodesAreSANERs(t *testing.T) {
	defined := map[string]bool{ // SANER 1.0 MeasuredValues and MeasureGroupSystem codes we may use
		"numICUBeds": true, "numICUBedsOcc": true, "numICUBedsAvail": true,
		"numVent": true, "numVentUse": true, "numVentAvail": true, "Beds": true, "Ventilators": true,
	}
	check := func(system, code string) {
		if system != SANERMeasuredValue && system != SANERMeasureGroup {
			return
		}
		if !defined[code] || sanerDisplay[code] == "" {
			t.Errorf("%s#%s: not a SANER code we know, or no display", system, code)
		}
	}
	for _, g := range groups {
		check(g.system, g.code)
		for _, p := range g.pops {
			check(p.system, p.code)
			if p.role.system == SANERPopulationRole && p.role.code != "numerator-complement" {
				t.Errorf("%s: SANER role %s", p.code, p.role.code)
			}
		}
	}
}
