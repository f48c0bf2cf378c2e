package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// stuckBackend is a gateway whose engine loop does not answer. Its
// mutating calls wait for their context to end, or, with deaf, ignore it
// and wait for release (and then apply). With stuckReads, Site waits for
// release too.
type stuckBackend struct {
	*testBackend
	deaf, stuckReads bool
	release          chan struct{}
}

func (b *stuckBackend) wait(ctx context.Context) error {
	if b.deaf {
		<-b.release
		return nil
	}
	<-ctx.Done()
	return fmt.Errorf("engine loop busy: %w", ctx.Err())
}

func (b *stuckBackend) SetMaintenance(ctx context.Context, device string, req MaintenanceRequest, by string) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	return b.testBackend.SetMaintenance(context.Background(), device, req, by)
}

func (b *stuckBackend) Move(ctx context.Context, device, to string, by string) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	return b.testBackend.Move(context.Background(), device, to, by)
}

func (b *stuckBackend) Reload(ctx context.Context) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	return b.testBackend.Reload(context.Background())
}

func (b *stuckBackend) Site() *config.Site {
	if b.stuckReads {
		<-b.release
	}
	return b.testBackend.Site()
}

// TestRequestsAreBounded runs in a synctest bubble: the durations are the
// bubble's fake time, exact and instant.
func TestRequestsAreBounded(t *testing.T) {
	cases := []struct {
		name             string
		deaf, stuckReads bool
		method, path     string
		body             string
		after            time.Duration // fake time until the answer
		error, reason    string
		audit            int // the audited status, 0 for none before release
	}{
		{"maintenance", false, false, "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on":true}`,
			DefaultRequestTimeout, "gateway busy", "may still take effect", 503},
		{"assignment", false, false, "PUT", "/api/v1/devices/vent-p1/assignment", `{"at":"icu-a-4"}`,
			DefaultRequestTimeout, "gateway busy", "may still take effect", 503},
		{"reload", false, false, "POST", "/api/v1/reload", "",
			DefaultRequestTimeout, "reload interrupted", "may still take effect", 503},
		// A backend deaf to its context: the backstop answers, and the
		// call, applied later, is audited as what it was.
		{"deaf backend", true, false, "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on":true}`,
			DefaultRequestTimeout + timeoutGrace, "timeout", "may still take effect", 0},
		{"stuck read", false, true, "GET", "/api/v1/site", "",
			DefaultRequestTimeout + timeoutGrace, "timeout", "did not answer within 12s", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := &stuckBackend{testBackend: newTestBackend(t), deaf: c.deaf, stuckReads: c.stuckReads, release: make(chan struct{})}
				srv, err := New(Config{}, b, Deps{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				w := httptest.NewRecorder()
				srv.Handler().ServeHTTP(w, newRequest(t.Context(), c.method, c.path, c.body))
				if took := time.Since(start); took != c.after {
					t.Errorf("answered after %s, want %s", took, c.after)
				}
				e := decode[apiError](t, w)
				if w.Code != http.StatusServiceUnavailable || e.Error != c.error || !strings.Contains(e.Reason, c.reason) ||
					!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
					t.Errorf("got %d %s %+v, want 503 %q with %q", w.Code, w.Header().Get("Content-Type"), e, c.error, c.reason)
				}
				log := b.auditLog()
				if c.audit != 0 && (len(log) != 1 || log[0].Status != c.audit || !strings.Contains(log[0].Result, "deadline exceeded")) {
					t.Errorf("audit: %+v, want one entry with status %d", log, c.audit)
				}
				close(b.release)
				synctest.Wait()
				if c.deaf {
					// Applied after all: the trail says so.
					if log := b.auditLog(); len(log) != 1 || log[0].Status != 200 {
						t.Errorf("audit after the late apply: %+v", log)
					}
				}
			})
		})
	}
}

func TestWriteTimeoutCoversRequestTimeout(t *testing.T) {
	srv, err := New(Config{RequestTimeout: time.Minute, WriteTimeout: time.Second}, newTestBackend(t), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if srv.replyTimeout <= time.Minute+timeoutGrace {
		t.Errorf("write deadline %s cuts a request allowed %s", srv.replyTimeout, srv.cfg.RequestTimeout)
	}
}

// failingBackend fails every mutating call with err.
type failingBackend struct {
	*testBackend
	err error
}

func (b *failingBackend) SetMaintenance(context.Context, string, MaintenanceRequest, string) error {
	return b.err
}
func (b *failingBackend) Move(context.Context, string, string, string) error { return b.err }
func (b *failingBackend) Reload(context.Context) error                       { return b.err }

// TestBackendFailuresAreAudited: a call that reached the backend is in the
// audit trail whatever came of it, with the status it was answered.
func TestBackendFailuresAreAudited(t *testing.T) {
	full := fmt.Errorf("%w: the state store did not confirm the change", ErrUnavailable)
	cases := []struct {
		name, method, path, body string
		err                      error
		code                     int
		error                    string
	}{
		{"store full", "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on":true}`, full, 503, "temporarily unavailable"},
		{"store full, move", "PUT", "/api/v1/devices/vent-p1/assignment", `{"at":"icu-a-4"}`, full, 503, "temporarily unavailable"},
		{"store full, reload", "POST", "/api/v1/reload", "", full, 503, "temporarily unavailable"},
		{"broken", "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on":true}`, errors.New("engine exploded"), 500, "not applied"},
		{"gone meanwhile", "PUT", "/api/v1/devices/vent-a2/maintenance", `{"on":true}`, fmt.Errorf("device: %w", pipeline.ErrUnknown), 404, "unknown device"},
		{"config rejected", "POST", "/api/v1/reload", "", errTestConfig, 422, "config rejected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &failingBackend{testBackend: newTestBackend(t), err: c.err}
			srv, err := New(Config{}, b, Deps{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, newRequest(t.Context(), c.method, c.path, c.body))
			e := decode[apiError](t, w)
			if w.Code != c.code || e.Error != c.error {
				t.Errorf("got %d %+v, want %d %q", w.Code, e, c.code, c.error)
			}
			if log := b.auditLog(); len(log) != 1 || log[0].Status != c.code {
				t.Errorf("audit: %+v, want one entry with %d", log, c.code)
			}
			if n := metricValue(srv.metrics.refused); n != 0 {
				t.Errorf("counted as refused: %v", n)
			}
		})
	}
}
