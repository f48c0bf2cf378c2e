package report

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParseFHIRQuery(t *testing.T) {
	subject := []string{"subject:identifier"}
	for _, c := range []struct {
		raw    string
		params []string
		status int // 0: accepted
		pretty bool
		token  *Token
	}{
		{raw: ""},
		{raw: "_format=json"},
		{raw: "_format=application/fhir%2Bjson"},
		{raw: "_format=application/fhir+json"}, // unencoded: the + arrives as a space
		{raw: "_format=application%2Fjson%3B+charset%3Dutf-8"},
		{raw: "_format=JSON&_pretty=true", pretty: true},
		{raw: "_pretty=false"},
		{raw: "subject:identifier=urn:icugate:district%7CD1", params: subject, token: &Token{"urn:icugate:district", true, "D1"}},
		{raw: "subject:identifier=D1", params: subject, token: &Token{Value: "D1"}},
		{raw: "subject:identifier=%7CD1", params: subject, token: &Token{"", true, "D1"}},
		{raw: "subject:identifier=urn:icugate:district%7C", params: subject, token: &Token{"urn:icugate:district", true, ""}},

		{raw: "_format=xml", status: 406},
		{raw: "_format=application/fhir%2Bxml", status: 406},
		{raw: "_format=text/turtle", status: 406},
		{raw: "_format=yaml", status: 400},
		{raw: "_format=application/", status: 400},
		{raw: "_pretty=yes", status: 400},
		{raw: "_pretty=1", status: 400},
		{raw: "_pretty=true&_pretty=false", status: 400},
		{raw: "_summary=true", status: 400},
		{raw: "_count=10", status: 400},
		{raw: "foo=bar", status: 400},
		{raw: "subject:identifier=D1", status: 400}, // not offered here
		{raw: "subject:identifier=a%7Cb%7Cc", params: subject, status: 400},
		{raw: "subject:identifier=%7C", params: subject, status: 400},
		{raw: "subject:identifier=", params: subject, status: 400},
		{raw: "subject:identifier=D1%00", params: subject, status: 400},
		{raw: "subject:identifier=" + strings.Repeat("x", 600), params: subject, status: 400},
		{raw: "_format=%zz", status: 400},
		{raw: "a=1;b=2", status: 400},
	} {
		q, err := ParseFHIRQuery(c.raw, c.params...)
		var qe *QueryError
		switch {
		case c.status == 0 && err != nil:
			t.Errorf("%q: %v", c.raw, err)
		case c.status != 0 && (!errors.As(err, &qe) || qe.Status != c.status || qe.Msg == "" || qe.Code == ""):
			t.Errorf("%q: err %v, want status %d", c.raw, err, c.status)
		case c.status == 0 && (q.Pretty != c.pretty || (q.Subject == nil) != (c.token == nil) || c.token != nil && *q.Subject != *c.token):
			t.Errorf("%q: query %+v subject %+v, want pretty %v subject %+v", c.raw, q, q.Subject, c.pretty, c.token)
		}
	}
}

func TestTokenMatches(t *testing.T) {
	for _, c := range []struct {
		tok           string
		system, value string
		want          bool
	}{
		{"D1", DistrictIDSystem, "D1", true},
		{"D1", RegionIDSystem, "D1", true},
		{"D1", DistrictIDSystem, "D2", false},
		{DistrictIDSystem + "|D1", DistrictIDSystem, "D1", true},
		{DistrictIDSystem + "|D1", RegionIDSystem, "D1", false},
		{DistrictIDSystem + "|", DistrictIDSystem, "D9", true},
		{"|D1", DistrictIDSystem, "D1", false},
		{"|D1", "", "D1", true},
	} {
		tok, err := ParseToken(c.tok)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Matches(c.system, c.value); got != c.want {
			t.Errorf("%q matches %s|%s = %v", c.tok, c.system, c.value, got)
		}
	}
}

func TestAcceptsFHIRJSON(t *testing.T) {
	for _, c := range []struct {
		accept string
		want   bool
	}{
		{"", true},
		{"*/*", true},
		{"application/fhir+json", true},
		{"application/json", true},
		{"application/fhir+json; fhirVersion=4.0", true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{"application/*", true},
		{"application/fhir+xml", false},
		{"application/fhir+xml, text/turtle", false},
		{"*/*;q=0", false},
		{"application/fhir+json;q=0, */*", false},
		{"application/fhir+json;q=0, application/json", true},
		{"application/fhir+json;q=2", false},
		{"garbage;;;", false},
		{"text/html", false},
	} {
		if got := AcceptsFHIRJSON(c.accept); got != c.want {
			t.Errorf("AcceptsFHIRJSON(%q) = %v, want %v", c.accept, got, c.want)
		}
	}
}

// FuzzParseFHIRQuery: any raw query is accepted or refused with a 400 or
// 406 QueryError, never a panic; an accepted subject token has at most one
// '|' on the wire.
func FuzzParseFHIRQuery(f *testing.F) {
	for _, s := range []string{"", "_format=json&_pretty=true", "_format=application/fhir%2Bxml",
		"subject:identifier=urn:icugate:district%7CD1", "subject:identifier=%7C%7C", "_pretty=%ff", "a=1;b=2", "%", "&&&=",
		"subject:identifier=" + strings.Repeat("%7C", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseFHIRQuery(raw, "subject:identifier")
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) || (qe.Status != http.StatusBadRequest && qe.Status != http.StatusNotAcceptable) || qe.Code == "" {
				t.Fatalf("%q: error %v is not a 400/406 QueryError", raw, err)
			}
			return
		}
		if s := q.Subject; s != nil {
			if strings.Contains(s.System, "|") || strings.Contains(s.Value, "|") || (!s.HasSystem && s.System != "") {
				t.Fatalf("%q: token %+v", raw, s)
			}
		}
	})
}

// FuzzAcceptsFHIRJSON: any Accept header gets an answer, and a header
// naming FHIR JSON first with no q is always accepted.
func FuzzAcceptsFHIRJSON(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/fhir+json;q=0.5", "text/html,*/*;q=0.8", ";;,,", "a/b;q=nan", "*/*;q=1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		_ = AcceptsFHIRJSON(accept)
		if !AcceptsFHIRJSON("application/fhir+json," + accept) {
			t.Fatalf("%q: FHIR JSON named first was refused", accept)
		}
	})
}
