package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/pipeline"
)

const bearer = "Bearer " + testToken

// state is what a mutation could change: devices, beds and counts.
func (f *fixture) state(t *testing.T) string {
	t.Helper()
	s := f.b.Snapshot()
	b, err := json.Marshal(struct {
		D []pipeline.DeviceStatus
		B []pipeline.BedStatus
		C pipeline.CapacityReport
	}{s.Devices, s.Beds, s.Capacity})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMaintenanceOnAndOff(t *testing.T) {
	f := newFixture(t, withToken())
	w := f.do(t, "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on": true}`,
		"Authorization", bearer, "Content-Type", "application/json")
	res := decode[deviceResult](t, w)
	if w.Code != 200 || res.Device.State != pipeline.Maintenance || res.Device.MaintenanceBy != "biomed" {
		t.Fatalf("maintenance on: %d %+v", w.Code, res)
	}
	if d := f.b.deviceState(t, "vent-a2"); d.State != pipeline.Maintenance {
		t.Fatalf("engine: vent-a2 is %s", d.State)
	}
	beds := decode[struct {
		Beds []pipeline.BedStatus `json:"beds"`
	}](t, f.do(t, "GET", "/api/v1/beds?state=degraded&unit=icu-a", ""))
	if len(beds.Beds) != 2 || beds.Beds[0].ID != "icu-a-2" {
		t.Errorf("icu-a-2 should be degraded now: %+v", beds.Beds)
	}
	w = f.do(t, "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on": false}`, "Authorization", bearer)
	if res := decode[deviceResult](t, w); w.Code != 200 || res.Device.State != pipeline.Standby {
		t.Fatalf("maintenance off: %d %+v", w.Code, res)
	}
	log := f.b.auditLog()
	if len(log) != 2 {
		t.Fatalf("audit entries: %+v", log)
	}
	e := log[0]
	if e.Who != "biomed" || e.Action != "maintenance" || e.Device != "vent-a2" || e.Detail != "on=true" ||
		e.Status != 200 || e.Result != "ok" || e.Remote != "192.0.2.7:41000" || e.Time.IsZero() {
		t.Errorf("audit entry: %+v", e)
	}
}

func TestAssignmentMovesDevice(t *testing.T) {
	f := newFixture(t, withToken())
	// The spare ventilator equips icu-a-4, which had a monitor only.
	w := f.do(t, "PUT", "/api/v1/devices/vent-p1/assignment", `{"at":"icu-a-4"}`, "Authorization", bearer)
	res := decode[deviceResult](t, w)
	if w.Code != 200 || res.Device.At != "icu-a-4" || res.Device.AtType != "bed" || res.Device.Unit != "icu-a" {
		t.Fatalf("move: %d %+v", w.Code, res)
	}
	c := decode[capacityView](t, f.do(t, "GET", "/api/v1/capacity", ""))
	if c.Units[0].BedsAvailable != 3 || c.Hospital.ConvertibleReady != 0 {
		t.Errorf("after move: icu-a available=%d, convertible ready=%d", c.Units[0].BedsAvailable, c.Hospital.ConvertibleReady)
	}
	log := f.b.auditLog()
	if len(log) != 1 || log[0].Detail != "at=icu-a-4" || log[0].Result != "ok" {
		t.Errorf("audit: %+v", log)
	}
}

func TestMutationsWithoutTokensAreAnonymous(t *testing.T) {
	f := newFixture(t, Config{})
	w := f.do(t, "PUT", "/api/v1/devices/mon-a4/maintenance", `{"on":true}`)
	if w.Code != 200 {
		t.Fatalf("no token configured: %d %s", w.Code, w.Body)
	}
	if log := f.b.auditLog(); len(log) != 1 || log[0].Who != "anonymous" {
		t.Errorf("audit: %+v", log)
	}
	if d := f.b.deviceState(t, "mon-a4"); d.MaintenanceBy != "anonymous" {
		t.Errorf("maintenance by %q", d.MaintenanceBy)
	}
}

