package api

import (
	"net/http"

	"github.com/icugate/icugate/report"
)

// getCapacityFHIR serves the capacity counts as a FHIR R4 MeasureReport in
// the style of the HL7 SANER bed-capacity measures, for platforms that
// speak FHIR. It is built from the same snapshot as /api/v1/capacity.
func (s *Server) getCapacityFHIR(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, "unknown query parameter", r.URL.Path+": takes no parameters")
		return
	}
	snap := s.backend.Snapshot()
	body, err := report.FHIR(&snap, s.backend.Site())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "capacity not available", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
