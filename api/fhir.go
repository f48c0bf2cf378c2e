package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/icugate/icugate/report"
)

// fhirJSON is the media type of every FHIR answer, errors included.
const fhirJSON = "application/fhir+json"

// getCapacityFHIR serves the capacity counts as a FHIR R4 MeasureReport
// following HL7 SANER's PublicHealthMeasureReport (docs/fhir.md), for
// platforms that speak FHIR. It is built from the same snapshot as
// /api/v1/capacity.
func (s *Server) getCapacityFHIR(w http.ResponseWriter, r *http.Request) {
	q, ok := fhirRequest(w, r)
	if !ok {
		return
	}
	snap := s.backend.Snapshot()
	body, err := report.FHIR(&snap, s.backend.Site())
	if err != nil {
		writeOutcome(w, http.StatusServiceUnavailable, report.IssueException, "capacity not available: "+err.Error())
		return
	}
	writeFHIR(w, q, body)
}

// getCapacityFHIRMeasure serves the Measure the MeasureReport answers
// (its "measure" canonical), so a platform can read what each code counts.
func (s *Server) getCapacityFHIRMeasure(w http.ResponseWriter, r *http.Request) {
	q, ok := fhirRequest(w, r)
	if !ok {
		return
	}
	body, err := report.MeasureDefinition()
	if err != nil {
		writeOutcome(w, http.StatusInternalServerError, report.IssueException, err.Error())
		return
	}
	writeFHIR(w, q, body)
}

// fhirRequest reads the FHIR parameters (_format, _pretty) and the Accept
// header; a request it cannot answer as asked gets an OperationOutcome:
// 400 for a malformed or unknown parameter, 406 for a format other than
// JSON.
func fhirRequest(w http.ResponseWriter, r *http.Request) (report.FHIRQuery, bool) {
	q, err := report.ParseFHIRQuery(r.URL.RawQuery)
	if err != nil {
		var qe *report.QueryError
		if errors.As(err, &qe) {
			writeOutcome(w, qe.Status, qe.Code, r.URL.Path+": "+qe.Error())
		} else {
			writeOutcome(w, http.StatusBadRequest, report.IssueInvalid, r.URL.Path+": "+err.Error())
		}
		return q, false
	}
	// _format overrides Accept (FHIR's rule for browsers and simple
	// clients); without it the Accept header must admit FHIR JSON.
	if r.URL.Query().Get("_format") == "" && !report.AcceptsFHIRJSON(r.Header.Get("Accept")) {
		writeOutcome(w, http.StatusNotAcceptable, report.IssueNotSupported,
			r.URL.Path+": only "+fhirJSON+" is served; the Accept header admits neither it nor application/json")
		return q, false
	}
	return q, true
}

func writeFHIR(w http.ResponseWriter, q report.FHIRQuery, body []byte) {
	if q.Pretty {
		var b bytes.Buffer
		if json.Indent(&b, body, "", "  ") == nil {
			body = b.Bytes()
		}
	}
	w.Header().Set("Content-Type", fhirJSON)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeOutcome answers a FHIR request with an OperationOutcome, as FHIR
// clients expect instead of the API's usual error document.
func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	w.Header().Set("Content-Type", fhirJSON)
	w.WriteHeader(status)
	_, _ = w.Write(report.OperationOutcome(code, diagnostics))
}
