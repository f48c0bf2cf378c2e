package report

import (
	"crypto/sha1" //nolint:gosec // a name-based UUID (RFC 9562 version 5) is defined on SHA-1; no secrecy is involved
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// The FHIR R4 JSON this package writes, built by hand: only the elements
// the capacity reports use, in FHIR's element order, so the bytes are the
// same for the same counts. (github.com/samply/golang-fhir-models has no
// MeasureReport.contained, which the report needs for its subject.)

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	System string  `json:"system,omitempty"`
	Code   string  `json:"code,omitempty"`
}

type expression struct {
	Description string `json:"description,omitempty"`
	Language    string `json:"language"`
	Expression  string `json:"expression"`
}

// location is a FHIR Location: the subject of every capacity report (a
// hospital, a district, a region), contained in the report.
type location struct {
	ResourceType         string       `json:"resourceType"`
	ID                   string       `json:"id"`
	Identifier           []identifier `json:"identifier"`
	Status               string       `json:"status"`
	Name                 string       `json:"name,omitempty"`
	Mode                 string       `json:"mode"`
	Type                 []concept    `json:"type,omitempty"`
	PhysicalType         *concept     `json:"physicalType,omitempty"`
	ManagingOrganization *reference   `json:"managingOrganization,omitempty"`
}

type measureReport struct {
	ResourceType string     `json:"resourceType"`
	ID           string     `json:"id"`
	Contained    []location `json:"contained"`
	Status       string     `json:"status"`
	Type         string     `json:"type"`
	Measure      string     `json:"measure"`
	Subject      reference  `json:"subject"`
	Date         string     `json:"date"`
	Reporter     reference  `json:"reporter"`
	Period       period     `json:"period"`
	Group        []mrGroup  `json:"group"`
}

type mrGroup struct {
	Code         concept        `json:"code"`
	Population   []mrPopulation `json:"population"`
	MeasureScore *quantity      `json:"measureScore,omitempty"`
	Stratifier   []mrStratifier `json:"stratifier,omitempty"`
}

// mrPopulation's count is never omitted: SANER requires a count on every
// population (0 is a count).
type mrPopulation struct {
	Code  concept `json:"code"`
	Count int     `json:"count"`
}

type mrStratifier struct {
	Code    []concept   `json:"code"`
	Stratum []mrStratum `json:"stratum"`
}

// mrStratum names its stratum by component, never by value: SANER's
// PublicHealthMeasureReport forbids stratum.value.
type mrStratum struct {
	Component    []mrComponent  `json:"component"`
	Population   []mrPopulation `json:"population"`
	MeasureScore *quantity      `json:"measureScore,omitempty"`
}

type mrComponent struct {
	Code  concept `json:"code"`
	Value concept `json:"value"`
}

// fhirTime writes t as a FHIR dateTime/instant to the second with a
// numeric offset ("+00:00", not "Z"): SANER's PreciseDateTime asks for
// seconds and a time zone, and its invariant counts the offset's colon.
func fhirTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05-07:00")
}

// fhirID makes a FHIR resource id ([A-Za-z0-9.-]{1,64}) from parts joined
// by "-". Our ids allow "_" and up to 64 characters, so a part that does
// not fit is made to fit and a hash of the original keeps ids of
// different inputs apart.
func fhirID(parts ...string) string {
	s := strings.Join(parts, "-")
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s)
	if clean == s && len(s) >= 1 && len(s) <= 64 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	if len(clean) > 47 {
		clean = clean[:47]
	}
	return clean + "-" + hex.EncodeToString(sum[:8])
}

// uuidNamespaceURL is RFC 9562's namespace for names that are URLs.
var uuidNamespaceURL = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// nameUUID is the version 5 (name-based) UUID of name: the same resource
// always gets the same Bundle fullUrl.
func nameUUID(name string) string {
	h := sha1.New() //nolint:gosec // see the import
	h.Write(uuidNamespaceURL[:])
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func codeOf(system, code, display string) concept {
	return concept{Coding: []coding{{System: system, Code: code, Display: display}}, Text: display}
}
