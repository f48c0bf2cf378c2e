// Package influxtest runs a real InfluxDB OSS 1.8 server (influxd) for
// integration tests: on free loopback ports, with its data in a test's
// temporary directory, stopped when the test ends. Programs that are not
// tests (the benchmark harness cmd/icusim/gatebench) start one with New
// and stop it themselves.
//
// influxd is looked up in $ICUGATE_CACHE/bin (default ~/.cache/icugate/bin,
// where scripts/install-influxdb.sh builds it), then in PATH. When it is
// missing the test is skipped, or failed when CI=true.
package influxtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/serverproc"
)

// Database is the database every server is created with; Bucket is how the
// v2 write API on 1.8 names it with its default retention policy.
const (
	Database = "db"
	Bucket   = "db/autogen"
)

// Options adjust a server.
type Options struct {
	// Auth enables authentication with an admin user User/Password.
	Auth           bool
	User, Password string
	// MaxBodySize limits write bodies (bytes); 0 keeps influxd's default.
	MaxBodySize int
}

// Server is one influxd process. Its URL, Token and Bucket are what a
// client needs; Stop and Start (Launch outside tests) simulate an outage
// on the same address and data.
type Server struct {
	URL    string
	Token  string // "user:password", what 1.8 accepts as a v2 token
	Bucket string

	t       testing.TB // nil for a server from New
	bin     string
	dir     string
	conf    string
	opts    Options
	httpURL string

	proc serverproc.Process
}

// ErrNotInstalled is returned by New when influxd is not installed.
var ErrNotInstalled = errors.New("influxd 1.8.3 not found in $ICUGATE_CACHE/bin, ~/.cache/icugate/bin or PATH: run scripts/install-influxdb.sh")

var binary = serverproc.Binary{Name: "influxd", NotInstalled: ErrNotInstalled}

// Binary returns the path of influxd, or "" when it is not installed.
func Binary() string { return binary.Path() }

// Require returns influxd's path, skipping the test when it is missing
// (failing under CI=true).
func Require(t testing.TB) string {
	t.Helper()
	return binary.Require(t)
}

// Start starts a server for the test, creates Database and registers its
// stop with t.Cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Require(t)
	s, err := newServer(context.Background(), bin, t.TempDir(), opts)
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.t = t
	return s
}

