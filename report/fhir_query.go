package report

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// FHIRQuery is what a request to a FHIR endpoint asks for beyond the
// resource: the FHIR general parameters _format and _pretty, and a
// subject:identifier search where the endpoint offers one.
type FHIRQuery struct {
	// Pretty asks for indented JSON (_pretty=true).
	Pretty bool
	// Subject, when set, selects reports by their subject's identifier
	// (subject:identifier=[system]|value, FHIR token search).
	Subject *Token
}

// Token is a FHIR token search value: "value" matches the value in any
// system, "system|value" in that system, "|value" without system,
// "system|" any value of the system.
type Token struct {
	System    string
	HasSystem bool
	Value     string
}

// Matches reports whether an identifier (system, value) matches t.
func (t *Token) Matches(system, value string) bool {
	if t.HasSystem && system != t.System {
		return false
	}
	return t.Value == "" || value == t.Value
}

// QueryError is a FHIR request refused for its parameters: Status is the
// HTTP status to answer (400, or 406 for a format other than JSON) and
// Code the OperationOutcome issue type.
type QueryError struct {
	Status int
	Code   string
	Param  string
	Msg    string
}

func (e *QueryError) Error() string { return e.Param + ": " + e.Msg }

// maxQueryValue bounds one parameter value: identifiers are at most 64
// characters, systems short URIs.
const maxQueryValue = 512

// ParseFHIRQuery reads a FHIR request's raw query. It knows _format (JSON
// only: json, application/json, application/fhir+json; XML or Turtle is
// 406), _pretty (true or false), and the search parameters the endpoint
// offers in params ("subject:identifier"). Anything else — an unknown or
// repeated parameter, a bad value, a malformed query — is a QueryError:
// a report answered for a different question than the one asked would be
// read as the answer.
func ParseFHIRQuery(raw string, params ...string) (FHIRQuery, error) {
	var q FHIRQuery
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, &QueryError{http.StatusBadRequest, IssueInvalid, "query", "malformed: " + err.Error()}
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names) // the same query always gets the same error
	for _, name := range names {
		vs := vals[name]
		bad := func(status int, code, format string, a ...any) error {
			return &QueryError{status, code, name, fmt.Sprintf(format, a...)}
		}
		if len(vs) != 1 {
			return q, bad(http.StatusBadRequest, IssueInvalid, "given %d times: give it once", len(vs))
		}
		v := vs[0]
		if len(v) > maxQueryValue {
			return q, bad(http.StatusBadRequest, IssueInvalid, "value longer than %d bytes", maxQueryValue)
		}
		if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return q, bad(http.StatusBadRequest, IssueInvalid, "value has control characters")
		}
		switch {
		case name == "_format":
			if err := checkFormat(v); err != nil {
				return q, err
			}
		case name == "_pretty":
			b, err := strconv.ParseBool(v)
			if err != nil || (v != "true" && v != "false") {
				return q, bad(http.StatusBadRequest, IssueInvalid, "%q: want true or false", v)
			}
			q.Pretty = b
		case name == "subject:identifier" && slices.Contains(params, name):
			t, err := ParseToken(v)
			if err != nil {
				return q, bad(http.StatusBadRequest, IssueInvalid, "%v", err)
			}
			q.Subject = &t
		case strings.HasPrefix(name, "_"):
			return q, bad(http.StatusBadRequest, IssueNotSupported, "not supported here (only _format and _pretty)")
		default:
			offered := "none"
			if len(params) > 0 {
				offered = strings.Join(params, ", ")
			}
			return q, bad(http.StatusBadRequest, IssueNotSupported, "unknown search parameter (this endpoint offers: %s)", offered)
		}
	}
	return q, nil
}

// ParseToken reads a FHIR token search value ([system]|value).
func ParseToken(s string) (Token, error) {
	var t Token
	if s == "" {
		return t, fmt.Errorf("empty: want [system|]value")
	}
	if strings.Count(s, "|") > 1 {
		return t, fmt.Errorf("%q: more than one '|': want [system|]value", s)
	}
	if sys, val, ok := strings.Cut(s, "|"); ok {
		t.System, t.HasSystem, t.Value = sys, true, val
		if sys == "" && val == "" {
			return t, fmt.Errorf("%q: want [system|]value", s)
		}
		return t, nil
	}
	t.Value = s
	return t, nil
}

// checkFormat accepts the _format values that mean FHIR JSON.
func checkFormat(v string) error {
	mt := strings.ToLower(strings.TrimSpace(v))
	// An unencoded "application/fhir+json" arrives with its '+' decoded
	// to a space; a media type's name has no spaces, so put it back.
	if name, params, ok := strings.Cut(mt, ";"); ok {
		mt = strings.ReplaceAll(strings.TrimSpace(name), " ", "+") + ";" + params
	} else {
		mt = strings.ReplaceAll(mt, " ", "+")
	}
	if strings.Contains(mt, "/") {
		parsed, _, err := mime.ParseMediaType(mt)
		if err != nil {
			return &QueryError{http.StatusBadRequest, IssueInvalid, "_format", fmt.Sprintf("%q: not a media type", v)}
		}
		mt = parsed
	}
	switch mt {
	case "json", "application/json", "application/fhir+json", "application/json+fhir":
		return nil
	case "xml", "text/xml", "application/xml", "application/fhir+xml", "application/xml+fhir",
		"ttl", "text/turtle", "application/fhir+turtle", "html", "text/html":
		return &QueryError{http.StatusNotAcceptable, IssueNotSupported, "_format", fmt.Sprintf("%q: only JSON is served (json, application/fhir+json)", v)}
	}
	return &QueryError{http.StatusBadRequest, IssueInvalid, "_format", fmt.Sprintf("%q: want json or application/fhir+json", v)}
}

// AcceptsFHIRJSON reports whether an Accept header admits FHIR JSON: no
// header, application/fhir+json or application/json with q above 0, or a
// wildcard (*/*, application/*) with q above 0 when neither JSON type is
// refused by name. Unparsable ranges are skipped.
func AcceptsFHIRJSON(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	named, wildcard := 0, false // named: 1 accepted, -1 refused by name
	for part := range strings.SplitSeq(accept, ",") {
		mt, p, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := p["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		switch mt {
		case "application/fhir+json", "application/json", "application/json+fhir":
			if q > 0 {
				named = 1
			} else if named == 0 {
				named = -1
			}
		case "*/*", "application/*":
			wildcard = wildcard || q > 0
		}
	}
	return named == 1 || named == 0 && wildcard
}
