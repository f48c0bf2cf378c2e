package api

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// hostPolicy decides which names a request may give the gateway, in its
// Host header and, for mutating calls, its Origin.
//
// It is the defence against DNS rebinding: a page at http://evil.example
// whose name the attacker then points at the gateway's address is, to the
// browser, same-origin with itself, so neither CORS nor Sec-Fetch-Site
// stops it; but its requests still carry Host: evil.example. Accepted are
// the configured names, localhost, the listen address's own host, and any
// IP address: a request naming the gateway by address is not a rebinding
// (that needs a name the attacker controls), and an engineer who types
// the gateway's address must reach it.
type hostPolicy struct {
	// names are lower case, without trailing dot.
	names []string
}

func newHostPolicy(listen string, hosts []string) (*hostPolicy, error) {
	p := &hostPolicy{names: []string{"localhost"}}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		p.add(h)
	}
	for _, h := range hosts {
		if h == "" || (strings.ContainsAny(h, ":/@ ") && !isIP(h)) {
			return nil, fmt.Errorf("api: host %q: want a host name such as icugate.hospital.local, without scheme, port or path", h)
		}
		p.add(h)
	}
	return p, nil
}

func (p *hostPolicy) add(h string) {
	h = normalHost(h)
	if !isIP(h) && !slices.Contains(p.names, h) {
		p.names = append(p.names, h)
	}
}

// normalHost lower-cases h and strips IPv6 brackets and a trailing dot.
func normalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return h
}

func isIP(h string) bool {
	_, err := netip.ParseAddr(normalHost(h))
	return err == nil
}

// allowed reports whether host (a Host header value, with or without
// port) names this gateway.
func (p *hostPolicy) allowed(host string) bool {
	if host == "" {
		return false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = normalHost(host)
	return host != "" && (isIP(host) || slices.Contains(p.names, host))
}

// originAllowed reports whether an Origin header names this gateway. The
// opaque origin "null" (sandboxed frames, local files) does not.
func (p *hostPolicy) originAllowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return p.allowed(u.Host)
}

// accepted lists what the policy accepts, for error messages.
func (p *hostPolicy) accepted() string {
	return strings.Join(p.names, ", ") + " and IP addresses"
}

// checkHost refuses, with 421, a request whose Host names something other
// than this gateway. /healthz is exempt: liveness probes address the
// gateway however their platform does, and it reveals nothing.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || s.hosts.allowed(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		s.metrics.misdirected.Inc()
		if ok, suppressed := s.logs.Allow(""); ok {
			s.log.Info("http request for a foreign host refused", "host", clip(r.Host), "method", r.Method,
				"path", clip(r.URL.Path), "remote", r.RemoteAddr, "suppressed", suppressed)
		}
		writeError(w, http.StatusMisdirectedRequest, "host not accepted",
			fmt.Sprintf("Host %q does not name this gateway: it answers to %s; add the name to http.hosts to reach it by it",
				clip(r.Host), s.hosts.accepted()))
	})
}
