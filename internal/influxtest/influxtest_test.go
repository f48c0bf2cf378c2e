package influxtest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// write posts line protocol to the server's v1 write endpoint, with the
// server's credentials when it has any.
func write(t *testing.T, s *Server, db, lines string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/write?db="+db, strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.Auth {
		req.SetBasicAuth(s.opts.User, s.opts.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// gone reports whether the process with this pid has exited and been
// reaped (signal 0 fails once it no longer exists).
func gone(pid int) bool { return syscall.Kill(pid, 0) != nil }

// TestStartWriteStopStartKeepsData is the outage the gateway's tests
// stage: points written before Stop are still there after Start, on the
// same address, and nothing answers in between.
func TestStartWriteStopStartKeepsData(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	if s.Bucket != Bucket || s.Token != "user:password" || !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("server %q %q %q: want the 1.8 bucket, a dummy token and a loopback URL", s.URL, s.Bucket, s.Token)
	}
	if code := write(t, s, Database, "m,device=v1 f=1i 1000000000\nm,device=v2 f=2i 2000000000\n"); code != http.StatusNoContent {
		t.Fatalf("write: status %d", code)
	}
	if n, err := s.Count("m", "f"); err != nil || n != 2 {
		t.Fatalf("Count = %d, %v; want 2", n, err)
	}
	if n, err := s.Count("absent", "f"); err != nil || n != 0 {
		t.Errorf("Count of an absent measurement = %d, %v; want 0", n, err)
	}
	pid := s.proc.Pid()
	s.Stop()
	if s.pings() {
		t.Fatal("server still answers after Stop")
	}
	if !gone(pid) {
		t.Fatalf("influxd %d still exists after Stop", pid)
	}
	s.Stop() // a second Stop does nothing
	s.Start()
	if n, err := s.Count("m", "f"); err != nil || n != 2 {
		t.Errorf("after restart Count = %d, %v; want the 2 points written before", n, err)
	}
	rows, err := s.Query(`SELECT f FROM m WHERE device = 'v2'`)
	if err != nil || len(rows) != 1 || rows[0][0] != float64(2e9) || rows[0][1] != float64(2) {
		t.Errorf("Query rows %v, %v; want [[2e9 2]] (time in ns, the value)", rows, err)
	}
	if _, err := s.Query("SELEKT nonsense"); err == nil {
		t.Error("a malformed statement returned no error")
	}
}

// TestNewOutsideATest starts a server the way the benchmark harness does
// (no testing.TB), uses a database of its own and stops it.
func TestNewOutsideATest(t *testing.T) {
	t.Parallel()
	if Binary() == "" {
		Require(t) // skips, or fails under CI=true
	}
	dir := filepath.Join(t.TempDir(), "influx")
	s, err := New(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.Dir() != dir {
		t.Errorf("Dir %q, want %q", s.Dir(), dir)
	}
	if err := s.CreateDatabase("bench01"); err != nil {
		t.Fatal(err)
	}
	if code := write(t, s, "bench01", "device_state,device=a state=1i\ndevice_state,device=b state=2i\ndevice_state,device=c state=3i\n"); code != http.StatusNoContent {
		t.Fatalf("write: status %d", code)
	}
	if n, err := s.CountIn("bench01", "device_state", "state"); err != nil || n != 3 {
		t.Errorf("CountIn(bench01) = %d, %v; want 3", n, err)
	}
	if n, err := s.Count("device_state", "state"); err != nil || n != 0 {
		t.Errorf("Count in %s = %d, %v; want 0 (the points went to bench01)", Database, n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "influxdb.conf")); err != nil {
		t.Errorf("config not in the given directory: %v", err)
	}
	pid := s.proc.Pid()
	s.Stop()
	if s.pings() || !gone(pid) {
		t.Errorf("influxd %d still running after Stop", pid)
	}
	if err := s.Launch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountIn("bench01", "device_state", "state"); err != nil || n != 3 {
		t.Errorf("after Launch CountIn = %d, %v; want 3", n, err)
	}
}

// TestNewHonoursContext: a cancelled context ends the wait for influxd,
// and New leaves no process behind.
func TestNewHonoursContext(t *testing.T) {
	t.Parallel()
	if Binary() == "" {
		Require(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := New(ctx, t.TempDir(), Options{})
	if !errors.Is(err, context.Canceled) || s != nil {
		t.Fatalf("New with a cancelled context: %v, %v; want context.Canceled and no server", s, err)
	}
}

// TestAuthRequiresCredentials: with Auth the token is user:password, the
// admin user exists, and anonymous writes are refused.
func TestAuthRequiresCredentials(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Auth: true})
	if s.Token != "admin:secret-pw" {
		t.Errorf("token %q, want the default admin's user:password", s.Token)
	}
	if code := write(t, s, Database, "m f=1i\n"); code != http.StatusNoContent {
		t.Fatalf("authenticated write: status %d", code)
	}
	resp, err := http.Post(s.URL+"/write?db="+Database, "text/plain", strings.NewReader("m f=2i\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous write: status %d, want 401", resp.StatusCode)
	}
	if n, err := s.Count("m", "f"); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want only the authenticated point", n, err)
	}
}

// TestMaxBodySizeRefusesLargeWrites: MaxBodySize reaches influxd's config.
func TestMaxBodySizeRefusesLargeWrites(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{MaxBodySize: 64})
	if code := write(t, s, Database, "m f=1i\n"); code != http.StatusNoContent {
		t.Fatalf("small write: status %d", code)
	}
	if code := write(t, s, Database, strings.Repeat("m,padding=xxxxxxxxxxxxxxxx f=1i\n", 8)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("write over the limit: status %d, want 413", code)
	}
}

// TestStartStopsAtCleanup: the server a test starts is gone once the test
// has ended, without the test stopping it.
func TestStartStopsAtCleanup(t *testing.T) {
	t.Parallel()
	var s *Server
	var pid int
	t.Run("uses a server", func(t *testing.T) {
		s = Start(t, Options{})
		pid = s.proc.Pid()
		if !s.pings() {
			t.Fatal("server does not answer /ping")
		}
	})
	if s == nil {
		return // skipped: influxd is not installed
	}
	if s.pings() || !gone(pid) {
		t.Errorf("influxd %d still running after its test ended", pid)
	}
}

// TestNewWithoutInfluxd: New says influxd is missing and how to install
// it, rather than failing to start it.
func TestNewWithoutInfluxd(t *testing.T) {
	t.Setenv("ICUGATE_CACHE", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	if _, err := New(context.Background(), t.TempDir(), Options{}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("New with nothing installed: %v; want ErrNotInstalled", err)
	}
}
