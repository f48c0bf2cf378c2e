package influxtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/icugate/icugate/internal/serverproc"
)

// fatalTB records what Start tells a test. Like a real one, Fatal ends the
// goroutine that calls it: call Start in a goroutine of its own.
type fatalTB struct {
	testing.TB
	fatal []any
}

func (f *fatalTB) Helper()           {}
func (f *fatalTB) Fatal(args ...any) { f.fatal = append(f.fatal, args...); runtime.Goexit() }

// fakeInflux answers /query with body and status, and records whether
// requests carried the admin's credentials.
func fakeInflux(t *testing.T, status int, body string) (*Server, *[]string) {
	t.Helper()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		seen = append(seen, fmt.Sprintf("%s %v %s:%s db=%s q=%s", r.URL.Path, ok, u, p, r.FormValue("db"), r.FormValue("q")))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return &Server{httpURL: srv.URL, URL: srv.URL, opts: Options{Auth: true, User: "admin", Password: "pw"}}, &seen
}

// TestQueryErrors: every way influxd can refuse a statement comes back as
// an error naming the statement, and credentials go with every query of
// a server with Auth.
func TestQueryErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"not JSON", http.StatusBadGateway, "upstream down", "status 502: upstream down"},
		{"request error", http.StatusUnauthorized, `{"error":"authorization failed"}`, "authorization failed"},
		{"statement error", http.StatusOK, `{"results":[{"statement_id":0,"error":"database not found: db"}]}`, "database not found: db"},
	} {
		s, seen := fakeInflux(t, c.status, c.body)
		_, err := s.Query("SELECT * FROM m")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"SELECT * FROM m"`) {
			t.Errorf("%s: %v; want an error naming the statement and %q", c.name, err, c.want)
		}
		if len(*seen) != 1 || (*seen)[0] != "/query true admin:pw db=db q=SELECT * FROM m" {
			t.Errorf("%s: requests %q; want one authenticated query of %s", c.name, *seen, Database)
		}
		if _, err := s.Count("m", "f"); err == nil {
			t.Errorf("%s: Count returned no error", c.name)
		}
	}
}

// TestCountOfAStringIsAnError: a count that is not a number is reported,
// not read as zero.
func TestCountOfAStringIsAnError(t *testing.T) {
	t.Parallel()
	s, seen := fakeInflux(t, http.StatusOK, `{"results":[{"series":[{"values":[[0,"many"]]}]}]}`)
	if n, err := s.CountIn("other", "m", "f"); err == nil || !strings.Contains(err.Error(), "unexpected value many") {
		t.Errorf("CountIn = %d, %v; want an unexpected-value error", n, err)
	}
	if want := `/query true admin:pw db=other q=SELECT count("f") FROM "m"`; len(*seen) != 1 || (*seen)[0] != want {
		t.Errorf("requests %q, want %q", *seen, want)
	}
	if _, err := (&Server{httpURL: "http://127.0.0.1:1"}).QueryIn("", "SHOW DATABASES"); err == nil {
		t.Error("query of an address nothing listens on returned no error")
	}
}

// TestLaunchReportsAnEarlyExit: an influxd that exits at start fails
// Launch with its log, and Start fails the test; the server is left
// stopped, so that it can be launched again.
func TestLaunchReportsAnEarlyExit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "influxd")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'run: bad config' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	port, err := serverproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	f := &fatalTB{}
	s := &Server{bin: bin, dir: dir, conf: filepath.Join(dir, "influxdb.conf"), httpURL: fmt.Sprintf("http://127.0.0.1:%d", port), t: f}
	if err := s.Launch(context.Background()); err == nil || !strings.Contains(err.Error(), "influxd exited at start") || !strings.Contains(err.Error(), "run: bad config") {
		t.Errorf("Launch of an influxd that exits: %v; want its log", err)
	}
	if s.proc.Running() {
		t.Error("an exited influxd is still recorded as running")
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Start() }()
	<-done
	if len(f.fatal) != 1 {
		t.Errorf("Start of an influxd that exits: failures %v, want one", f.fatal)
	}
	s.Stop() // nothing runs: does nothing
}

// TestConfig: the options reach influxd's config, with influxd's default
// body limit when none is given.
func TestConfig(t *testing.T) {
	t.Parallel()
	c := config("/d", 1234, 5678, Options{Auth: true})
	for _, want := range []string{`bind-address = "127.0.0.1:5678"`, `bind-address = "127.0.0.1:1234"`, "auth-enabled = true", "max-body-size = 25000000", `wal-dir = "/d/wal"`} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
	if c := config("/d", 1, 2, Options{MaxBodySize: 64}); !strings.Contains(c, "max-body-size = 64") || !strings.Contains(c, "auth-enabled = false") {
		t.Errorf("config with a body limit and no auth:\n%s", c)
	}
}
