package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestHostHeaderChecked(t *testing.T) {
	cfg := Config{Listen: "gw-7.icu.example:8080", Hosts: []string{"ICUgate.Hospital.local."}}
	cases := []struct {
		host, path string
		code       int
	}{
		{"localhost:8080", "/api/v1/site", 200},
		{"LOCALHOST", "/api/v1/site", 200},
		{"127.0.0.1:8080", "/api/v1/site", 200},
		{"[::1]:8080", "/api/v1/site", 200},
		{"10.20.30.40:8080", "/api/v1/capacity", 200},
		{"[fe80::1]", "/readyz", 200},
		{"icugate.hospital.local", "/api/v1/site", 200},
		{"icugate.hospital.local.:8080", "/", 200},
		{"gw-7.icu.example:8080", "/metrics", 200},
		{"evil.example", "/api/v1/site", 421},
		{"evil.example:8080", "/", 421},
		{"evil.example", "/metrics", 421},
		{"evil.example", "/readyz", 421},
		{"evil.example", "/api/v1/events", 421},
		{"evil.example", "/api/v1/nothing", 421},
		{"localhost.evil.example", "/api/v1/site", 421},
		{"icugate.hospital.local.evil.example", "/api/v1/site", 421},
		{"127.0.0.1.nip.io", "/api/v1/site", 421},
		{"", "/api/v1/site", 421},
		// Liveness answers whatever the probe calls the gateway.
		{"evil.example", "/healthz", 200},
		{"", "/healthz", 200},
	}
	f := newFixture(t, cfg)
	for _, c := range cases {
		w := f.do(t, "GET", c.path, "", "Host", c.host)
		if w.Code != c.code {
			t.Errorf("Host %q GET %s: %d, want %d (%s)", c.host, c.path, w.Code, c.code, w.Body)
			continue
		}
		if c.code != 421 {
			continue
		}
		e := decode[apiError](t, w)
		if e.Error != "host not accepted" || !strings.Contains(e.Reason, "http.hosts") ||
			!strings.Contains(e.Reason, "icugate.hospital.local") {
			t.Errorf("Host %q: reason %+v", c.host, e)
		}
	}
	var refused int
	for _, c := range cases {
		if c.code == 421 {
			refused++
		}
	}
	if n := metricValue(f.srv.metrics.misdirected); n != float64(refused) {
		t.Errorf("icugate_http_misdirected_requests_total = %v, want %d", n, refused)
	}
}

// TestRebindingCannotMutate is a page on a rebound name, or a forged
// same-origin request, trying to put a device into maintenance on a
// gateway without tokens: refused, nothing changes.
func TestRebindingCannotMutate(t *testing.T) {
	cases := []struct {
		name   string
		header []string
		code   int
		reason string
	}{
		{"rebound name", []string{"Host", "evil.example:8080", "Origin", "http://evil.example:8080", "Sec-Fetch-Site", "same-origin"}, 421, `Host "evil.example:8080"`},
		{"rebound name, no origin", []string{"Host", "evil.example", "Sec-Fetch-Site", "same-origin"}, 421, "does not name this gateway"},
		{"foreign origin claiming same-origin", []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "same-origin"}, 403, `origin "http://evil.example" is not this gateway`},
		{"opaque origin", []string{"Origin", "null", "Sec-Fetch-Site", "same-origin"}, 403, `origin "null"`},
		{"foreign origin", []string{"Origin", "http://evil.example"}, 403, "evil.example"},
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross-origin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			before := f.state(t)
			w := f.do(t, "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on":true}`, c.header...)
			e := decode[apiError](t, w)
			if w.Code != c.code || !strings.Contains(e.Reason, c.reason) {
				t.Errorf("got %d %+v, want %d with %q", w.Code, e, c.code, c.reason)
			}
			if f.state(t) != before {
				t.Error("a refused call changed the snapshot")
			}
		})
	}
	// The dashboard itself, same-origin by name or by address, may.
	for _, h := range [][]string{
		{"Host", "localhost:8080", "Origin", "http://localhost:8080", "Sec-Fetch-Site", "same-origin"},
		{"Host", "10.20.30.40:8080", "Origin", "http://10.20.30.40:8080", "Sec-Fetch-Site", "same-origin"},
		{"Host", "icugate.hospital.local", "Origin", "https://icugate.hospital.local", "Sec-Fetch-Site", "same-origin"},
	} {
		f := newFixture(t, Config{Hosts: []string{"icugate.hospital.local"}})
		if w := f.do(t, "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on":true}`, h...); w.Code != http.StatusOK {
			t.Errorf("%v: %d %s", h, w.Code, w.Body)
		}
	}
}

func TestHostsConfigChecked(t *testing.T) {
	for _, h := range []string{"", "http://gw.local", "gw.local:8080", "gw.local/x", "user@gw.local"} {
		if _, err := New(Config{Hosts: []string{h}}, newTestBackend(t), Deps{}); err == nil {
			t.Errorf("host %q: want an error", h)
		}
	}
	if _, err := New(Config{Hosts: []string{"gw.local", "::1", "[::1]", "10.0.0.1"}}, newTestBackend(t), Deps{}); err != nil {
		t.Errorf("valid hosts: %v", err)
	}
}
