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
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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

	mu   sync.Mutex
	cmd  *exec.Cmd
	wait chan struct{}
	log  *os.File
}

// Binary returns the path of influxd, or "" when it is not installed.
func Binary() string {
	cache := os.Getenv("ICUGATE_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "icugate")
		}
	}
	if p := filepath.Join(cache, "bin", "influxd"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("influxd"); err == nil {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// ErrNotInstalled is returned by New when influxd is not installed.
var ErrNotInstalled = errors.New("influxd 1.8.3 not found in $ICUGATE_CACHE/bin, ~/.cache/icugate/bin or PATH: run scripts/install-influxdb.sh")

// Require returns influxd's path, skipping the test when it is missing
// (failing under CI=true).
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(ErrNotInstalled)
		}
		t.Skip(ErrNotInstalled)
	}
	return bin
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
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	rpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logPath := filepath.Join(s.dir, "influxd.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "run", "-config", s.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "INFLUXDB_REPORTING_DISABLED=true")
	// influxd dies with the program that started it, even a killed one.
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start influxd: %w", err)
	}
	s.cmd, s.log, s.wait = cmd, logf, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, s.wait)
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(s.httpURL + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		select {
		case <-s.wait:
			b, _ := os.ReadFile(logPath)
			s.reap()
			return fmt.Errorf("influxd exited at start:\n%s", b)
		case <-deadline.C:
			return fmt.Errorf("influxd did not answer /ping within 30s (log in %s)", logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// reap forgets an exited process. Caller holds mu.
func (s *Server) reap() {
	s.log.Close()
	s.cmd = nil
}

// Stop stops the process (SIGTERM, then SIGKILL after 10 s). Data stays.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.wait:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.wait
	}
	s.reap()
}

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
