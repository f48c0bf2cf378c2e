package region

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/icugate/icugate/report"
)

// The region's figures as FHIR R4 (docs/fhir.md): a MeasureReport per
// district and one for the region, answering the Measure ICUCapacity,
// built by package report from the latest reports of the reporting parts
// (the counts the View sums; silent parts are unknown and left out).

const fhirJSON = "application/fhir+json"

// fhirMeasureReports serves GET /fhir/MeasureReport: a searchset Bundle
// of the region's and districts' MeasureReports, or those whose subject
// matches subject:identifier=[system|]id.
func (r *Region) fhirMeasureReports(w http.ResponseWriter, req *http.Request) {
	q, ok := r.fhirQuery(w, req, "subject:identifier")
	if !ok {
		return
	}
	v := r.View()
	docs, err := MeasureReports(&v, q.Subject)
	if err != nil {
		r.log.Error("fhir measure reports", "err", err)
		writeOutcome(w, http.StatusInternalServerError, report.IssueException, "could not build the reports: "+err.Error())
		return
	}
	b, err := report.Bundle(report.BundleSearchSet, v.AsOf, docs...)
	if err != nil {
		r.log.Error("fhir bundle", "err", err)
		writeOutcome(w, http.StatusInternalServerError, report.IssueException, "could not build the bundle: "+err.Error())
		return
	}
	writeFHIR(w, b, q.Pretty)
}

// fhirMeasure serves GET /fhir/Measure: the Measure the reports answer.
func (r *Region) fhirMeasure(w http.ResponseWriter, req *http.Request) {
	q, ok := r.fhirQuery(w, req)
	if !ok {
		return
	}
	b, err := report.MeasureDefinition()
	if err != nil {
		writeOutcome(w, http.StatusInternalServerError, report.IssueException, err.Error())
		return
	}
	writeFHIR(w, b, q.Pretty)
}

// fhirQuery checks Accept and the query; on a refusal it has answered
// with an OperationOutcome and returns false.
func (r *Region) fhirQuery(w http.ResponseWriter, req *http.Request, params ...string) (report.FHIRQuery, bool) {
	if !report.AcceptsFHIRJSON(req.Header.Get("Accept")) {
		writeOutcome(w, http.StatusNotAcceptable, report.IssueNotSupported, "only application/fhir+json is served")
		return report.FHIRQuery{}, false
	}
	q, err := report.ParseFHIRQuery(req.URL.RawQuery, params...)
	if err != nil {
		var qe *report.QueryError
		if errors.As(err, &qe) {
			writeOutcome(w, qe.Status, qe.Code, qe.Error())
		} else {
			writeOutcome(w, http.StatusBadRequest, report.IssueInvalid, err.Error())
		}
		return q, false
	}
	return q, true
}

// MeasureReports renders the region's MeasureReport and each district's
// (region first, districts in config order), keeping those whose subject
// identifier matches subject (all when nil).
func MeasureReports(v *View, subject *report.Token) ([][]byte, error) {
	reporter := report.Party{System: report.RegionIDSystem, ID: v.Region, Name: "Health authority of region " + v.Region}
	byDistrict := map[string][]*report.Report{}
	var all []*report.Report
	for i := range v.Hospitals {
		h := &v.Hospitals[i]
		if h.Status != StatusReporting && h.Status != StatusPartial {
			continue
		}
		for j := range h.Parts {
			p := &h.Parts[j]
			if p.Status == StatusReporting && p.Report != nil {
				all = append(all, p.Report)
				byDistrict[h.District] = append(byDistrict[h.District], p.Report)
			}
		}
	}
	var out [][]byte
	match := func(system, id string) bool { return subject == nil || subject.Matches(system, id) }
	if match(report.RegionIDSystem, v.Region) {
		a := report.Aggregate{
			Subject:    report.Party{System: report.RegionIDSystem, ID: v.Region, Name: "Region " + v.Region},
			Reporter:   reporter,
			AsOf:       v.AsOf,
			Reports:    all,
			Registered: v.Totals.Hospitals,
		}
		if len(v.Districts) > 0 {
			a.Districts = map[string]report.Party{}
			names := map[string]string{}
			for _, d := range v.Districts {
				names[d.ID] = d.Name
			}
			for _, h := range v.Hospitals {
				if h.District != "" {
					a.Districts[h.ID] = report.Party{System: report.DistrictIDSystem, ID: h.District, Name: names[h.District]}
				}
			}
		}
		doc, err := report.AggregateMeasureReport(a)
		if err != nil {
			return nil, err
		}
		out = append(out, doc)
	}
	for _, d := range v.Districts {
		if !match(report.DistrictIDSystem, d.ID) {
			continue
		}
		doc, err := report.AggregateMeasureReport(report.Aggregate{
			Subject:    report.Party{System: report.DistrictIDSystem, ID: d.ID, Name: d.Name},
			Reporter:   reporter,
			AsOf:       v.AsOf,
			Reports:    byDistrict[d.ID],
			Registered: d.Totals.Hospitals,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, doc)
	}
	return out, nil
}

func writeFHIR(w http.ResponseWriter, b []byte, pretty bool) {
	if pretty {
		var ind bytes.Buffer
		if json.Indent(&ind, b, "", "  ") == nil {
			b = ind.Bytes()
		}
	}
	w.Header().Set("Content-Type", fhirJSON+"; charset=utf-8")
	_, _ = w.Write(append(b, '\n'))
}

func writeOutcome(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", fhirJSON+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(report.OperationOutcome(code, msg), '\n'))
}
