package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Token roles, from least to most allowed (see Token.Role).
const (
	RoleViewer   = "viewer"
	RoleEngineer = "engineer"
	RoleAdmin    = "admin"
)

// roleRank orders roles; 0 for an unknown one, which therefore may do
// nothing.
func roleRank(role string) int {
	switch role {
	case RoleViewer:
		return 1
	case RoleEngineer:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Access is who may do what: the API tokens and whether reading needs
// one. It is part of Config and may be replaced while the server runs
// (SetAccess), so that a reload rotates tokens without a restart.
type Access struct {
	// Tokens are the API tokens. With none, every call is open (and
	// audited as "anonymous") and ReadRequiresToken is refused.
	Tokens []Token
	// ReadRequiresToken makes every API read and the event stream need a
	// token (any role), by bearer header or dashboard session.
	ReadRequiresToken bool
	// PublicHealth keeps /healthz and /readyz open when reads need a
	// token; PublicMetrics does the same for /metrics.
	PublicHealth  bool
	PublicMetrics bool
}

// identity is who a request comes from.
type identity struct {
	name string
	role string
	// via is "bearer", "session" or "" (none presented).
	via string
}

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "icugate_session"

// Session limits.
const (
	// SessionLifetime is how long a dashboard sign-in lasts: a shift.
	SessionLifetime = 12 * time.Hour
	// maxSessions bounds the sessions kept; beyond it the oldest goes.
	maxSessions = 1000
)

// session is a dashboard sign-in: the token it was opened with (by digest,
// so that removing or changing the token ends it) and when it ends.
type session struct {
	name    string
	role    string
	digest  [32]byte
	expires time.Time
}

// accessState is the current Access with the tokens' digests, and the
// open sessions.
type accessState struct {
	mu       sync.Mutex
	access   Access
	digests  [][32]byte
	sessions map[string]*session
}

func newAccessState(a Access) (*accessState, error) {
	st := &accessState{sessions: map[string]*session{}}
	if err := st.set(a); err != nil {
		return nil, err
	}
	return st, nil
}

// set validates and installs a; sessions whose token is gone end, and
// those whose token changed role take the new one.
func (st *accessState) set(a Access) error {
	tokens := make([]Token, 0, len(a.Tokens))
	digests := make([][32]byte, 0, len(a.Tokens))
	for i, t := range a.Tokens {
		if t.Secret == "" {
			return fmt.Errorf("api: token %d (%q): empty secret", i, t.Name)
		}
		if t.Name == "" {
			t.Name = "token"
		}
		if t.Role == "" {
			t.Role = RoleAdmin
		}
		if roleRank(t.Role) == 0 {
			return fmt.Errorf("api: token %q: unknown role %q (want viewer, engineer or admin)", t.Name, t.Role)
		}
		tokens = append(tokens, t)
		digests = append(digests, sha256.Sum256([]byte(t.Secret)))
	}
	if a.ReadRequiresToken && len(tokens) == 0 {
		return fmt.Errorf("api: reads need a token (http.read_requires_token) but no API token is configured: set http.token_file")
	}
	a.Tokens = tokens
	st.mu.Lock()
	defer st.mu.Unlock()
	st.access, st.digests = a, digests
	for id, ses := range st.sessions {
		if t, ok := st.match(ses.digest); ok {
			ses.name, ses.role = t.Name, t.Role
		} else {
			delete(st.sessions, id)
		}
	}
	return nil
}

// match finds the token with digest d, comparing in constant time over
// every token so that timing reveals neither a prefix nor a length.
// st.mu is held.
func (st *accessState) match(d [32]byte) (Token, bool) {
	found := -1
	for i := range st.digests {
		if subtle.ConstantTimeCompare(d[:], st.digests[i][:]) == 1 && found < 0 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, false
	}
	return st.access.Tokens[found], true
}

// current returns the access in force.
func (st *accessState) current() Access {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.access
}

// openSession starts a session for the token t (by digest) and returns
// its id.
func (st *accessState) openSession(t Token, now time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, s := range st.sessions {
		if now.After(s.expires) {
			delete(st.sessions, k)
		}
	}
	if len(st.sessions) >= maxSessions {
		oldest := ""
		for k, s := range st.sessions {
			if oldest == "" || s.expires.Before(st.sessions[oldest].expires) {
				oldest = k
			}
		}
		delete(st.sessions, oldest)
	}
	st.sessions[id] = &session{name: t.Name, role: t.Role, digest: sha256.Sum256([]byte(t.Secret)), expires: now.Add(SessionLifetime)}
	return id, nil
}

func (st *accessState) closeSession(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.sessions, id)
}

// SetAccess replaces the tokens and read protection in force, e.g. after
// a reload. Sessions opened with a token that is no longer configured end.
func (s *Server) SetAccess(a Access) error { return s.access.set(a) }

// tokensConfigured reports whether any API token is configured.
func (s *Server) tokensConfigured() bool { return len(s.access.current().Tokens) > 0 }

// identify finds who a request comes from: a bearer token, else the
// dashboard's session cookie. A wrong bearer token is an error (403); a
// malformed header 401; an unknown or expired session is no identity.
func (s *Server) identify(r *http.Request) (identity, *requestError) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return identity{}, &requestError{http.StatusUnauthorized, "malformed Authorization header",
				fmt.Sprintf("%s %s: expected Authorization: Bearer <token>", r.Method, r.URL.Path)}
		}
		st := s.access
		st.mu.Lock()
		t, found := st.match(sha256.Sum256([]byte(tok)))
		st.mu.Unlock()
		if !found {
			return identity{}, &requestError{http.StatusForbidden, "token not accepted",
				fmt.Sprintf("%s %s: the bearer token presented is not a configured API token", r.Method, r.URL.Path)}
		}
		return identity{name: t.Name, role: t.Role, via: "bearer"}, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		st := s.access
		st.mu.Lock()
		defer st.mu.Unlock()
		if ses := st.sessions[c.Value]; ses != nil {
			if s.now().Before(ses.expires) {
				return identity{name: ses.name, role: ses.role, via: "session"}, nil
			}
			delete(st.sessions, c.Value)
		}
	}
	return identity{}, nil
}

