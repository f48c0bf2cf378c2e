package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/icugate/icugate/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "s3cret-token"

type fixture struct {
	srv *Server
	b   *testBackend
	h   http.Handler
	reg *prometheus.Registry
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	b := newTestBackend(t)
	reg := prometheus.NewRegistry()
	srv, err := New(cfg, b, Deps{Registerer: reg, Gatherer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{srv: srv, b: b, h: srv.Handler(), reg: reg}
}

func withToken() Config { return Config{Tokens: []Token{{Name: "biomed", Secret: testToken}}} }

// testHost is the Host of the fixture's requests: the gateway as its
// dashboard on the same machine reaches it.
const testHost = "localhost:8080"

// newRequest is a request to the fixture from a peer on the LAN; header
// pairs follow the body ("Host" sets the Host).
func newRequest(ctx context.Context, method, path, body string, header ...string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequestWithContext(ctx, method, path, rd)
	r.RemoteAddr = "192.0.2.7:41000"
	r.Host = testHost
	for i := 0; i+1 < len(header); i += 2 {
		if http.CanonicalHeaderKey(header[i]) == "Host" {
			r.Host = header[i+1]
			continue
		}
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// do serves one request; header pairs follow the body.
func (f *fixture) do(t testing.TB, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, newRequest(context.Background(), method, path, body, header...))
	return w
}

// metricValue sums the samples of a counter or gauge, or of a vector of
// them.
func metricValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var sum float64
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err == nil {
			sum += d.GetCounter().GetValue() + d.GetGauge().GetValue()
		}
	}
	return sum
}

func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v\n%s", w.Header().Get("Content-Type"), err, w.Body)
	}
	return v
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t, Config{})
	if w := f.do(t, "GET", "/healthz", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Fatalf("healthz: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "GET", "/readyz", ""); w.Code != 200 {
		t.Fatalf("readyz ready: %d %s", w.Code, w.Body)
	}
	f.b.mu.Lock()
	f.b.ready = io.ErrUnexpectedEOF
	f.b.mu.Unlock()
	w := f.do(t, "GET", "/readyz", "")
	e := decode[apiError](t, w)
	if w.Code != http.StatusServiceUnavailable || e.Reason != io.ErrUnexpectedEOF.Error() {
		t.Fatalf("readyz not ready: %d %+v", w.Code, e)
	}
}

