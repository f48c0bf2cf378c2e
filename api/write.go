package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/icugate/icugate/pipeline"
)

// anonymous is who calls when no token is configured, or when the call
// was refused before a token identified the caller.
const anonymous = "anonymous"

// crossOrigin refuses cross-origin browser requests (a page elsewhere must
// not drive the gateway through an engineer's browser): an Origin that does
// not name this gateway (see hostPolicy; this also covers a rebound name
// whose requests claim to be same-origin), then net/http's
// CrossOriginProtection, which judges by Sec-Fetch-Site, else Origin
// against Host.
func (s *Server) crossOrigin(r *http.Request) *requestError {
	if o := r.Header.Get("Origin"); o != "" && !s.hosts.originAllowed(o) {
		return &requestError{http.StatusForbidden, "cross-origin request refused",
			fmt.Sprintf("%s %s: origin %q is not this gateway (it answers to %s)", r.Method, r.URL.Path, clip(o), s.hosts.accepted())}
	}
	if err := s.csrf.Check(r); err != nil {
		return &requestError{http.StatusForbidden, "cross-origin request refused",
			fmt.Sprintf("%s %s: %v (origin %q, this gateway %s)", r.Method, r.URL.Path, err, clip(r.Header.Get("Origin")), r.Host)}
	}
	return nil
}

// actionRoles is the role each mutating action needs when tokens are
// configured. An action missing here needs admin.
var actionRoles = map[string]string{
	"maintenance": RoleEngineer,
	"assignment":  RoleEngineer,
	"alert_ack":   RoleEngineer,
	"reload":      RoleAdmin,
}

// authenticate decides who makes a mutating call and whether their role
// allows it. It refuses cross-origin requests (crossOrigin). When tokens
// are configured it requires one, as a bearer token or the dashboard's
// session: 401 when none is presented, 403 when it is wrong or its role
// is below what the action needs (see actionRoles). Tokens are compared
// as SHA-256 digests in constant time, over every configured token, so
// timing reveals neither a prefix nor a length.
func (s *Server) authenticate(r *http.Request, action string) (identity, *requestError) {
	anon := identity{name: anonymous}
	if rerr := s.crossOrigin(r); rerr != nil {
		return anon, rerr
	}
	if !s.tokensConfigured() {
		return anon, nil
	}
	id, rerr := s.identify(r)
	if rerr != nil {
		return anon, rerr
	}
	role := actionRoles[action]
	if role == "" {
		role = RoleAdmin
	}
	if rerr := s.needRole(r, id, role, fmt.Sprintf("%s %s", r.Method, r.URL.Path)); rerr != nil {
		if id.via == "" {
			return anon, rerr
		}
		return id, rerr
	}
	return id, nil
}

// clip shortens client-supplied text echoed in errors and audit entries.
func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// call is one mutating request being served; finish and fail answer it
// and account for it, so that no path can skip the audit.
//
// What is written to the durable audit trail (Backend.Audit, an fsync
// each) is every call that reached the backend: applied, refused by it
// (a rejected config) or failed there. A call refused before that (no or
// a wrong token, a foreign origin, a bad body, an unknown device) changed
// nothing; it is counted by action and reason and logged at a bounded
// rate instead, so that a flood of bad requests can neither fill the
// disk nor hold up the calls that matter.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	who    string
	action string
	device string
	detail string
	// reached is set once the backend has been asked.
	reached bool
	// forceAudit records a refusal durably although the backend was not
	// asked (a role refused).
	forceAudit bool
}

func (s *Server) newCall(w http.ResponseWriter, r *http.Request, action string) *call {
	return &call{s: s, w: w, r: r, who: anonymous, action: action, device: clip(chi.URLParam(r, "id"))}
}

func (c *call) audit(status int, result string) {
	c.s.backend.Audit(AuditEntry{
		Time: c.s.now(), Who: c.who, Remote: c.r.RemoteAddr, Action: c.action,
		Device: c.device, Detail: c.detail, Status: status, Result: result,
	})
}

