package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/store"
)

// storeBackend is the test backend with a real state store to back up.
type storeBackend struct {
	*testBackend
	st *store.Store
	// fail, when set, is returned instead of a copy.
	fail error
}

func (b *storeBackend) BackupState(_ context.Context, w io.Writer, start func(int64, int) error) error {
	if b.fail != nil {
		return b.fail
	}
	_, err := b.st.Backup(w, func(n int64) error { return start(n, store.Format) })
	return err
}

func newStoreFixture(t *testing.T, cfg Config) (*storeBackend, *httptest.Server) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &storeBackend{testBackend: newTestBackend(t), st: st}
	reg := prometheus.NewRegistry()
	srv, err := New(cfg, b, Deps{Registerer: reg, Gatherer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return b, ts
}

func getBackup(t *testing.T, ts *httptest.Server, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/backup", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestBackupOverAPI takes copies of a live store that a writer changes
// all the while, with an admin token: each opens, is consistent, and is
// as long as Content-Length said. A viewer or engineer token, or none, is
// refused; every call is in the audit trail.
func TestBackupOverAPI(t *testing.T) {
	b, ts := newStoreFixture(t, Config{Tokens: roleTokens()})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if err := b.st.SetAssignment(fmt.Sprintf("dev-%d", i%50), store.Assignment{At: strconv.Itoa(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	dir := t.TempDir()
	for k := range 3 {
		resp := getBackup(t, ts, adminToken)
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("admin backup: %d, %v: %.200s", resp.StatusCode, err, body)
		}
		if resp.ContentLength != int64(len(body)) || resp.Header.Get(StateFormatHeader) != strconv.Itoa(store.Format) ||
			resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("headers %v for %d bytes", resp.Header, len(body))
		}
		path := filepath.Join(dir, fmt.Sprintf("copy%d.db", k))
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if f, err := store.Verify(path); err != nil || f != store.Format {
			t.Errorf("copy %d: Verify = %d, %v", k, f, err)
		}
	}
	stop()
	wg.Wait()

	for _, c := range []struct {
		token string
		code  int
		who   string
	}{{viewerToken, 403, "ward-screen"}, {engineerToken, 403, "biomed"}, {"", 401, anonymous}} {
		resp := getBackup(t, ts, c.token)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.code || !strings.Contains(string(body), "admin") || resp.Header.Get(StateFormatHeader) != "" {
			t.Errorf("backup as %s: %d %s; want %d naming the admin role", c.who, resp.StatusCode, body, c.code)
		}
	}
	var ok, refused []string
	for _, a := range b.auditLog() {
		if a.Action != "backup" {
			continue
		}
		if a.Result == "ok" && a.Status == 200 && strings.HasPrefix(a.Detail, "bytes=") {
			ok = append(ok, a.Who)
		} else if a.Status >= 400 {
			refused = append(refused, a.Who)
		}
	}
	if strings.Join(ok, " ") != "it-admin it-admin it-admin" || strings.Join(refused, " ") != "ward-screen biomed anonymous" {
		t.Errorf("audit trail: ok %q, refused %q", ok, refused)
	}
}

// TestBackupOpenWithoutTokens: with no tokens configured every call is
// open, as reload is; the copy is served.
func TestBackupOpenWithoutTokens(t *testing.T) {
	_, ts := newStoreFixture(t, Config{})
	resp := getBackup(t, ts, "")
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || int64(len(body)) != resp.ContentLength {
		t.Errorf("backup without tokens: %d, %d bytes of %d", resp.StatusCode, len(body), resp.ContentLength)
	}
}

func TestBackupFailures(t *testing.T) {
	b, ts := newStoreFixture(t, Config{})
	b.fail = errors.New("disk on fire")
	resp := getBackup(t, ts, "")
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 500 || !strings.Contains(string(body), "disk on fire") {
		t.Errorf("failing backup: %d %s; want 500 with the reason", resp.StatusCode, body)
	}
	// A backend without a store answers 501.
	f := newFixture(t, Config{})
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, newRequest(context.Background(), http.MethodGet, "/api/v1/backup", ""))
	if w.Code != http.StatusNotImplemented {
		t.Errorf("backend without a store: %d %s; want 501", w.Code, w.Body)
	}
}
