package region

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/icugate/icugate/report"
)

//go:embed page.html
var pageHTML string

// regionJS draws the page's charts. It is served from /assets/ so the
// page's Content-Security-Policy can forbid inline scripts and every
// other origin (no CDN: the authority's network may be closed).
//
//go:embed web/region.js
var regionJS []byte

// pageCSP: scripts only from this server, no inline script; the page's
// own <style> block is inline.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves the instance's API:
//
//	GET /api/v1/region        the View: totals, indicators, districts, hospital statuses, who does not report
//	GET /api/v1/districts     the districts' figures
//	GET /api/v1/not-reporting the partial, silent and never-reported hospitals with the reason per part
//	GET /api/v1/hospitals     every hospital with its parts and their latest accepted reports
//	POST /api/v1/reports      a signed report, for gateways that POST (report.http_url)
//	GET /api/v1/trends        figures over time from InfluxDB (history.go: metric, by, district, hospital, from, to, step)
//	GET /api/v1/export        a table as CSV or XLSX (export.go: table, format)
//	GET /fhir/MeasureReport   the region's and districts' MeasureReports (searchset Bundle; subject:identifier)
//	GET /fhir/Measure         the Measure they answer
//	GET /metrics              Prometheus self-metrics
//	GET /                     an HTML page: region, districts with charts, who does not report, hospitals
//	GET /assets/region.js     the page's chart script
func (r *Region) Handler() http.Handler {
	page := template.Must(template.New("page").Funcs(pageFuncs).Parse(pageHTML))
	hr := historyRoutes{r: r}
	if r.cfg.InfluxDB != nil {
		h, err := NewHistory(r.cfg.InfluxDB)
		if err != nil {
			// New built the sink from the same block, so this is rare;
			// the routes then say there is no history.
			r.log.Error("history: influxdb", "err", err)
		} else {
			hr.hist = h
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/trends", hr.trends)
	mux.HandleFunc("GET /api/v1/export", hr.export)
	mux.HandleFunc("GET /fhir/MeasureReport", r.fhirMeasureReports)
	mux.HandleFunc("GET /fhir/Measure", r.fhirMeasure)
	mux.HandleFunc("GET /assets/region.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(regionJS)
	})
	mux.HandleFunc("GET /api/v1/region", func(w http.ResponseWriter, _ *http.Request) {
		v := r.View()
		v.withoutReports()
		writeJSON(w, v)
	})
	mux.HandleFunc("GET /api/v1/districts", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, r.View().Districts)
	})
	mux.HandleFunc("GET /api/v1/not-reporting", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, r.View().NotReporting)
	})
	mux.HandleFunc("GET /api/v1/hospitals", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, r.View().Hospitals)
	})
	mux.HandleFunc("POST /api/v1/reports", r.postReport)
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", pageCSP)
		// Rendered into a buffer: a template error must not leave half a
		// page behind a 200.
		var b bytes.Buffer
		if err := page.Execute(&b, newPageModel(r.View())); err != nil {
			r.log.Error("render page", "err", err)
			http.Error(w, "page error", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(b.Bytes())
	})
	return mux
}

// pageModel is what page.html renders: the view, and the region and its
// districts as rows of one table.
type pageModel struct {
	View
	DistrictRows []districtRow
}

// districtRow is one row of the page's district table.
type districtRow struct {
	ID, Name   string
	Totals     Totals
	Indicators Indicators
	// NotInFull counts hospitals partial, silent or never reported.
	NotInFull int
}

func newPageModel(v View) pageModel {
	row := func(id, name string, t Totals, in Indicators) districtRow {
		return districtRow{ID: id, Name: name, Totals: t, Indicators: in, NotInFull: t.Partial + t.Silent + t.Never}
	}
	m := pageModel{View: v, DistrictRows: []districtRow{row(v.Region, "whole region", v.Totals, v.Indicators)}}
	for _, d := range v.Districts {
		m.DistrictRows = append(m.DistrictRows, row(d.ID, d.Name, d.Totals, d.Indicators))
	}
	return m
}

// pageFuncs are the page template's helpers.
var pageFuncs = template.FuncMap{
	"mul100": func(f float64) float64 { return f * 100 },
	"pct":    func(f float64) string { return fmt.Sprintf("%.2f%%", f*100) },
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// postReport takes one signed envelope. The signature is the
// authentication: the report is decided exactly like one received over
// MQTT, on the topic its own region and hospital name. The status tells a
// retrying sender what to do: 202 accepted, 200 already known, 409 replay
// or stale (do not retry), 422 rejected, 400 malformed, 413 too large.
func (r *Region) postReport(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, report.MaxEnvelopeBytes))
	if err != nil {
		http.Error(w, "report too large or unreadable: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	// The topic is what the report claims; the key check still ties the
	// hospital to its key.
	var claim struct {
		Report struct {
			Hospital struct {
				ID     string `json:"id"`
				Region string `json:"region"`
			} `json:"hospital"`
		} `json:"report"`
		Signature struct {
			KeyID string `json:"key_id"`
		} `json:"signature"`
	}
	_ = json.Unmarshal(body, &claim)
	// A POST has no topic: its part is the one its key is registered to
	// (the key, checked with the signature, is what binds a report to a
	// part; a claim naming another hospital is still a mismatch).
	part := report.MainPart
	if _, p, _, ok := r.keys.Load().Lookup(claim.Signature.KeyID); ok {
		part = p
	}
	topic := report.PartTopic(claim.Report.Hospital.Region, claim.Report.Hospital.ID, part)
	v := r.decide(req.Context(), item{topic: topic, payload: body, src: Posted})
	status := http.StatusUnprocessableEntity
	switch v.Outcome {
	case Accepted:
		status = http.StatusAccepted
	case Duplicate:
		status = http.StatusOK
	case Replay, Stale:
		status = http.StatusConflict
	case Malformed:
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	msg := ""
	if v.Err != nil {
		msg = v.Err.Error()
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"outcome": v.Outcome, "hospital": v.Hospital, "part": v.Part, "sequence": v.Sequence, "error": msg})
}
