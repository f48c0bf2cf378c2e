package influx

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/icugate/icugate/config"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		err    error
		want   outcome
		reason string
	}{
		{nil, written, "ok"},
		{errors.New("dial tcp: connection refused"), retry, "network"},
		{&http2.Error{StatusCode: 503}, retry, "server"},
		{&http2.Error{StatusCode: 500, Message: "timeout"}, retry, "server"},
		{&http2.Error{StatusCode: 429}, retry, "throttled"},
		{&http2.Error{StatusCode: 401, Message: "authorization failed"}, hold, "unauthorized"},
		{&http2.Error{StatusCode: 403}, hold, "forbidden"},
		{&http2.Error{StatusCode: 404, Message: `database not found: "db"`}, hold, "not_found"},
		{&http2.Error{StatusCode: 400, Message: "database is required"}, hold, "rejected"},
		{&http2.Error{StatusCode: 400, Message: `partial write: field type conflict: input field "v" on measurement "m" is type float, already exists as type integer dropped=1`}, badPoint, "bad_point"},
		{&http2.Error{StatusCode: 400, Message: `unable to parse 'x': missing fields`}, badPoint, "bad_point"},
		{&http2.Error{StatusCode: 413}, tooLarge, "too_large"},
	}
	for _, c := range cases {
		got, status, _ := classify(c.err)
		if got != c.want || got.reason(status) != c.reason {
			t.Errorf("%v: got %v/%s, want %v/%s", c.err, got, got.reason(status), c.want, c.reason)
		}
	}
}

// TestBackoffGrowsWithJitterAndCap checks the writer's retry pacing
// through influx's Backoff name (internal/backoff tests the policy itself):
// attempt 0 waits about Min, each attempt doubles up to Max, and the equal
// jitter keeps each wait in the upper half of that.
func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	for attempt, ceil := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		ceil *= time.Millisecond
		for range 50 {
			d := b.Delay(attempt)
			if d < ceil-ceil/2 || d > ceil {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, ceil-ceil/2, ceil)
			}
		}
	}
}

func TestTokenFromFileOrEnvNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("admin:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := loadToken(file, func(string) string { return "env:other" })
	if err != nil || string(tok) != "admin:s3cret" {
		t.Fatalf("file token %q, %v", tok, err)
	}
	tok, _ = loadToken("", func(k string) string {
		if k == TokenEnv {
			return "env:tok"
		}
		return ""
	})
	if string(tok) != "env:tok" {
		t.Fatalf("env token %q", tok)
	}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "token", tok)
	if out := sb.String() + fmt.Sprint(tok) + fmt.Sprintf("%v %s %#v", tok, tok, tok); strings.Contains(out, "env:tok") {
		t.Fatalf("token printed: %s", out)
	}
	if _, err := loadToken(filepath.Join(dir, "missing"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing token file: %v", err)
	}
}

func TestTLSConfigErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := tlsConfig(&config.TLS{CAFile: bad}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad CA: %v", err)
	}
	if _, err := tlsConfig(&config.TLS{CertFile: "c.pem"}); err == nil {
		t.Fatal("cert without key accepted")
	}
	if c, err := tlsConfig(nil); c != nil || err != nil {
		t.Fatal("nil TLS config should mean plain HTTP")
	}
}
