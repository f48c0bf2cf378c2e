package api

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzMutationBodies throws arbitrary bodies, device ids and headers at
// the mutating routes: the answer is never a 5xx, every rejection is a
// JSON error with a reason and changes nothing, and every call is audited.
func FuzzMutationBodies(f *testing.F) {
	for _, s := range []struct{ route, id, body, ctype string }{
		{"maintenance", "vent-a1", `{"on":true}`, "application/json"},
		{"maintenance", "vent-a1", `{"on":false}`, ""},
		{"maintenance", "nope", `{"on":true}`, ""},
		{"maintenance", "vent-a1", `{"on":"yes"}`, ""},
		{"maintenance", "vent-a1", `{"on":true} x`, ""},
		{"assignment", "vent-p1", `{"at":"icu-a-4"}`, ""},
		{"assignment", "vent-p1", `{"at":"central"}`, "application/json; charset=utf-8"},
		{"assignment", "vent-a1", `{"at":null}`, ""},
		{"assignment", "vent-a1", `{"at":"x","at":"y"}`, ""},
		{"reload", "", `{}`, ""},
		{"reload", "", "\x00\xff", "text/plain"},
	} {
		f.Add(s.route, s.id, s.body, s.ctype)
	}
	fx := newFixture(f, withToken())
	f.Fuzz(func(t *testing.T, route, id, body, ctype string) {
		method, path := "POST", "/api/v1/reload"
		switch {
		case strings.Contains(route, "reload"):
		case strings.Contains(route, "assign"):
			method, path = "PUT", "/api/v1/devices/"+url.PathEscape(id)+"/assignment"
		default:
			method, path = "PUT", "/api/v1/devices/"+url.PathEscape(id)+"/maintenance"
		}
		before := fx.state(t)
		audits := len(fx.b.auditLog())
		calls := metricValue(fx.srv.metrics.mutations)
		h := []string{"Authorization", bearer}
		if ctype != "" && !strings.ContainsAny(ctype, "\r\n\x00") {
			h = append(h, "Content-Type", ctype)
		}
		w := fx.do(t, method, path, body, h...)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, w.Code, w.Body)
		}
		if w.Code == 404 && (strings.HasSuffix(path, "//maintenance") || strings.HasSuffix(path, "//assignment")) {
			return // an empty id matches no route: nothing to audit
		}
		if got := metricValue(fx.srv.metrics.mutations); got != calls+1 {
			t.Fatalf("%s %s: %v calls counted, want 1", method, path, got-calls)
		}
		got := len(fx.b.auditLog()) - audits
		if w.Code == 200 {
			if got != 1 {
				t.Fatalf("%s %s: applied with %d audit entries, want 1", method, path, got)
			}
			return
		}
		if got > 1 {
			t.Fatalf("%s %s: %d audit entries for one call", method, path, got)
		}
		var e apiError
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Reason == "" {
			t.Fatalf("%s %s %q: %d %s", method, path, body, w.Code, w.Body)
		}
		if fx.state(t) != before {
			t.Fatalf("%s %s %q: rejected with %d but changed the snapshot", method, path, body, w.Code)
		}
	})
}
