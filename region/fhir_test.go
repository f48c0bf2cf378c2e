package region

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/icugate/icugate/report"
)

// validR4 parses doc with Google's FHIR R4 implementation with
// validation (required elements, cardinalities, reference types,
// primitive formats, bound codes), failing the test if it refuses it.
func validR4(t *testing.T, what string, doc []byte) {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.UnmarshalR4(doc); err != nil {
		t.Errorf("%s: not valid FHIR R4: %v\n%s", what, err, doc)
	}
}

type fhirBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        int    `json:"total"`
	Entry        []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

// The region's FHIR routes: the searchset of the region's and both
// districts' MeasureReports (each entry and the Bundle valid R4, counts
// those of the view), a subject:identifier search, the Measure, and
// OperationOutcomes for refused requests.
func TestFHIRRoutes(t *testing.T) {
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	hr := newHistoryRegion(t, nil, now)
	hr.feed(t, now, 2)
	h := hr.r.Handler()

	rec := get(t, h, "/fhir/MeasureReport")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/fhir+json; charset=utf-8" {
		t.Fatalf("MeasureReport: %d %s", rec.Code, rec.Header())
	}
	validR4(t, "bundle", rec.Body.Bytes())
	var b fhirBundle
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != "searchset" || b.Total != 3 || len(b.Entry) != 3 {
		t.Fatalf("bundle %s total %d, %d entries", b.Type, b.Total, len(b.Entry))
	}
	subjects := []string{}
	for i, e := range b.Entry {
		validR4(t, "entry", e.Resource)
		var mr struct {
			Contained []struct {
				Identifier []struct{ System, Value string } `json:"identifier"`
			} `json:"contained"`
		}
		if err := json.Unmarshal(e.Resource, &mr); err != nil || len(mr.Contained) == 0 || len(mr.Contained[0].Identifier) == 0 {
			t.Fatalf("entry %d: %v %s", i, err, e.Resource)
		}
		id := mr.Contained[0].Identifier[0]
		subjects = append(subjects, id.System+"|"+id.Value)
	}
	if got := strings.Join(subjects, " "); got != "urn:icugate:region|R01 urn:icugate:district|D01 urn:icugate:district|D02" {
		t.Errorf("subjects %s", got)
	}

	rec = get(t, h, "/fhir/MeasureReport?subject:identifier=urn:icugate:district|D02&_pretty=true")
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Total != 1 || !strings.Contains(rec.Body.String(), "\n  ") {
		t.Errorf("search D02: %v total %d", err, b.Total)
	}
	// The district's MeasureReport counts what the view counts.
	v := hr.r.View()
	if !strings.Contains(string(b.Entry[0].Resource), `"北部县"`) || v.Districts[1].Totals.BedsTotal == 0 {
		t.Errorf("D02 report: %s", b.Entry[0].Resource)
	}
	rec = get(t, h, "/fhir/MeasureReport?subject:identifier=urn:icugate:district|D99")
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || rec.Code != http.StatusOK || b.Total != 0 {
		t.Errorf("search D99: %d %s", rec.Code, rec.Body)
	}
	validR4(t, "empty searchset", rec.Body.Bytes())

	rec = get(t, h, "/fhir/Measure")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"resourceType":"Measure"`) {
		t.Fatalf("Measure: %d %.200s", rec.Code, rec.Body)
	}
	validR4(t, "measure", rec.Body.Bytes())

	for _, c := range []struct {
		target, accept string
		status         int
		code           string
	}{
		{"/fhir/MeasureReport?subject=D01", "", 400, report.IssueNotSupported},
		{"/fhir/MeasureReport?subject:identifier=a|b|c", "", 400, report.IssueInvalid},
		{"/fhir/MeasureReport?_format=xml", "", 406, report.IssueNotSupported},
		{"/fhir/MeasureReport?%zz", "", 400, report.IssueInvalid},
		{"/fhir/Measure?subject:identifier=x", "", 400, report.IssueNotSupported},
		{"/fhir/Measure", "application/fhir+xml", 406, report.IssueNotSupported},
	} {
		rec := get(t, h, c.target, "Accept", c.accept)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), `"code":"`+c.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", c.target, rec.Code, rec.Body, c.status, c.code)
			continue
		}
		validR4(t, c.target, rec.Body.Bytes())
	}
}