func TestBadMutationsChangeNothing(t *testing.T) {
	huge := `{"on": true, "pad": "` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name, method, path, body string
		header                   []string
		code                     int
		reason                   string
	}{
		{"missing token", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true}`, nil, 401, "Authorization: Bearer"},
		{"wrong token", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true}`, []string{"Authorization", "Bearer nope"}, 403, "not a configured API token"},
		{"token prefix", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true}`, []string{"Authorization", "Bearer " + testToken[:4]}, 403, "not a configured"},
		{"basic auth", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true}`, []string{"Authorization", "Basic Zm9vOmJhcg=="}, 401, "expected Authorization: Bearer"},
		{"cross origin", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true}`, []string{"Authorization", bearer, "Origin", "http://evil.example"}, 403, "evil.example"},
		{"cross site", "POST", "/api/v1/reload", ``, []string{"Authorization", bearer, "Sec-Fetch-Site", "cross-site"}, 403, "cross-origin"},
		{"unknown device", "PUT", "/api/v1/devices/vent-zz/maintenance", `{"on":true}`, []string{"Authorization", bearer}, 404, `device "vent-zz" is not configured`},
		{"bad json", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":tru}`, []string{"Authorization", bearer}, 400, "at byte"},
		{"unknown field", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true,"by":"me"}`, []string{"Authorization", bearer}, 400, `unknown field "by"`},
		{"wrong type", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":"yes"}`, []string{"Authorization", bearer}, 400, `field "on" must be true or false, got JSON string`},
		{"missing field", "PUT", "/api/v1/devices/vent-a1/maintenance", `{}`, []string{"Authorization", bearer}, 400, `field "on" is required`},
		{"trailing data", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true} {"on":false}`, []string{"Authorization", bearer}, 400, "after the JSON object"},
		{"empty body", "PUT", "/api/v1/devices/vent-a1/maintenance", ``, []string{"Authorization", bearer}, 400, "expected a JSON object"},
		{"truncated", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":`, []string{"Authorization", bearer}, 400, "middle of the JSON"},
		{"array", "PUT", "/api/v1/devices/vent-a1/maintenance", `[true]`, []string{"Authorization", bearer}, 400, "the body must be a JSON object, got JSON array"},
		{"huge body", "PUT", "/api/v1/devices/vent-a1/maintenance", huge, []string{"Authorization", bearer}, 413, "exceeds 65536 bytes"},
		{"text body", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true}`, []string{"Authorization", bearer, "Content-Type", "text/plain"}, 415, "application/json"},
		{"move to unknown bed", "PUT", "/api/v1/devices/vent-a1/assignment", `{"at":"icu-a-99"}`, []string{"Authorization", bearer}, 422, `"icu-a-99" is neither a bed nor a pool`},
		{"move unknown device", "PUT", "/api/v1/devices/nope/assignment", `{"at":"icu-a-2"}`, []string{"Authorization", bearer}, 404, `device "nope"`},
		{"move without at", "PUT", "/api/v1/devices/vent-a1/assignment", `{"at":""}`, []string{"Authorization", bearer}, 400, `field "at" is required`},
		{"move without token", "PUT", "/api/v1/devices/vent-a1/assignment", `{"at":"icu-a-2"}`, nil, 401, "needs an API token"},
		{"reload without token", "POST", "/api/v1/reload", ``, nil, 401, "needs an API token"},
		{"reload with body", "POST", "/api/v1/reload", `{"force":true}`, []string{"Authorization", bearer}, 400, `unknown field "force"`},
		{"duplicate key", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true,"on":false}`, []string{"Authorization", bearer}, 400, `field "on" appears twice`},
		{"duplicate key escaped", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":false,"\u006fn":true}`, []string{"Authorization", bearer}, 400, `field "on" appears twice`},
		{"case variant", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true,"On":false}`, []string{"Authorization", bearer}, 400, `unknown field "On": field names are case-sensitive, this one is "on"`},
		{"upper case", "PUT", "/api/v1/devices/vent-a1/maintenance", `{"ON":true}`, []string{"Authorization", bearer}, 400, `unknown field "ON"`},
		{"duplicate target", "PUT", "/api/v1/devices/vent-p1/assignment", `{"at":"icu-a-4","at":"central"}`, []string{"Authorization", bearer}, 400, `field "at" appears twice`},
		{"case variant target", "PUT", "/api/v1/devices/vent-p1/assignment", `{"At":"icu-a-4"}`, []string{"Authorization", bearer}, 400, `unknown field "At"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, withToken())
			before := f.state(t)
			w := f.do(t, c.method, c.path, c.body, c.header...)
			e := decode[apiError](t, w)
			if w.Code != c.code || e.Error == "" || !strings.Contains(e.Reason, c.reason) {
				t.Errorf("got %d %+v, want %d with reason containing %q", w.Code, e, c.code, c.reason)
			}
			if c.code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if after := f.state(t); after != before {
				t.Errorf("a rejected call changed the snapshot")
			}
			// Refused before the backend: counted, not in the audit trail.
			if log := f.b.auditLog(); len(log) != 0 {
				t.Errorf("audit: %+v, want nothing", log)
			}
			if n := metricValue(f.srv.metrics.refused.WithLabelValues(actionOf(c.path), e.Error)); n != 1 {
				t.Errorf("icugate_http_mutations_refused_total{action=%q,reason=%q} = %v, want 1", actionOf(c.path), e.Error, n)
			}
			if strings.Contains(e.Reason, testToken) {
				t.Error("the token leaked into an error")
			}
		})
	}
}

