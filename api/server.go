package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/icugate/icugate/internal/logthrottle"
)

// Defaults of Config.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultHeartbeat    = 15 * time.Second
	DefaultRetry        = 3 * time.Second
	DefaultMaxBodyBytes = 64 << 10
	// DefaultWriteTimeout bounds every response except the event stream,
	// whose writes each get a deadline of their own.
	DefaultWriteTimeout    = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultRequestTimeout bounds serving one request, backend call
	// included (not the event stream).
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxEventClients bounds open event streams: enough for every
	// screen of a large hospital, few enough that a reconnect storm or a
	// misbehaving script cannot exhaust the box.
	DefaultMaxEventClients = 256
	// DefaultEventBuffer is how many transitions an event-stream client may
	// fall behind before it is disconnected.
	DefaultEventBuffer = 256
)

// Config configures the HTTP server.
type Config struct {
	// Listen is the address to listen on. Default 127.0.0.1:8080. Its
	// host, when a name, is an accepted Host (see Hosts).
	Listen string
	// Hosts are the host names, besides localhost and IP addresses, that
	// requests may name in their Host header (and mutating calls in their
	// Origin): the names the gateway is reached by, e.g.
	// "icugate.hospital.local". Any other name is refused with 421 on
	// every route but /healthz, which defeats DNS rebinding: a web page
	// whose name an attacker points at the gateway's address still sends
	// its own name as the Host. Compared without case, port or trailing
	// dot.
	Hosts []string
	// Tokens are the API tokens. With none, mutating calls are open (and
	// audited as "anonymous"). Each token's role bounds what it may do:
	// viewer reads, engineer also sets maintenance, moves devices,
	// acknowledges alerts and reads the audit trail, admin also reloads.
	Tokens []Token
	// ReadRequiresToken makes every API read and the event stream need a
	// token of any role (bearer header or dashboard session); the
	// dashboard's files stay public and the dashboard asks for a token.
	ReadRequiresToken bool
	// PublicHealth keeps /healthz and /readyz open under
	// ReadRequiresToken; PublicMetrics does the same for /metrics.
	PublicHealth  bool
	PublicMetrics bool
	// TLS, when set, serves HTTPS (Serve wraps the listener). Its
	// GetCertificate may swap certificates while running.
	TLS *tls.Config
	// Heartbeat is how often the event stream sends a comment line so that
	// proxies keep it open. Default 15s.
	Heartbeat time.Duration
	// Retry is the reconnection delay suggested to event-stream clients.
	// Default 3s.
	Retry time.Duration
	// MaxBodyBytes bounds request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// WriteTimeout bounds each write of an event stream, and writing any
	// other response (then never less than RequestTimeout plus a margin,
	// so that a timed-out request still gets its answer). Default 30s.
	WriteTimeout time.Duration
	// RequestTimeout bounds serving one request (every route but the
	// event stream). A backend call gets a context with this deadline; a
	// mutating call the backend did not confirm in time is answered 503.
	// Default 10s.
	RequestTimeout time.Duration
	// MaxEventClients bounds open event streams; beyond it GET
	// /api/v1/events is answered 503 with Retry-After. Default 256.
	MaxEventClients int
	// EventBuffer is how many transitions a stream client may fall behind
	// before it is disconnected (it reconnects and starts again from a
	// fresh snapshot). Default 256.
	EventBuffer int
	// ShutdownTimeout bounds a graceful shutdown in Run. Default 10s.
	ShutdownTimeout time.Duration
}

// Token is one API token and the identity recorded in the audit trail for
// calls that present it.
type Token struct {
	// Name identifies the holder in audit entries and maintenance causes,
	// e.g. "biomed". Default "token".
	Name string
	// Secret is the bearer token itself. Never logged.
	Secret string
	// Role is viewer, engineer or admin. Default admin (as every token
	// was before roles).
	Role string
}

// Deps are the server's collaborators.
type Deps struct {
	// Logger is used for request failures and lifecycle. Default
	// slog.Default().
	Logger *slog.Logger
	// Registerer receives the server's own metrics. Default: a new
	// registry, which is then also the Gatherer.
	Registerer prometheus.Registerer
	// Gatherer is what GET /metrics exposes (typically the gateway's
	// registry holding every package's metrics).
	Gatherer prometheus.Gatherer
	// Now is the clock for audit entries. Default time.Now.
	Now func() time.Time
}

// Server is the HTTP API and dashboard server.
type Server struct {
	cfg Config
	// replyTimeout bounds a response but the event stream, from the start
	// of the request: room for the handler's time and the backstop's.
	replyTimeout time.Duration
	backend      Backend
	log          *slog.Logger
	now          func() time.Time
	metrics      *metrics
	handler      http.Handler
	csrf         *http.CrossOriginProtection
	hosts        *hostPolicy
	access       *accessState
	streams      *eventHub
	// logs bounds the log lines that clients can cause (rejected calls,
	// foreign hosts): at most 20 a minute, all under one key, with the
	// count of those held back on the next line. Every call is still
	// audited and counted in metrics.
	logs *logthrottle.Limiter
}

