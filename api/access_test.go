package api

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// Tokens of every role, for the access tests.
const (
	viewerToken   = "viewer-token-0123456789"
	engineerToken = "engineer-token-0123456789"
	adminToken    = "admin-token-0123456789"
)

func roleTokens() []Token {
	return []Token{
		{Name: "ward-screen", Role: RoleViewer, Secret: viewerToken},
		{Name: "biomed", Role: RoleEngineer, Secret: engineerToken},
		{Name: "it-admin", Role: RoleAdmin, Secret: adminToken},
	}
}

// AuditTrail serves the recorded entries, newest first, as the gateway's
// store does.
func (b *testBackend) AuditTrail(_ context.Context, q AuditQuery) ([]AuditEntry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []AuditEntry
	for i := len(b.audits) - 1; i >= 0 && len(out) < q.Limit; i-- {
		e := b.audits[i]
		if (q.Who != "" && e.Who != q.Who) || (q.Device != "" && e.Device != q.Device) || (q.Action != "" && e.Action != q.Action) ||
			(!q.From.IsZero() && e.Time.Before(q.From)) || (!q.To.IsZero() && e.Time.After(q.To)) {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// routeNeed is what a route needs under read protection: "public" (no
// token), "read" (any role), or the least role.
type routeNeed struct {
	need         string
	path, body   string
	streamsForev bool
}

// routeNeeds names every route of the server with what it needs. A
// mutating route missing here fails TestEveryRouteEveryRole: each new
// route must be given its role on purpose. A GET route missing here is
// taken as an ordinary read.
var routeNeeds = map[string]routeNeed{
	"GET /healthz":                         {need: "public"},
	"GET /readyz":                          {need: "public"},
	"GET /metrics":                         {need: "read"},
	"GET /*":                               {need: "public", path: "/"},
	"GET /api/v1/events":                   {need: "read", streamsForev: true},
	"GET /api/v1/session":                  {need: "public"},
	"POST /api/v1/session":                 {need: "public", body: `{"token":"` + viewerToken + `"}`},
	"DELETE /api/v1/session":               {need: "public"},
	"GET /api/v1/site":                     {need: "read"},
	"GET /api/v1/devices":                  {need: "read"},
	"GET /api/v1/devices/{id}":             {need: "read", path: "/api/v1/devices/vent-a1"},
	"GET /api/v1/beds":                     {need: "read"},
	"GET /api/v1/capacity":                 {need: "read"},
	"GET /api/v1/capacity/fhir":            {need: "read"},
	"GET /api/v1/capacity/fhir/Measure":    {need: "read"},
	"GET /api/v1/alerts":                   {need: "read"},
	"GET /api/v1/maintenance":              {need: "read"},
	"GET /api/v1/audit":                    {need: RoleEngineer},
	"GET /api/v1/backup":                   {need: RoleAdmin},
	"PUT /api/v1/devices/{id}/maintenance": {need: RoleEngineer, path: "/api/v1/devices/vent-a1/maintenance", body: `{"on":true,"reason":"annual PM"}`},
	"PUT /api/v1/devices/{id}/assignment":  {need: RoleEngineer, path: "/api/v1/devices/vent-p1/assignment", body: `{"at":"central"}`},
	"POST /api/v1/alerts/ack":              {need: RoleEngineer, body: `{"id":"no-such-alert"}`},
	"POST /api/v1/reload":                  {need: RoleAdmin},
}

// TestEveryRouteEveryRole calls every route of the server as nobody, as a
// wrong token and as each role, with reads protected, and checks who gets
// through: 401 without a token where one is needed, 403 for a wrong token
// or a role too low (with a JSON reason naming the role), anything else
// when allowed. A role refused on a change is in the audit trail.
func TestEveryRouteEveryRole(t *testing.T) {
	cfg := Config{Tokens: roleTokens(), ReadRequiresToken: true, PublicHealth: true}
	f := newFixture(t, cfg)
	var routes []string
	err := chi.Walk(f.srv.handler.(chi.Router), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+strings.TrimSuffix(route, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	callers := []struct {
		name, token, holder string
		rank                int
	}{{"nobody", "", "", 0}, {"wrong", "wrong-token-0123456789", "", 0}, {"viewer", viewerToken, "ward-screen", 1},
		{"engineer", engineerToken, "biomed", 2}, {"admin", adminToken, "it-admin", 3}}
	for _, rt := range routes {
		method, pattern, _ := strings.Cut(rt, " ")
		rn, ok := routeNeeds[rt]
		if pattern == "/*" {
			// The dashboard's files, for any method (it answers 405
			// to all but GET and HEAD).
			rn, ok = routeNeeds["GET /*"], true
		}
		if !ok {
			if method != http.MethodGet {
				t.Errorf("route %s has no role in routeNeeds: decide who may call it", rt)
				continue
			}
			rn = routeNeed{need: "read"}
		}
		path := rn.path
		if path == "" {
			path = pattern
		}
		for _, c := range callers {
			t.Run(rt+"/"+c.name, func(t *testing.T) {
				f := newFixture(t, cfg)
				header := []string{}
				if c.token != "" {
					header = append(header, "Authorization", "Bearer "+c.token)
				}
				if rn.body != "" {
					header = append(header, "Content-Type", "application/json")
				}
				ctx := context.Background()
				if rn.streamsForev {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
					defer cancel()
				}
				w := httptest.NewRecorder()
				f.h.ServeHTTP(w, newRequest(ctx, method, path, rn.body, header...))
				code := w.Code
				switch {
				case rn.need == "public":
					if code == 401 || (code == 403 && rt != "POST /api/v1/session") {
						t.Errorf("public route answered %d: %s", code, w.Body)
					}
				case c.name == "wrong":
					if code != 403 {
						t.Errorf("wrong token: got %d, want 403: %s", code, w.Body)
					}
				case c.name == "nobody":
					if code != 401 || w.Header().Get("WWW-Authenticate") == "" {
						t.Errorf("no token: got %d (WWW-Authenticate %q), want 401: %s", code, w.Header().Get("WWW-Authenticate"), w.Body)
					}
				case rn.need == "read" || c.rank >= roleRank(rn.need):
					if code == 401 || code == 403 {
						t.Errorf("%s may call %s: got %d: %s", c.name, rt, code, w.Body)
					}
				default:
					e := decode[apiError](t, w)
					if code != 403 || e.Error != "role not allowed" || !strings.Contains(e.Reason, rn.need) {
						t.Errorf("%s must not call %s: got %d %+v, want 403 naming role %s", c.name, rt, code, e, rn.need)
					}
					if method != http.MethodGet {
						found := false
						for _, a := range f.b.auditLog() {
							found = found || (a.Who == c.holder && a.Status == 403 && strings.Contains(a.Result, "role not allowed"))
						}
						if !found {
							t.Errorf("refused %s is not in the audit trail: %+v", rt, f.b.auditLog())
						}
					}
				}
			})
		}
	}
}

// TestReadsOpenWithoutProtection: without read_requires_token every read
// stays open, changes still need a token of the right role, and the
// audit trail still needs an engineer.
func TestReadsOpenWithoutProtection(t *testing.T) {
	f := newFixture(t, Config{Tokens: roleTokens()})
	for _, p := range []string{"/api/v1/site", "/api/v1/devices", "/api/v1/capacity", "/metrics", "/readyz"} {
		if w := f.do(t, "GET", p, ""); w.Code == 401 || w.Code == 403 {
			t.Errorf("GET %s without a token: %d, want it open", p, w.Code)
		}
	}
	if w := f.do(t, "GET", "/api/v1/audit", ""); w.Code != 401 {
		t.Errorf("audit without a token: %d, want 401", w.Code)
	}
	if w := f.do(t, "GET", "/api/v1/audit", "", "Authorization", "Bearer "+viewerToken); w.Code != 403 {
		t.Errorf("audit as viewer: %d, want 403", w.Code)
	}
	if w := f.do(t, "POST", "/api/v1/reload", "", "Authorization", "Bearer "+engineerToken); w.Code != 403 {
		t.Errorf("reload as engineer: %d, want 403", w.Code)
	}
	if w := f.do(t, "POST", "/api/v1/reload", "", "Authorization", "Bearer "+adminToken); w.Code != 200 {
		t.Errorf("reload as admin: %d, want 200: %s", w.Code, w.Body)
	}
}

// TestPublicMetricsAndHealthConfigurable: under read protection health
// can be closed and metrics opened.
func TestPublicMetricsAndHealthConfigurable(t *testing.T) {
	f := newFixture(t, Config{Tokens: roleTokens(), ReadRequiresToken: true, PublicHealth: false, PublicMetrics: true})
	if w := f.do(t, "GET", "/healthz", ""); w.Code != 401 {
		t.Errorf("closed /healthz without token: %d, want 401", w.Code)
	}
	if w := f.do(t, "GET", "/metrics", ""); w.Code != 200 {
		t.Errorf("public /metrics: %d, want 200", w.Code)
	}
	if _, err := New(Config{ReadRequiresToken: true}, newTestBackend(t), Deps{}); err == nil {
		t.Error("read protection without tokens was accepted")
	}
}

// TestDashboardSession: a token exchanged for a session cookie (HttpOnly,
// SameSite=Strict) reads and changes with its role; signing out, or the
// token leaving the configuration, ends the session.
func TestDashboardSession(t *testing.T) {
	f := newFixture(t, Config{Tokens: roleTokens(), ReadRequiresToken: true, PublicHealth: true})
	w := f.do(t, "GET", "/api/v1/session", "")
	if v := decode[sessionView](t, w); !v.TokensConfigured || !v.ReadRequiresToken || v.SignedIn {
		t.Fatalf("session before sign-in: %+v", v)
	}
	if w := f.do(t, "POST", "/api/v1/session", `{"token":"not-a-token-at-all-000"}`, "Content-Type", "application/json"); w.Code != 403 {
		t.Fatalf("sign-in with a wrong token: %d, want 403", w.Code)
	}
	w = f.do(t, "POST", "/api/v1/session", `{"token":"`+engineerToken+`"}`, "Content-Type", "application/json")
	if w.Code != 200 {
		t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value == "" || cookie.Value == engineerToken {
		t.Fatalf("session cookie: %+v", cookie)
	}
	ck := "Cookie"
	cv := SessionCookie + "=" + cookie.Value
	if v := decode[sessionView](t, f.do(t, "GET", "/api/v1/session", "", ck, cv)); v.Name != "biomed" || v.Role != RoleEngineer || v.Via != "session" {
		t.Errorf("session view: %+v", v)
	}
	if w := f.do(t, "GET", "/api/v1/site", "", ck, cv); w.Code != 200 {
		t.Errorf("read with the session: %d", w.Code)
	}
	if w := f.do(t, "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true}`, ck, cv, "Content-Type", "application/json"); w.Code != 200 {
		t.Errorf("maintenance as engineer session: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "POST", "/api/v1/reload", "", ck, cv); w.Code != 403 {
		t.Errorf("reload as engineer session: %d, want 403", w.Code)
	}
	found := false
	for _, a := range f.b.auditLog() {
		found = found || (a.Action == "sign_in" && a.Who == "biomed" && a.Status == 200)
	}
	if !found {
		t.Errorf("sign-in not audited: %+v", f.b.auditLog())
	}
	// The token is rotated away: the session ends with it.
	if err := f.srv.SetAccess(Access{Tokens: roleTokens()[:1], ReadRequiresToken: true}); err != nil {
		t.Fatal(err)
	}
	if w := f.do(t, "GET", "/api/v1/site", "", ck, cv); w.Code != 401 {
		t.Errorf("read after the token was removed: %d, want 401", w.Code)
	}
	// Sign-out.
	if err := f.srv.SetAccess(Access{Tokens: roleTokens(), ReadRequiresToken: true}); err != nil {
		t.Fatal(err)
	}
	w = f.do(t, "POST", "/api/v1/session", `{"token":"`+viewerToken+`"}`, "Content-Type", "application/json")
	cv = SessionCookie + "=" + w.Result().Cookies()[0].Value
	if w := f.do(t, "DELETE", "/api/v1/session", "", ck, cv); w.Code != 200 {
		t.Fatalf("sign-out: %d", w.Code)
	}
	if w := f.do(t, "GET", "/api/v1/site", "", ck, cv); w.Code != 401 {
		t.Errorf("read after sign-out: %d, want 401", w.Code)
	}
	// A cross-site page cannot sign a browser in.
	if w := f.do(t, "POST", "/api/v1/session", `{"token":"`+viewerToken+`"}`, "Content-Type", "application/json", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); w.Code != 403 {
		t.Errorf("cross-site sign-in: %d, want 403", w.Code)
	}
}

// TestAuditAPI filters the trail by device, who, action and time, limits
// it, and serves it as CSV with formula-looking cells kept as text.
func TestAuditAPI(t *testing.T) {
	f := newFixture(t, Config{Tokens: roleTokens()})
	eng := []string{"Authorization", "Bearer " + engineerToken, "Content-Type", "application/json"}
	f.do(t, "PUT", "/api/v1/devices/vent-a1/maintenance", `{"on":true,"reason":"=cmd annual PM"}`, eng...)
	f.do(t, "PUT", "/api/v1/devices/vent-p1/assignment", `{"at":"central"}`, eng...)
	f.do(t, "POST", "/api/v1/reload", "", "Authorization", "Bearer "+viewerToken)
	get := func(q string) auditView {
		t.Helper()
		w := f.do(t, "GET", "/api/v1/audit"+q, "", "Authorization", "Bearer "+engineerToken)
		if w.Code != 200 {
			t.Fatalf("GET audit%s: %d %s", q, w.Code, w.Body)
		}
		return decode[auditView](t, w)
	}
	if v := get(""); len(v.Entries) != 3 || v.Entries[0].Action != "reload" || v.Entries[0].Status != 403 {
		t.Errorf("whole trail, newest first: %+v", v.Entries)
	}
	if v := get("?device=vent-a1"); len(v.Entries) != 1 || v.Entries[0].Action != "maintenance" {
		t.Errorf("by device: %+v", v.Entries)
	}
	if v := get("?who=ward-screen"); len(v.Entries) != 1 || v.Entries[0].Action != "reload" {
		t.Errorf("by who: %+v", v.Entries)
	}
	if v := get("?limit=2"); len(v.Entries) != 2 || !v.Limited {
		t.Errorf("limit 2: %d entries, limited %v", len(v.Entries), v.Limited)
	}
	tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	if v := get("?from=" + tomorrow); len(v.Entries) != 0 {
		t.Errorf("from tomorrow: %+v", v.Entries)
	}
	for q, param := range map[string]string{"?from=yesterday": "from", "?limit=0": "limit", "?format=xml": "format", "?from=2026-12-05&to=2026-12-01": "to"} {
		w := f.do(t, "GET", "/api/v1/audit"+q, "", "Authorization", "Bearer "+engineerToken)
		if e := decode[apiError](t, w); w.Code != 400 || !strings.Contains(e.Reason, `"`+param+`"`) {
			t.Errorf("GET audit%s: %d %+v, want 400 naming %s", q, w.Code, e, param)
		}
	}
	w := f.do(t, "GET", "/api/v1/audit?format=csv", "", "Authorization", "Bearer "+engineerToken)
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV headers: %q %q", ct, w.Header().Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(w.Body.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != "time,who,remote,action,device,detail,status,result" {
		t.Fatalf("CSV: %q", rows)
	}
	for _, r := range rows[1:] {
		if strings.HasPrefix(r[5], "=") {
			t.Errorf("a formula-looking cell is not kept as text: %q", r[5])
		}
	}
}

// TestSecurityHeaders: the dashboard runs only its own files and cannot be
// framed.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, Config{})
	w := f.do(t, "GET", "/", "")
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline or eval: %q", csp)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
	if w.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
}