// actionOf is the audit action of a mutating route.
func actionOf(path string) string {
	switch {
	case strings.HasSuffix(path, "/maintenance"):
		return "maintenance"
	case strings.HasSuffix(path, "/assignment"):
		return "assignment"
	}
	return "reload"
}

func TestReload(t *testing.T) {
	f := newFixture(t, withToken())
	w := f.do(t, "POST", "/api/v1/reload", "", "Authorization", bearer)
	if w.Code != 200 {
		t.Fatalf("reload: %d %s", w.Code, w.Body)
	}
	w = f.do(t, "POST", "/api/v1/reload", "{}", "Authorization", bearer)
	if w.Code != 200 {
		t.Fatalf("reload with {}: %d %s", w.Code, w.Body)
	}
	f.b.mu.Lock()
	f.b.reload = errTestConfig
	f.b.mu.Unlock()
	w = f.do(t, "POST", "/api/v1/reload", "", "Authorization", bearer)
	e := decode[apiError](t, w)
	if w.Code != http.StatusUnprocessableEntity || len(e.Problems) != 2 || !strings.HasPrefix(e.Problems[1], "site.yaml:30:") ||
		e.Reason != "new config rejected; the running config stays in force; 2 problem(s)" {
		t.Fatalf("rejected reload: %d %+v", w.Code, e)
	}
	log := f.b.auditLog()
	if len(log) != 3 || log[2].Action != "reload" || log[2].Status != 422 || !strings.Contains(log[2].Result, "2 problem") {
		t.Errorf("audit: %+v", log)
	}
}

// lineCounter counts log lines and keeps the last.
type lineCounter struct {
	mu    sync.Mutex
	lines int
	last  string
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines += bytes.Count(p, []byte("\n"))
	c.last = string(p)
	return len(p), nil
}

func (c *lineCounter) get() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines, c.last
}

// TestRefusedFloodIsCounted sends 10,000 bad PUTs (no token, a wrong one,
// bad JSON, an unknown device) while an engineer sets maintenance: the
// engineer's call is served and audited; the bad ones leave no audit
// entries, a bounded number of log lines, and their counts.
func TestRefusedFloodIsCounted(t *testing.T) {
	const bad, workers = 10_000, 4
	logs := &lineCounter{}
	var clock atomic.Int64
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	b := newTestBackend(t)
	srv, err := New(withToken(), b, Deps{
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() },
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, b: b, h: srv.Handler()}
	kinds := []struct {
		path, body string
		header     []string
		reason     string
	}{
		{"/api/v1/devices/vent-a1/maintenance", `{"on":true}`, nil, "missing token"},
		{"/api/v1/devices/vent-a1/maintenance", `{"on":true}`, []string{"Authorization", "Bearer guess"}, "token not accepted"},
		{"/api/v1/devices/vent-a1/maintenance", `{"on":true,"On":false}`, []string{"Authorization", bearer}, "bad JSON"},
		{"/api/v1/devices/nope/maintenance", `{"on":true}`, []string{"Authorization", bearer}, "unknown device"},
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	halfway := make(chan struct{})
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= bad {
					return
				}
				if i == bad/2 {
					close(halfway)
				}
				k := kinds[i%int64(len(kinds))]
				if w := f.do(t, "PUT", k.path, k.body, k.header...); w.Code < 400 || w.Code >= 500 {
					t.Errorf("bad PUT %d: %d", i, w.Code)
					return
				}
			}
		})
	}
	<-halfway
	w := f.do(t, "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on":true}`, "Authorization", bearer)
	wg.Wait()
	if w.Code != 200 {
		t.Fatalf("the engineer's PUT amid the flood: %d %s", w.Code, w.Body)
	}
	if log := b.auditLog(); len(log) != 1 || log[0].Device != "vent-a2" || log[0].Status != 200 {
		t.Fatalf("audit trail: %d entries, want the engineer's only: %+v", len(log), log[:min(len(log), 3)])
	}
	for _, k := range kinds {
		if n := metricValue(srv.metrics.refused.WithLabelValues("maintenance", k.reason)); n != bad/float64(len(kinds)) {
			t.Errorf("refused %q: %v, want %d", k.reason, n, bad/len(kinds))
		}
	}
	// One line for the applied call, at most the limiter's for the rest.
	lines, _ := logs.get()
	t.Logf("%d refused PUTs and one applied: %d audit entries, %d log lines", bad, len(b.auditLog()), lines)
	if lines > 1+20 {
		t.Errorf("%d log lines for %d refused calls", lines, bad)
	}
	// The next window's first line says how many were left out.
	clock.Add(int64(time.Minute))
	f.do(t, "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true}`)
	if _, last := logs.get(); !strings.Contains(last, fmt.Sprintf("suppressed=%d", bad-(lines-1))) {
		t.Errorf("next line does not count the suppressed ones: %s", last)
	}
}
