package region

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzNewRoutes: any query string on the trend, export and FHIR routes
// (no InfluxDB: the parsers and the refusals are what is fuzzed) is
// answered below 500, with a body, and never panics.
func FuzzNewRoutes(f *testing.F) {
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	hr := newHistoryRegion(f, nil, now)
	hr.feed(f, now, 0)
	h := hr.r.Handler()
	for _, s := range []string{
		"0 by=hospital&from=400d&step=5h", "1 table=all&format=xlsx", "1 table=trend&from=2d", "2 subject:identifier=urn:icugate:district|D01",
		"2 _format=xml", "0 %zz", "1 table=hospitals&format=csv&x=", "3 _pretty=true",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		route, raw, _ := strings.Cut(in, " ")
		path := map[string]string{"0": "/api/v1/trends", "1": "/api/v1/export", "2": "/fhir/MeasureReport", "3": "/fhir/Measure"}[route]
		if path == "" {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path, req.URL.RawQuery = path, raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Body.Len() == 0 {
			t.Fatalf("%s?%s: %d %s", path, raw, rec.Code, rec.Body)
		}
	})
}
