package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// BundleType is a FHIR Bundle's type: what the entries are to each other.
type BundleType string

// Bundle types this package writes.
const (
	// BundleCollection is a set of resources, e.g. a region's
	// MeasureReports with the Measure they answer.
	BundleCollection BundleType = "collection"
	// BundleSearchSet answers a search: every entry is a match and
	// Bundle.total counts them.
	BundleSearchSet BundleType = "searchset"
)

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         BundleType    `json:"type"`
	Timestamp    string        `json:"timestamp"`
	Total        *int          `json:"total,omitempty"`
	Entry        []bundleEntry `json:"entry,omitempty"`
}

type bundleEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Search   *bundleSearch   `json:"search,omitempty"`
}

type bundleSearch struct {
	Mode string `json:"mode"`
}

// Bundle wraps FHIR resources (JSON objects with resourceType and id, as
// this package's functions return them) in a FHIR R4 Bundle of type typ
// with timestamp at. Each entry's fullUrl is urn:uuid: with a name-based
// UUID of its resource type and id, so the same resources give the same
// bytes; two resources of the same type and id are an error.
func Bundle(typ BundleType, at time.Time, resources ...[]byte) ([]byte, error) {
	if typ != BundleCollection && typ != BundleSearchSet {
		return nil, fmt.Errorf("fhir: bundle type %q: want %q or %q", typ, BundleCollection, BundleSearchSet)
	}
	b := bundle{ResourceType: "Bundle", Type: typ, Timestamp: fhirTime(at)}
	if typ == BundleSearchSet {
		b.Total = ptr(len(resources))
	}
	seen := make(map[string]bool, len(resources))
	for i, res := range resources {
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(res, &head); err != nil {
			return nil, fmt.Errorf("fhir: bundle entry %d: %w", i, err)
		}
		if head.ResourceType == "" || head.ID == "" {
			return nil, fmt.Errorf("fhir: bundle entry %d: a resource needs resourceType and id", i)
		}
		name := head.ResourceType + "/" + head.ID
		if seen[name] {
			return nil, fmt.Errorf("fhir: bundle entry %d: %s twice", i, name)
		}
		seen[name] = true
		var compact bytes.Buffer
		if err := json.Compact(&compact, res); err != nil {
			return nil, fmt.Errorf("fhir: bundle entry %d: %w", i, err)
		}
		e := bundleEntry{FullURL: "urn:uuid:" + nameUUID("urn:icugate:fhir:"+name), Resource: compact.Bytes()}
		if typ == BundleSearchSet {
			e.Search = &bundleSearch{Mode: "match"}
		}
		b.Entry = append(b.Entry, e)
	}
	return json.Marshal(b)
}

// Issue types of an OperationOutcome (FHIR's IssueType codes).
const (
	IssueInvalid      = "invalid"
	IssueNotSupported = "not-supported"
	IssueNotFound     = "not-found"
	IssueException    = "exception"
)

// OperationOutcome is a FHIR R4 OperationOutcome with one error issue of
// type code (IssueInvalid, ...) saying diagnostics: what a FHIR endpoint
// answers instead of a resource when it refuses a request.
func OperationOutcome(code, diagnostics string) []byte {
	type issue struct {
		Severity    string `json:"severity"`
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics,omitempty"`
	}
	b, _ := json.Marshal(struct {
		ResourceType string  `json:"resourceType"`
		Issue        []issue `json:"issue"`
	}{"OperationOutcome", []issue{{"error", code, diagnostics}}})
	return b
}
