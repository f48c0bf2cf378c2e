package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
)

// statusWriter records the status code of a response. It unwraps to the
// underlying writer so that http.ResponseController (flush, deadlines)
// reaches the connection.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts and times requests by route pattern, and bounds the
// time to write each response (the event stream sets its own deadlines).
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		// Not supported by httptest recorders; harmless then.
		_ = http.NewResponseController(w).SetWriteDeadline(start.Add(s.replyTimeout))
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Inc()
		if route != eventsRoute {
			s.metrics.duration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
		}
	})
}

// recoverer turns a handler panic into a 500 and a log line: a bug in one
// request must not take down the gateway that keeps the counts.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("http handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, "internal error", "the gateway failed to serve this request; see its log")
		}()
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy lets the dashboard run only its own files: no
// inline script or style, no eval, no other origin, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaders keeps the dashboard self-contained: scripts, styles and
// connections only from this origin, no framing, no sniffing.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.TLS != nil {
			// Once reached over HTTPS, browsers keep to it for a year.
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// timeoutGrace is how much longer than RequestTimeout the backstop of
// bounded waits before it answers for a handler.
const timeoutGrace = 2 * time.Second

// bounded bounds the time to serve a request, in two layers. The handler's
// context ends after RequestTimeout, so a backend call returns and the
// handler answers for itself (a mutating call: 503 "gateway busy", and the
// audit trail says so). Should a handler or backend ignore its context, a
// backstop (http.TimeoutHandler) answers 503 a little later and the
// handler's late answer is discarded; its audit entry, when it finally
// comes, still records what happened.
func (s *Server) bounded(next http.Handler) http.Handler {
	limit := s.cfg.RequestTimeout + timeoutGrace
	body := fmt.Sprintf(`{"error":"timeout","reason":"the gateway did not answer within %s; a change asked for may still take effect: check before repeating it"}`, limit)
	backstop := http.TimeoutHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	}), limit, body)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backstop.ServeHTTP(jsonTimeoutWriter{w}, r)
	})
}

// jsonTimeoutWriter labels http.TimeoutHandler's own 503, which has no
// Content-Type, as the JSON it is. Every handler sets its own.
type jsonTimeoutWriter struct{ http.ResponseWriter }

func (w jsonTimeoutWriter) WriteHeader(code int) {
	h := w.Header()
	if code == http.StatusServiceUnavailable && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w jsonTimeoutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