// needRole checks that who may do what needs role. With no token
// configured everyone may do everything (the gateway warns at start).
func (s *Server) needRole(r *http.Request, id identity, role, what string) *requestError {
	if !s.tokensConfigured() {
		return nil
	}
	if id.via == "" {
		return &requestError{http.StatusUnauthorized, "missing token",
			fmt.Sprintf("%s %s needs an API token (role %s or higher): send Authorization: Bearer <token>, or sign in on the dashboard", r.Method, r.URL.Path, role)}
	}
	if roleRank(id.role) < roleRank(role) {
		return &requestError{http.StatusForbidden, "role not allowed",
			fmt.Sprintf("%s needs the %s role; token %q has the %s role", what, role, id.name, id.role)}
	}
	return nil
}

// protectRead guards the reads: with read protection on, a request
// without a valid token or session gets 401 (a wrong token 403). public
// reports whether a path stays open (health, metrics, per config).
func (s *Server) protectRead(public func(Access) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a := s.access.current()
			if !a.ReadRequiresToken || (public != nil && public(a)) {
				next.ServeHTTP(w, r)
				return
			}
			id, rerr := s.identify(r)
			if rerr == nil && id.via == "" {
				rerr = &requestError{http.StatusUnauthorized, "missing token",
					fmt.Sprintf("%s %s: reading needs an API token on this gateway: send Authorization: Bearer <token>, or sign in on the dashboard", r.Method, r.URL.Path)}
			}
			if rerr != nil {
				s.metrics.refused.WithLabelValues("read", rerr.what).Inc()
				if rerr.code == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="icugate"`)
				}
				writeError(w, rerr.code, rerr.what, rerr.reason)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// sessionView answers GET /api/v1/session: what the dashboard needs to
// know to ask for a token or not, and who it is signed in as.
type sessionView struct {
	// TokensConfigured: changes need a token.
	TokensConfigured bool `json:"tokens_configured"`
	// ReadRequiresToken: reading needs one too.
	ReadRequiresToken bool `json:"read_requires_token"`
	// SignedIn, Name, Role: the caller's identity, if any.
	SignedIn bool   `json:"signed_in"`
	Name     string `json:"name,omitempty"`
	Role     string `json:"role,omitempty"`
	// Via is "session" (the dashboard's cookie) or "bearer".
	Via string `json:"via,omitempty"`
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	a := s.access.current()
	v := sessionView{TokensConfigured: len(a.Tokens) > 0, ReadRequiresToken: a.ReadRequiresToken}
	if id, rerr := s.identify(r); rerr == nil && id.via != "" {
		v.SignedIn, v.Name, v.Role, v.Via = true, id.name, id.role, id.via
	}
	writeJSON(w, http.StatusOK, v)
}

// postSession signs the dashboard in: the token in the body (or bearer
// header) is exchanged for a session cookie that scripts cannot read
// (HttpOnly), that no other site's page sends (SameSite=Strict), and that
// only travels over HTTPS when the gateway serves it. Signing in is
// audited; a refused token is counted and logged like any refused call.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request) {
	c := s.newCall(w, r, "sign_in")
	var body struct {
		Token string `json:"token"`
	}
	if rerr := s.crossOrigin(r); rerr != nil {
		c.fail(rerr)
		return
	}
	if r.ContentLength != 0 {
		if rerr := decodeStrict(w, r, s.cfg.MaxBodyBytes, &body); rerr != nil {
			c.fail(rerr)
			return
		}
	}
	if body.Token == "" {
		id, rerr := s.identify(r)
		if rerr != nil {
			c.fail(rerr)
			return
		}
		if id.via != "bearer" {
			c.fail(&requestError{http.StatusBadRequest, "missing field",
				fmt.Sprintf("%s %s: field \"token\" is required (or send Authorization: Bearer <token>)", r.Method, r.URL.Path)})
			return
		}
		body.Token = strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer"))
	}
	if !s.tokensConfigured() {
		c.fail(&requestError{http.StatusConflict, "no tokens configured",
			"this gateway has no API tokens (http.token_file): every call is open and there is nothing to sign in with"})
		return
	}
	st := s.access
	st.mu.Lock()
	t, found := st.match(sha256.Sum256([]byte(strings.TrimSpace(body.Token))))
	st.mu.Unlock()
	if !found {
		c.fail(&requestError{http.StatusForbidden, "token not accepted",
			fmt.Sprintf("%s %s: the token is not a configured API token", r.Method, r.URL.Path)})
		return
	}
	id, err := st.openSession(t, s.now())
	if err != nil {
		c.fail(&requestError{http.StatusInternalServerError, "no session", err.Error()})
		return
	}
	c.who = t.Name
	c.detail = "role=" + t.Role
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", MaxAge: int(SessionLifetime / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	c.reached = true
	c.finish(sessionView{TokensConfigured: true, ReadRequiresToken: s.access.current().ReadRequiresToken,
		SignedIn: true, Name: t.Name, Role: t.Role, Via: "session"})
}

// deleteSession signs the dashboard out.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if rerr := s.crossOrigin(r); rerr != nil {
		writeError(w, rerr.code, rerr.what, rerr.reason)
		return
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.access.closeSession(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
}