// New builds a server. It registers the server's metrics with
// deps.Registerer, which fails if they are already registered there.
func New(cfg Config, backend Backend, deps Deps) (*Server, error) {
	if backend == nil {
		return nil, errors.New("api: nil backend")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxEventClients <= 0 {
		cfg.MaxEventClients = DefaultMaxEventClients
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = DefaultEventBuffer
	}
	hosts, err := newHostPolicy(cfg.Listen, cfg.Hosts)
	if err != nil {
		return nil, err
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	access, err := newAccessState(Access{Tokens: cfg.Tokens, ReadRequiresToken: cfg.ReadRequiresToken,
		PublicHealth: cfg.PublicHealth, PublicMetrics: cfg.PublicMetrics})
	if err != nil {
		return nil, err
	}
	cfg.Tokens = nil // the access state holds them, replaceable
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Registerer == nil {
		reg := prometheus.NewRegistry()
		deps.Registerer = reg
		if deps.Gatherer == nil {
			deps.Gatherer = reg
		}
	}
	if deps.Gatherer == nil {
		g, ok := deps.Registerer.(prometheus.Gatherer)
		if !ok {
			return nil, errors.New("api: no Gatherer for /metrics")
		}
		deps.Gatherer = g
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:          cfg,
		replyTimeout: max(cfg.WriteTimeout, cfg.RequestTimeout+timeoutGrace+time.Second),
		backend:      backend,
		log:          deps.Logger,
		now:          deps.Now,
		metrics:      m,
		csrf:         http.NewCrossOriginProtection(),
		hosts:        hosts,
		access:       access,
		streams:      newEventHub(backend, m, cfg.MaxEventClients, cfg.EventBuffer),
		logs:         logthrottle.New(20, time.Minute, deps.Now),
	}
	dash, err := dashboard()
	if err != nil {
		return nil, err
	}
	s.handler = s.routes(deps.Gatherer, dash)
	return s, nil
}

// Handler returns the server's handler, for tests and for mounting under
// another server.
func (s *Server) Handler() http.Handler { return s.handler }

// routes mounts every route. All but the event stream are bounded (see
// bounded); the stream lives as long as its client listens and bounds
// each write instead.
func (s *Server) routes(g prometheus.Gatherer, dash http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.instrument, s.securityHeaders, s.checkHost)
	r.Group(func(r chi.Router) {
		r.Use(s.bounded)
		r.With(s.protectRead(func(a Access) bool { return a.PublicHealth })).Get("/healthz", s.healthz)
		r.With(s.protectRead(func(a Access) bool { return a.PublicHealth })).Get("/readyz", s.readyz)
		r.With(s.protectRead(func(a Access) bool { return a.PublicMetrics })).Method(http.MethodGet, "/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}))
		// The dashboard's files hold no data; it asks for a token when
		// the API wants one.
		r.Handle("/*", dash)
	})
	r.Route("/api/v1", func(r chi.Router) {
		r.With(s.protectRead(nil)).Get("/events", s.events)
		r.Get("/backup", s.getBackup) // admin only; unbounded (backup.go)
		r.Group(func(r chi.Router) {
			r.Use(s.bounded)
			// Signing in and out is open: it is how a token is presented.
			r.Get("/session", s.getSession)
			r.Post("/session", s.postSession)
			r.Delete("/session", s.deleteSession)
		})
		r.Group(func(r chi.Router) {
			r.Use(s.bounded, s.protectRead(nil))
			r.Get("/site", s.getSite)
			r.Get("/devices", s.listDevices)
			r.Get("/devices/{id}", s.getDevice)
			r.Get("/beds", s.listBeds)
			r.Get("/capacity", s.getCapacity)
			r.Get("/capacity/fhir", s.getCapacityFHIR)
			r.Get("/capacity/fhir/Measure", s.getCapacityFHIRMeasure)
			r.Put("/devices/{id}/maintenance", s.putMaintenance)
			r.Put("/devices/{id}/assignment", s.putAssignment)
			r.Post("/reload", s.postReload)
			r.Get("/alerts", s.getAlerts)
			r.Get("/maintenance", s.getMaintenance)
			r.Get("/usage", s.getUsage)
			r.Post("/alerts/ack", s.postAlertAck)
			r.Get("/audit", s.getAudit)
		})
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "not found", fmt.Sprintf("%s %s: no such API route", r.Method, r.URL.Path))
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, "method not allowed", fmt.Sprintf("%s %s: method not allowed", r.Method, r.URL.Path))
		})
	})
	return r
}

// Run listens on cfg.Listen and serves until ctx ends, then shuts down
// gracefully: event streams end, requests in flight get ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// No WriteTimeout: it would cut the event stream. Every other
		// route gets a write deadline from the instrument middleware.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		BaseContext:    func(net.Listener) context.Context { return baseCtx },
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	// Shutdown ends the base context, so that event streams return and
	// graceful shutdown does not wait for them.
	hs.RegisterOnShutdown(cancelBase)
	if s.cfg.TLS != nil {
		tc := s.cfg.TLS.Clone()
		if tc.MinVersion < tls.VersionTLS12 {
			tc.MinVersion = tls.VersionTLS12
		}
		ln = tls.NewListener(ln, tc)
	}
	s.log.Info("http api listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS != nil)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("api: serve %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		hs.Close()
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if err := s.backend.Ready(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not ready", err.Error())
		return
	}
	if reasons := s.backend.Degraded(); len(reasons) > 0 {
		// 503 so that container health checks, systemd watchdogs and load
		// balancers see a gateway that runs but does not do its job.
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "degraded", "reasons": reasons})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