// New starts a server with its files in dir (created if missing), creates
// Database and returns it running; the caller stops it with Stop. It waits
// up to 30 s for influxd to answer, or until ctx ends.
func New(ctx context.Context, dir string, opts Options) (*Server, error) {
	bin := Binary()
	if bin == "" {
		return nil, ErrNotInstalled
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s, err := newServer(ctx, bin, dir, opts)
	if err != nil && s != nil {
		s.Stop()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newServer writes the config, starts influxd and creates Database. A
// server it returns with an error may be running: the caller stops it.
func newServer(ctx context.Context, bin, dir string, opts Options) (*Server, error) {
	if opts.Auth && opts.User == "" {
		opts.User, opts.Password = "admin", "secret-pw"
	}
	ports, err := serverproc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	httpPort, rpcPort := ports[0], ports[1]
	s := &Server{
		bin: bin, dir: dir, opts: opts,
		conf:    filepath.Join(dir, "influxdb.conf"),
		httpURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		Bucket:  Bucket,
		Token:   "user:password",
	}
	if opts.Auth {
		s.Token = opts.User + ":" + opts.Password
	}
	s.URL = s.httpURL
	if err := os.WriteFile(s.conf, []byte(config(dir, httpPort, rpcPort, opts)), 0o600); err != nil {
		return nil, err
	}
	if err := s.launch(ctx); err != nil {
		return s, err
	}
	if opts.Auth {
		// With no user yet, 1.8 lets exactly this statement through.
		if _, err := s.query(Database, fmt.Sprintf("CREATE USER %q WITH PASSWORD '%s' WITH ALL PRIVILEGES", opts.User, opts.Password), false); err != nil {
			return s, err
		}
	}
	return s, s.CreateDatabase(Database)
}

func config(dir string, httpPort, rpcPort int, o Options) string {
	return fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"

[meta]
  dir = %q

[data]
  dir = %q
  wal-dir = %q
  index-version = "inmem"
  query-log-enabled = false
  trace-logging-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = %t
  log-enabled = false
  write-tracing = false
  pprof-enabled = false
  max-body-size = %d

[logging]
  level = "warn"
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"),
		httpPort, o.Auth, maxBody(o.MaxBodySize))
}

func maxBody(n int) int {
	if n == 0 {
		return 25000000 // influxd's default
	}
	return n
}

// Start (re)starts the process of a test's server on the same ports and
// data and waits until it answers /ping; it fails the test if it cannot.
// A server from New is restarted with Launch.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.launch(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

// Launch (re)starts the process on the same ports and data and waits until
// it answers /ping (at most 30 s, or until ctx ends). Starting a running
// server does nothing.
func (s *Server) Launch(ctx context.Context) error { return s.launch(ctx) }

func (s *Server) launch(ctx context.Context) error {
	logPath := filepath.Join(s.dir, "influxd.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	// influxd writes through its own descriptor; ours is done with once it
	// has started.
	defer logf.Close()
	cmd := exec.Command(s.bin, "run", "-config", s.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "INFLUXDB_REPORTING_DISABLED=true")
	err = s.proc.Start(ctx, cmd, 30*time.Second, s.pings)
	if errors.Is(err, serverproc.ErrRunning) {
		return nil
	}
	if err != nil {
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("influxd %w (log in %s):\n%s", err, logPath, b)
	}
	return nil
}

// pings reports whether influxd answers /ping, which it does once it
// serves queries and writes.
func (s *Server) pings() bool {
	resp, err := http.Get(s.httpURL + "/ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}

// Stop stops the process (SIGTERM, then SIGKILL after 10 s). Data stays.
func (s *Server) Stop() { s.proc.Stop(10 * time.Second) }

// Dir is the directory holding the server's config, data and log.
func (s *Server) Dir() string { return s.dir }

// Query runs an InfluxQL statement against Database and returns the raw
// JSON answer's series values.
func (s *Server) Query(q string) ([][]any, error) {
	return s.query(Database, q, s.opts.Auth)
}

// QueryIn runs an InfluxQL statement against database db ("" for none,
// as CREATE DATABASE needs) and returns its series' rows.
func (s *Server) QueryIn(db, q string) ([][]any, error) {
	return s.query(db, q, s.opts.Auth)
}

// CreateDatabase creates a database (nothing happens if it exists).
func (s *Server) CreateDatabase(name string) error {
	_, err := s.query("", fmt.Sprintf("CREATE DATABASE %q", name), s.opts.Auth)
	return err
}

type queryResult struct {
	Results []struct {
		Error  string `json:"error"`
		Series []struct {
			Values [][]any `json:"values"`
		} `json:"series"`
	} `json:"results"`
	Error string `json:"error"`
}

func (s *Server) query(db, q string, auth bool) ([][]any, error) {
	v := url.Values{"q": {q}, "epoch": {"ns"}}
	if db != "" {
		v.Set("db", db)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.httpURL+"/query", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth {
		req.SetBasicAuth(s.opts.User, s.opts.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r queryResult
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: status %d: %s", q, resp.StatusCode, body)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	var rows [][]any
	for _, res := range r.Results {
		if res.Error != "" {
			return nil, fmt.Errorf("query %q: %s", q, res.Error)
		}
		for _, se := range res.Series {
			rows = append(rows, se.Values...)
		}
	}
	return rows, nil
}

// Count returns how many points of measurement have field set (0 when the
// measurement does not exist).
func (s *Server) Count(measurement, field string) (int, error) {
	return s.CountIn(Database, measurement, field)
}

// CountIn is Count in database db.
func (s *Server) CountIn(db, measurement, field string) (int, error) {
	rows, err := s.QueryIn(db, fmt.Sprintf(`SELECT count(%q) FROM %q`, field, measurement))
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 || len(rows[0]) < 2 {
		return 0, nil
	}
	n, ok := rows[0][1].(float64)
	if !ok {
		return 0, fmt.Errorf("count of %s.%s: unexpected value %v", measurement, field, rows[0][1])
	}
	return int(n), nil
}