func (c *call) fail(e *requestError, problems ...string) {
	c.s.metrics.mutations.WithLabelValues(c.action, "rejected").Inc()
	if c.reached || c.forceAudit || e.code >= 500 {
		c.audit(e.code, e.what+": "+e.reason)
	} else {
		c.s.metrics.refused.WithLabelValues(c.action, e.what).Inc()
	}
	if ok, suppressed := c.s.logs.Allow(""); ok || e.code >= 500 {
		lvl := c.s.log.Info
		if e.code >= 500 {
			lvl = c.s.log.Error
		}
		lvl("api call rejected", "action", c.action, "device", c.device, "who", c.who,
			"remote", c.r.RemoteAddr, "status", e.code, "err", e.reason, "suppressed", suppressed)
	}
	if e.code == http.StatusUnauthorized {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="icugate"`)
	}
	writeJSON(c.w, e.code, apiError{Error: e.what, Reason: e.reason, Problems: problems})
}

func (c *call) finish(v any) {
	c.s.metrics.mutations.WithLabelValues(c.action, "accepted").Inc()
	c.audit(http.StatusOK, "ok")
	c.s.log.Info("api call applied", "action", c.action, "device", c.device, "detail", c.detail,
		"who", c.who, "remote", c.r.RemoteAddr)
	writeJSON(c.w, http.StatusOK, v)
}

// ctx is the context for the backend call; asking for it marks the call
// as having reached the backend.
func (c *call) ctx() context.Context {
	c.reached = true
	return c.r.Context()
}

// begin authenticates and decodes the body into v (when v is not nil).
// It returns false after answering and accounting for a rejection.
func (c *call) begin(v any) bool {
	id, rerr := c.s.authenticate(c.r, c.action)
	c.who = id.name
	if rerr != nil {
		// A known holder refused for their role is recorded durably:
		// who tried what is what an audit is for. Unknown callers are
		// only counted (they could fill the disk).
		c.forceAudit = rerr.what == "role not allowed"
		c.fail(rerr)
		return false
	}
	if v == nil {
		return true
	}
	if rerr := decodeStrict(c.w, c.r, c.s.cfg.MaxBodyBytes, v); rerr != nil {
		c.fail(rerr)
		return false
	}
	return true
}

// backendError maps an error of the backend to a response: unknown
// things to notFound (404 for the device in the path, 422 for a target in
// the body), ErrUnavailable and a call the backend did not confirm within
// RequestTimeout (or whose client left) to 503, the rest to 500.
func backendError(err error, notFound int, what string) *requestError {
	switch {
	case errors.Is(err, pipeline.ErrUnknown):
		return &requestError{notFound, what, err.Error()}
	case errors.Is(err, ErrUnavailable):
		return &requestError{http.StatusServiceUnavailable, "temporarily unavailable", err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &requestError{http.StatusServiceUnavailable, "gateway busy",
			fmt.Sprintf("the gateway did not confirm the change in time (%v); it may still take effect: check before repeating it", err)}
	}
	return &requestError{http.StatusInternalServerError, "not applied", err.Error()}
}

// deviceKnown reports whether the snapshot has the device.
func (s *Server) deviceKnown(id string) bool {
	for _, d := range s.backend.Snapshot().Devices {
		if d.ID == id {
			return true
		}
	}
	return false
}

func (s *Server) unknownDevice(c *call) *requestError {
	return &requestError{http.StatusNotFound, "unknown device",
		fmt.Sprintf("%s %s: device %q is not configured", c.r.Method, c.r.URL.Path, c.device)}
}

// deviceResult is the answer to a mutating device call: the device as it
// is now.
type deviceResult struct {
	Device pipeline.DeviceStatus `json:"device"`
}

func (s *Server) putMaintenance(w http.ResponseWriter, r *http.Request) {
	c := s.newCall(w, r, "maintenance")
	var body maintenanceBody
	if !c.begin(&body) {
		return
	}
	req, rerr := body.request(r.Method, r.URL.Path, s.now())
	if rerr != nil {
		c.fail(rerr)
		return
	}
	c.detail = req.auditDetail()
	if !s.deviceKnown(c.device) {
		c.fail(s.unknownDevice(c))
		return
	}
	if err := s.backend.SetMaintenance(c.ctx(), c.device, req, c.who); err != nil {
		c.fail(backendError(err, http.StatusNotFound, "unknown device"))
		return
	}
	d, _ := s.backend.Device(c.device)
	c.finish(deviceResult{Device: d.DeviceStatus})
}

func (s *Server) putAssignment(w http.ResponseWriter, r *http.Request) {
	c := s.newCall(w, r, "assignment")
	var body struct {
		At *string `json:"at"`
	}
	if !c.begin(&body) {
		return
	}
	if body.At == nil || *body.At == "" {
		c.fail(&requestError{http.StatusBadRequest, "missing field",
			fmt.Sprintf("%s %s: field \"at\" is required (a bed or pool id)", r.Method, r.URL.Path)})
		return
	}
	to := clip(*body.At)
	c.detail = "at=" + to
	if !s.deviceKnown(c.device) {
		c.fail(s.unknownDevice(c))
		return
	}
	if !placeKnown(viewSite(s.backend.Site()), *body.At) {
		c.fail(&requestError{http.StatusUnprocessableEntity, "unknown bed or pool",
			fmt.Sprintf("%s %s: field \"at\": %q is neither a bed nor a pool of this site", r.Method, r.URL.Path, to)})
		return
	}
	if err := s.backend.Move(c.ctx(), c.device, *body.At, c.who); err != nil {
		c.fail(backendError(err, http.StatusUnprocessableEntity, "unknown bed or pool"))
		return
	}
	d, _ := s.backend.Device(c.device)
	c.finish(deviceResult{Device: d.DeviceStatus})
}

func placeKnown(site siteView, id string) bool {
	for _, u := range site.Units {
		for _, b := range u.Beds {
			if b == id {
				return true
			}
		}
	}
	for _, p := range site.Pools {
		if p.ID == id {
			return true
		}
	}
	return false
}

func (s *Server) postReload(w http.ResponseWriter, r *http.Request) {
	c := s.newCall(w, r, "reload")
	// The body is optional; when present it must be an empty object.
	var v any
	if r.ContentLength != 0 {
		v = &struct{}{}
	}
	if !c.begin(v) {
		return
	}
	if err := s.backend.Reload(c.ctx()); err != nil {
		if errors.Is(err, ErrUnavailable) {
			c.fail(&requestError{http.StatusServiceUnavailable, "temporarily unavailable", err.Error()})
			return
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			c.fail(&requestError{http.StatusServiceUnavailable, "reload interrupted",
				fmt.Sprintf("the gateway did not finish the reload in time (%v); it may still take effect: check before repeating it", err)})
			return
		}
		problems := nonEmptyLines(err.Error())
		reason := "the running config is kept"
		// A backend may lead with a summary line ending in ':' (the
		// gateway does); the problems follow, one per line.
		if len(problems) > 1 && strings.HasSuffix(problems[0], ":") {
			reason = strings.TrimSuffix(problems[0], ":")
			problems = problems[1:]
		}
		c.fail(&requestError{http.StatusUnprocessableEntity, "config rejected",
			fmt.Sprintf("%s; %d problem(s)", reason, len(problems))}, problems...)
		return
	}
	c.finish(map[string]string{"status": "reloaded"})
}

func nonEmptyLines(s string) []string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}
