package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/icugate/icugate/report"
)

// validFHIR parses body with Google's FHIR R4 implementation, with
// validation, and returns the resource type it parsed.
func validFHIR(t *testing.T, body []byte) string {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	res, err := u.UnmarshalR4(body)
	if err != nil {
		t.Fatalf("not valid FHIR R4: %v\n%s", err, body)
	}
	switch {
	case res.GetMeasureReport() != nil:
		return "MeasureReport"
	case res.GetMeasure() != nil:
		return "Measure"
	case res.GetOperationOutcome() != nil:
		return "OperationOutcome"
	}
	return "other"
}

// TestFHIRRoutes: the MeasureReport and the Measure it answers, served as
// application/fhir+json and valid FHIR R4, the report's subject a Location
// with the hospital's identifier and its measure the served Measure's url.
func TestFHIRRoutes(t *testing.T) {
	f := newFixture(t, Config{})
	w := f.do(t, "GET", "/api/v1/capacity/fhir", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("MeasureReport: %d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if got := validFHIR(t, w.Body.Bytes()); got != "MeasureReport" {
		t.Fatalf("parsed as %s", got)
	}
	var mr struct {
		Measure   string
		Contained []struct {
			ResourceType, ID string
			Identifier       []struct{ System, Value string }
		}
		Subject struct {
			Reference, Type string
			Identifier      struct{ System, Value string }
		}
		Period struct{ Start, End string }
		Group  []struct {
			Population []struct {
				Code struct {
					Coding []struct{ System, Code string }
				}
				Count int
			}
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &mr); err != nil {
		t.Fatal(err)
	}
	s := mr.Subject
	if s.Type != "Location" || s.Reference != "#subject" || s.Identifier.System != report.HospitalIDSystem || s.Identifier.Value != "h1" ||
		len(mr.Contained) != 1 || mr.Contained[0].ResourceType != "Location" || mr.Contained[0].ID != "subject" ||
		len(mr.Contained[0].Identifier) != 1 || mr.Contained[0].Identifier[0].Value != "h1" {
		t.Errorf("subject %+v contained %+v", s, mr.Contained)
	}
	if mr.Period.Start >= mr.Period.End {
		t.Errorf("period %+v is not an interval", mr.Period)
	}
	got := map[string]int{}
	for _, g := range mr.Group {
		for _, p := range g.Population {
			if p.Code.Coding[0].System == report.SANERMeasuredValue {
				got[p.Code.Coding[0].Code] = p.Count
			}
		}
	}
	// The fixture: 8 ICU beds, 4 equipped, 1 occupied, ventilator a1 in use.
	if got["numICUBeds"] != 4 || got["numICUBedsOcc"] != 1 || got["numICUBedsAvail"] != 3 || got["numVentUse"] != 1 {
		t.Errorf("SANER populations %v", got)
	}

	w = f.do(t, "GET", "/api/v1/capacity/fhir/Measure", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("Measure: %d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if got := validFHIR(t, w.Body.Bytes()); got != "Measure" {
		t.Fatalf("parsed as %s", got)
	}
	var m struct{ URL string }
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m.URL != mr.Measure || m.URL != report.FHIRMeasure {
		t.Errorf("Measure url %q, the report's measure %q (%v)", m.URL, mr.Measure, err)
	}

	// _pretty indents, _format=json is fine, and both are the same resource.
	w = f.do(t, "GET", "/api/v1/capacity/fhir/Measure?_format=json&_pretty=true", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "\n  \"id\": \"ICUCapacity\"") {
		t.Errorf("_pretty: %d %.200s", w.Code, w.Body)
	}
}

// TestFHIRBadRequests: a request the FHIR routes cannot answer as asked
// gets a clear 4xx with a valid OperationOutcome saying why.
func TestFHIRBadRequests(t *testing.T) {
	f := newFixture(t, Config{})
	for _, c := range []struct {
		path, accept string
		code         int
		says         string
	}{
		{"/api/v1/capacity/fhir?_format=xml", "", 406, "only JSON"},
		{"/api/v1/capacity/fhir?_format=yaml", "", 400, "_format"},
		{"/api/v1/capacity/fhir?_pretty=yes", "", 400, "true or false"},
		{"/api/v1/capacity/fhir?_pretty=true&_pretty=true", "", 400, "given 2 times"},
		{"/api/v1/capacity/fhir?subject:identifier=h1", "", 400, "unknown search parameter"},
		{"/api/v1/capacity/fhir?_summary=count", "", 400, "not supported"},
		{"/api/v1/capacity/fhir?%zz", "", 400, "malformed"},
		{"/api/v1/capacity/fhir/Measure?x=1", "", 400, "unknown search parameter"},
		{"/api/v1/capacity/fhir", "application/fhir+xml", 406, "only application/fhir+json"},
		{"/api/v1/capacity/fhir/Measure", "text/html", 406, "Accept"},
	} {
		h := []string{}
		if c.accept != "" {
			h = append(h, "Accept", c.accept)
		}
		w := f.do(t, "GET", c.path, "", h...)
		if w.Code != c.code || w.Header().Get("Content-Type") != "application/fhir+json" || !strings.Contains(w.Body.String(), c.says) {
			t.Errorf("%s (Accept %q): %d %s %s, want %d saying %q", c.path, c.accept, w.Code, w.Header().Get("Content-Type"), w.Body, c.code, c.says)
			continue
		}
		if got := validFHIR(t, w.Body.Bytes()); got != "OperationOutcome" {
			t.Errorf("%s: error parsed as %s", c.path, got)
		}
	}
	// _format wins over Accept, and browsers' Accept is fine.
	for _, c := range []struct{ path, accept string }{
		{"/api/v1/capacity/fhir?_format=application/fhir%2Bjson", "application/fhir+xml"},
		{"/api/v1/capacity/fhir", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{"/api/v1/capacity/fhir", "application/json"},
	} {
		if w := f.do(t, "GET", c.path, "", "Accept", c.accept); w.Code != 200 {
			t.Errorf("%s (Accept %q): %d %s", c.path, c.accept, w.Code, w.Body)
		}
	}
}

// FuzzFHIRQuery throws arbitrary queries and Accept headers at the FHIR
// route: the answer is 200, 400 or 406, always application/fhir+json.
func FuzzFHIRQuery(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"_format=json&_pretty=true", ""}, {"_format=xml", ""},
		{"%zz", ""}, {"a=1;b=2", "*/*"}, {"", "application/fhir+xml"}, {"_pretty=%00", ";q=0"}} {
		f.Add(s[0], s[1])
	}
	fx := newFixture(f, Config{})
	f.Fuzz(func(t *testing.T, query, accept string) {
		if strings.ContainsFunc(query+accept, func(r rune) bool { return r < 0x21 && r != ' ' || r == 0x7f }) || strings.ContainsAny(query, " #") {
			return // not a request line or header a client can send
		}
		w := fx.do(t, "GET", "/api/v1/capacity/fhir?"+query, "", "Accept", accept)
		if (w.Code != 200 && w.Code != 400 && w.Code != 406) || w.Header().Get("Content-Type") != "application/fhir+json" {
			t.Fatalf("?%s Accept %q: %d %s", query, accept, w.Code, w.Body)
		}
	})
}