func TestMetricsExposeRequests(t *testing.T) {
	f := newFixture(t, Config{})
	f.do(t, "GET", "/api/v1/devices/vent-a1", "")
	f.do(t, "GET", "/api/v1/devices/nope", "")
	w := f.do(t, "GET", "/metrics", "")
	if w.Code != 200 {
		t.Fatalf("metrics: %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`icugate_http_requests_total{code="200",method="GET",route="/api/v1/devices/{id}"} 1`,
		`icugate_http_requests_total{code="404",method="GET",route="/api/v1/devices/{id}"} 1`,
		`icugate_http_request_duration_seconds_bucket{method="GET",route="/api/v1/devices/{id}"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestTwoServersNeedTwoRegistries(t *testing.T) {
	b := newTestBackend(t)
	reg := prometheus.NewRegistry()
	if _, err := New(Config{}, b, Deps{Registerer: reg}); err != nil {
		t.Fatalf("first: %v", err)
	}
	if _, err := New(Config{}, b, Deps{Registerer: reg}); err == nil {
		t.Fatal("second server on the same registry: want an error")
	}
	if _, err := New(Config{}, b, Deps{}); err != nil {
		t.Fatalf("own registry: %v", err)
	}
	if _, err := New(Config{Tokens: []Token{{Name: "x"}}}, b, Deps{}); err == nil {
		t.Fatal("empty token secret: want an error")
	}
}

type devicesDoc struct {
	Devices []DeviceRow `json:"devices"`
}

func TestListDevicesFilters(t *testing.T) {
	f := newFixture(t, Config{})
	all := decode[devicesDoc](t, f.do(t, "GET", "/api/v1/devices", ""))
	if len(all.Devices) != len(f.b.site.Devices) {
		t.Fatalf("devices: got %d, want %d", len(all.Devices), len(f.b.site.Devices))
	}
	if d := all.Devices[0]; d.Transport != "modbus-tcp" || d.Profile == "" || d.Vendor != "Acme" {
		t.Errorf("device row lacks config facts: %+v", d.DeviceInfo)
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"kind=ventilator", []string{"vent-a1", "vent-a2", "vent-a3", "vent-c1", "vent-p1"}},
		{"kind=ventilator&unit=icu-a", []string{"vent-a1", "vent-a2", "vent-a3"}},
		{"state=in_use", []string{"mon-a1", "vent-a1"}},
		{"state=in_use,standby&unit=ccu", []string{"mon-c1", "vent-c1", "crrt-1"}},
		{"kind=ecmo&kind=crrt", []string{"crrt-1", "ecmo-1"}},
	}
	for _, c := range cases {
		w := f.do(t, "GET", "/api/v1/devices?"+c.query, "")
		var got []string
		for _, d := range decode[devicesDoc](t, w).Devices {
			got = append(got, d.ID)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", c.query, got, want)
		}
	}
}

func TestReadRoutesRejectBadQueries(t *testing.T) {
	f := newFixture(t, Config{})
	cases := []struct{ path, reason string }{
		{"/api/v1/devices?state=broken", `state "broken" is not one of`},
		{"/api/v1/devices?unit=icu-z", `unit "icu-z" is not one of icu-a, ccu, conv`},
		{"/api/v1/devices?kind=toaster", `kind "toaster"`},
		{"/api/v1/devices?color=red", `parameter "color" is not one of kind, state, unit`},
		{"/api/v1/beds?state=full", `state "full"`},
		{"/api/v1/capacity?x=1", "takes no parameters"},
	}
	for _, c := range cases {
		w := f.do(t, "GET", c.path, "")
		e := decode[apiError](t, w)
		if w.Code != http.StatusBadRequest || !strings.Contains(e.Reason, c.reason) {
			t.Errorf("%s: %d %+v, want 400 with %q", c.path, w.Code, e, c.reason)
		}
	}
}

type deviceDoc struct {
	pipeline.DeviceStatus
	DeviceInfo
	Values  []DeviceValue         `json:"values"`
	History []pipeline.Transition `json:"history"`
	Usage   []UsageDay            `json:"usage"`
}

func TestGetDevice(t *testing.T) {
	f := newFixture(t, Config{})
	w := f.do(t, "GET", "/api/v1/devices/vent-a1", "")
	d := decode[deviceDoc](t, w)
	if w.Code != 200 || d.ID != "vent-a1" || d.State != pipeline.InUse || d.At != "icu-a-1" || d.Transport != "modbus-tcp" {
		t.Fatalf("device: %d %+v", w.Code, d)
	}
	if len(d.Values) != 4 || d.Values[3].Unit != "h" || d.Values[3].MDC == "" || d.Values[2].Value != 1 {
		t.Errorf("values: %+v", d.Values)
	}
	if len(d.History) == 0 || d.History[0].To != "in_use" {
		t.Errorf("history: %+v", d.History)
	}
	if len(d.Usage) != 7 {
		t.Errorf("usage days: %d", len(d.Usage))
	}
	w = f.do(t, "GET", "/api/v1/devices/no-such", "")
	if e := decode[apiError](t, w); w.Code != 404 || !strings.Contains(e.Reason, `"no-such"`) {
		t.Errorf("unknown device: %d %+v", w.Code, e)
	}
}

func TestBedsAndCapacity(t *testing.T) {
	f := newFixture(t, Config{})
	beds := decode[struct {
		Beds []pipeline.BedStatus `json:"beds"`
	}](t, f.do(t, "GET", "/api/v1/beds?unit=icu-a", ""))
	states := map[string]string{}
	for _, b := range beds.Beds {
		states[b.ID] = b.State.String()
	}
	want := map[string]string{"icu-a-1": "occupied", "icu-a-2": "available", "icu-a-3": "available", "icu-a-4": "degraded"}
	if !maps(states, want) {
		t.Fatalf("beds: %v, want %v", states, want)
	}

	w := f.do(t, "GET", "/api/v1/capacity", "")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"as_of", "verified", "hospital", "classes", "units", "readiness", "policy"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("capacity document lacks %q", k)
		}
	}
	c := decode[capacityView](t, w)
	h := c.Hospital
	if h.BedsTotal != 8 || h.BedsOccupied != 1 || h.BedsAvailable != 3 || h.BedsDegraded != 4 || !c.Verified {
		t.Errorf("hospital counts: %+v verified=%v", h, c.Verified)
	}
	if h.ConvertibleReady != 1 || h.Kinds["ventilator"].InUse != 1 || h.Kinds["ecmo"].Standby != 1 {
		t.Errorf("readiness/kinds: ready=%d kinds=%+v", h.ConvertibleReady, h.Kinds)
	}
	if c.Policy.ICUBeds != 6 || !c.Policy.TargetsKnown {
		t.Errorf("policy: %+v", c.Policy)
	}

	// The FHIR rendering of the same counts.
	w = f.do(t, "GET", "/api/v1/capacity/fhir", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("fhir: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var mr struct {
		ResourceType string `json:"resourceType"`
		Status       string `json:"status"`
		Group        []struct {
			Population []struct {
				Code struct {
					Coding []struct {
						Code string `json:"code"`
					} `json:"coding"`
				} `json:"code"`
				Count int `json:"count"`
			} `json:"population"`
		} `json:"group"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &mr); err != nil {
		t.Fatal(err)
	}
	if mr.ResourceType != "MeasureReport" || len(mr.Group) == 0 {
		t.Fatalf("fhir document: %s", w.Body.String())
	}
	counts := map[string]int{}
	for _, g := range mr.Group {
		for _, p := range g.Population {
			if len(p.Code.Coding) > 0 {
				counts[p.Code.Coding[0].Code] = p.Count
			}
		}
	}
	if counts["numICUBedsConfigured"] != 8 || counts["numICUBeds"] != 4 || counts["numICUBedsOcc"] != 1 {
		t.Errorf("fhir populations %v, want numICUBedsConfigured 8, numICUBeds 4, numICUBedsOcc 1", counts)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSiteView(t *testing.T) {
	f := newFixture(t, Config{})
	s := decode[siteView](t, f.do(t, "GET", "/api/v1/site", ""))
	if s.Hospital.Name != "Test Hospital" || len(s.Units) != 3 || s.Units[1].Subtype != "CCU" || len(s.Pools) != 2 {
		t.Fatalf("site: %+v", s)
	}
	if !slices.Equal(s.Units[0].Requires, []string{"monitor", "ventilator"}) {
		t.Errorf("requires: %v", s.Units[0].Requires)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	f := newFixture(t, Config{})
	if w := f.do(t, "GET", "/api/v1/nothing", ""); w.Code != 404 || decode[apiError](t, w).Reason == "" {
		t.Errorf("unknown api route: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "DELETE", "/api/v1/devices/vent-a1", ""); w.Code != 405 {
		t.Errorf("DELETE device: %d", w.Code)
	}
	if w := f.do(t, "POST", "/index.html", "x"); w.Code != 405 {
		t.Errorf("POST dashboard: %d", w.Code)
	}
}
