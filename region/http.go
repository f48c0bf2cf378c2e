package region

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/icugate/icugate/report"
)

//go:embed page.html
var pageHTML string

// Handler serves the instance's API:
//
//	GET /api/v1/region     the View: totals, indicators, hospital statuses
//	GET /api/v1/hospitals  every hospital with its latest accepted report
//	POST /api/v1/reports   a signed report, for gateways that POST (report.http_url)
//	GET /metrics           Prometheus self-metrics
//	GET /                  an HTML table of the hospitals
func (r *Region) Handler() http.Handler {
	page := template.Must(template.New("page").Funcs(template.FuncMap{"mul100": func(f float64) float64 { return f * 100 }}).Parse(pageHTML))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/region", func(w http.ResponseWriter, _ *http.Request) {
		v := r.View()
		for i := range v.Hospitals {
			v.Hospitals[i].Report = nil
		}
		writeJSON(w, v)
	})
	mux.HandleFunc("GET /api/v1/hospitals", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, r.View().Hospitals)
	})
	mux.HandleFunc("POST /api/v1/reports", r.postReport)
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, r.View()); err != nil {
			r.log.Error("render page", "err", err)
		}
	})
	return mux
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
	}
	_ = json.Unmarshal(body, &claim)
	topic := report.Topic(claim.Report.Hospital.Region, claim.Report.Hospital.ID)
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
	_ = json.NewEncoder(w).Encode(map[string]any{"outcome": v.Outcome, "hospital": v.Hospital, "sequence": v.Sequence, "error": msg})
}
