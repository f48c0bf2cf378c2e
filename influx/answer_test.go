package influx

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/internal/influxtest"
)

func TestCheckedDoer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, path string
		status             int
		ctype, body        string
		// shows is what the error must quote; "" when the answer passes.
		shows string
	}{
		{"204 no content", "POST", "/api/v2/write", 204, "", "", ""},
		{"200 empty", "POST", "/api/v2/write", 200, "", "", ""},
		{"200 html portal", "POST", "/api/v2/write", 200, "text/html; charset=utf-8", "<html><body>Sign in to the guest network</body></html>", "text/html body (\"<html><body>Sign in"},
		{"200 json", "POST", "/api/v2/write", 200, "application/json", `{"ok":true}`, "application/json body"},
		{"201 text", "POST", "/write", 201, "text/plain", "created", "HTTP 201 with a text/plain body (\"created\")"},
		{"500 is the library's to read", "POST", "/api/v2/write", 500, "text/plain", "boom", ""},
		{"not a write", "GET", "/ping", 200, "application/json", `{"status":"pass"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.ctype != "" {
					w.Header().Set("Content-Type", c.ctype)
				}
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			hc := &http.Client{}
			defer hc.CloseIdleConnections()
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader("m v=1i 1"))
			resp, err := checkedDoer{c: hc}.Do(req)
			if c.shows == "" {
				if err != nil {
					t.Fatalf("err %v, want the response", err)
				}
				resp.Body.Close()
				return
			}
			if resp != nil || err == nil {
				t.Fatalf("got %v, %v; want an error", resp, err)
			}
			oc, status, msg := classify(err)
			if oc != hold || oc.reason(status) != "unexpected_answer" || status != c.status {
				t.Fatalf("classified %v/%s status %d, want hold/unexpected_answer %d", oc, oc.reason(status), status, c.status)
			}
			if !strings.Contains(msg, c.shows) || !strings.Contains(msg, "204 No Content") {
				t.Fatalf("message %q should say what InfluxDB answers and show the body", msg)
			}
		})
	}
}

// portal stands in for InfluxDB: while captive it answers every write 200
// with a login page, as a captive portal or misrouted proxy does; then it
// answers 204 like InfluxDB and keeps the lines it was sent.
type portal struct {
	captive  atomic.Bool
	attempts atomic.Int64
	mu       sync.Mutex
	stored   map[string]bool
}

func (p *portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.attempts.Add(1)
	if p.captive.Load() {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><html><body><form>Accept the terms to continue</form></body></html>")
		return
	}
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	sc := bufio.NewScanner(body)
	p.mu.Lock()
	for sc.Scan() {
		p.stored[sc.Text()] = true
	}
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (p *portal) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.stored)
}

// TestWriterHoldsOnUnexpected2xx: a 200 with an HTML page is not a stored
// batch. Nothing is counted written, the batch stays in the outbox, the
// writer is held with a reason saying so; once InfluxDB answers, the same
// points are delivered and the hold is cleared (icugate_influxdb_held 0).
func TestWriterHoldsOnUnexpected2xx(t *testing.T) {
	t.Parallel()
	p := &portal{stored: map[string]bool{}}
	p.captive.Store(true)
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	reg := prometheus.NewRegistry()
	r := newRig(t, &influxtest.Server{URL: ts.URL}, influxtest.Bucket, "", 0, func(d *Deps) { d.Registerer = reg })
	r.run()
	produce(t, r.w, "portal", 0, 50, 0)

	waitFor(t, 20*time.Second, "the writer to hold after three attempts", func() bool {
		return r.w.Status().State == "held" && p.attempts.Load() >= 3
	}, nil)
	st := r.w.Status()
	if st.State != "held" || st.Reason != "unexpected_answer" || !strings.Contains(st.Message, "text/html") {
		t.Fatalf("status %+v after %d attempts, want held/unexpected_answer naming the HTML body", st, p.attempts.Load())
	}
	if st.Written != 0 || metricValue(t, reg, "icugate_influxdb_points_written_total", "") != 0 {
		t.Fatalf("points counted written while a portal answered: status %d", st.Written)
	}
	if n := r.q.Pending(); n != 50 {
		t.Fatalf("%d points pending, want all 50 kept for retry", n)
	}
	if metricValue(t, reg, "icugate_influxdb_held", "") != 1 || metricValue(t, reg, "icugate_influxdb_up", "") != 0 {
		t.Fatal("icugate_influxdb_held should be 1 and icugate_influxdb_up 0 while held")
	}
	if metricValue(t, reg, "icugate_influxdb_write_errors_total", "unexpected_answer") == 0 {
		t.Fatal("icugate_influxdb_write_errors_total{reason=unexpected_answer} not counted")
	}

	p.captive.Store(false)
	waitDrained(t, r.q, 20*time.Second)
	r.stop()
	if n := p.count(); n != 50 {
		t.Fatalf("InfluxDB got %d distinct points, want 50", n)
	}
	if st := r.w.Status(); st.State != "ok" || st.Written != 50 {
		t.Fatalf("status %+v after InfluxDB answered, want ok with 50 written", st)
	}
	if metricValue(t, reg, "icugate_influxdb_held", "") != 0 || metricValue(t, reg, "icugate_influxdb_up", "") != 1 {
		t.Fatal("icugate_influxdb_held should be 0 and icugate_influxdb_up 1 once writes succeed again")
	}
}
