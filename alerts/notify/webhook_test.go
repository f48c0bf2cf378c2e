package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

// request is what the test webhook server received.
type request struct {
	method string
	header http.Header
	body   []byte
}

// hookServer is a real HTTP server that records each request and answers
// with status and body.
func hookServer(t *testing.T, status int, body string) (*httptest.Server, chan request) {
	t.Helper()
	got := make(chan request, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- request{method: r.Method, header: r.Header.Clone(), body: b}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func newWebhookFor(t *testing.T, url, key string, now func() time.Time, timeout time.Duration) Receiver {
	t.Helper()
	r, err := New(config.AlertReceiver{Name: "hook", Type: config.ReceiverWebhook, URL: url,
		SecretFile: writeFile(t, "key", key), Timeout: timeout}, Deps{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWebhookSignedJSON: the body is the notification's JSON, the headers
// carry its ID and a timestamp, and the signature verifies with the
// trimmed key, and with nothing else: another key, another body, another
// timestamp or a stale request are rejected.
func TestWebhookSignedJSON(t *testing.T) {
	t.Parallel()
	srv, got := hookServer(t, http.StatusNoContent, "")
	signedAt := time.Unix(1772352000, 0)
	r := newWebhookFor(t, srv.URL+"/icu/alerts", "  s3cret-key \n", func() time.Time { return signedAt }, 5*time.Second)
	n := firingAt(signedAt.Add(-2*time.Minute), "vent-offline/device/vent-a2")
	if err := r.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	req := <-got
	want, _ := json.Marshal(n)
	if req.method != http.MethodPost || !bytes.Equal(req.body, want) {
		t.Errorf("%s with body %s; want POST with %s", req.method, req.body, want)
	}
	var back Notification
	if err := json.Unmarshal(req.body, &back); err != nil || !reflect.DeepEqual(back, n) {
		t.Errorf("body decodes to %+v (%v), want %+v", back, err, n)
	}
	for k, v := range map[string]string{
		"Content-Type":  "application/json",
		HeaderDelivery:  n.ID,
		HeaderTimestamp: "1772352000",
	} {
		if got := req.header.Get(k); got != v {
			t.Errorf("header %s %q, want %q", k, got, v)
		}
	}
	ts, sig := req.header.Get(HeaderTimestamp), req.header.Get(HeaderSignature)
	key := []byte("s3cret-key")
	if err := VerifyWebhook(key, ts, sig, req.body, signedAt.Add(30*time.Second), time.Minute); err != nil {
		t.Errorf("VerifyWebhook of what the gateway sent: %v", err)
	}
	for _, c := range []struct {
		name           string
		key            []byte
		ts, sig        string
		body           []byte
		now            time.Time
		wantSignature  bool
		wantStaleOrBad bool
	}{
		{"wrong key", []byte("other-key"), ts, sig, req.body, signedAt, true, false},
		{"untrimmed key", []byte("  s3cret-key \n"), ts, sig, req.body, signedAt, true, false},
		{"body changed", key, ts, sig, bytes.Replace(req.body, []byte("vent-a2"), []byte("vent-a3"), 1), signedAt, true, false},
		{"timestamp changed", key, "1772352001", sig, req.body, signedAt, true, false},
		{"no sha256= prefix", key, ts, strings.TrimPrefix(sig, "sha256="), req.body, signedAt, true, false},
		{"not hex", key, ts, "sha256=zz", req.body, signedAt, true, false},
		{"stale", key, ts, sig, req.body, signedAt.Add(61 * time.Second), false, true},
		{"from the future", key, ts, sig, req.body, signedAt.Add(-61 * time.Second), false, true},
	} {
		err := VerifyWebhook(c.key, c.ts, c.sig, c.body, c.now, time.Minute)
		if errors.Is(err, ErrWebhookSignature) != c.wantSignature || errors.Is(err, ErrWebhookTimestamp) != c.wantStaleOrBad {
			t.Errorf("%s: VerifyWebhook = %v", c.name, err)
		}
	}
}

// TestWebhookRefusals: anything but a 2xx is an error naming the receiver,
// the status and the start of the answer (200 bytes at most), and never
// the key; a redirect is not followed.
func TestWebhookRefusals(t *testing.T) {
	t.Parallel()
	n := firingAt(time.Now(), "vent-offline/device/vent-a2")
	long := strings.Repeat("a", maxErrorBody) + "TAIL"
	srv, _ := hookServer(t, http.StatusInternalServerError, long)
	err := newWebhookFor(t, srv.URL, "s3cret-key", time.Now, 5*time.Second).Send(context.Background(), n)
	if err == nil {
		t.Fatal("500 taken for a delivery")
	}
	for _, w := range []string{"receiver hook:", "500 Internal Server Error", strings.Repeat("a", maxErrorBody), n.ID} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "TAIL") || strings.Contains(err.Error(), "s3cret-key") {
		t.Errorf("error quotes more than %d bytes of the answer, or the key: %q", maxErrorBody, err)
	}

	target, reached := hookServer(t, http.StatusOK, "")
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	err = newWebhookFor(t, redirect.URL, "k", time.Now, 5*time.Second).Send(context.Background(), n)
	if err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("redirect: %v; want an error naming 302", err)
	}
	select {
	case <-reached:
		t.Error("the redirect was followed")
	default:
	}
}

// TestWebhookUnreachable: a closed server is an error, and Check, which
// only connects, fails on it too but succeeds against a listening one.
func TestWebhookUnreachable(t *testing.T) {
	t.Parallel()
	srv, got := hookServer(t, http.StatusOK, "")
	r := newWebhookFor(t, srv.URL, "k", time.Now, 5*time.Second)
	if err := r.Check(context.Background()); err != nil {
		t.Errorf("Check against a listening server: %v", err)
	}
	select {
	case req := <-got:
		t.Errorf("Check sent a request: %+v", req)
	default:
	}
	srv.Close()
	err := r.Send(context.Background(), firingAt(time.Now(), "a/b"))
	if err == nil || !strings.Contains(err.Error(), "receiver hook: webhook "+srv.URL) {
		t.Errorf("Send to a closed server: %v", err)
	}
	err = r.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "receiver hook: cannot connect to "+strings.TrimPrefix(srv.URL, "http://")) {
		t.Errorf("Check against a closed port: %v", err)
	}
}

// TestWebhookHonoursTimeoutAndContext: a webhook that never answers
// fails at the receiver's timeout, and a cancelled context ends a
// delivery, each said in words.
func TestWebhookHonoursTimeoutAndContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client that went away only once the body
		// is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for handlers
	n := firingAt(time.Now(), "a/b")
	err := newWebhookFor(t, srv.URL, "k", time.Now, 100*time.Millisecond).Send(context.Background(), n)
	if err == nil || !strings.Contains(err.Error(), "no answer within the timeout (100ms)") {
		t.Errorf("hanging webhook: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err = newWebhookFor(t, srv.URL, "k", time.Now, time.Minute).Send(ctx, n)
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("cancelled delivery: %v", err)
	}
}

// TestHostPortDefaults: Check dials the scheme's default port when the URL
// names none.
func TestHostPortDefaults(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"http://hooks.example/x":       "hooks.example:80",
		"https://hooks.example/x":      "hooks.example:443",
		"https://hooks.example:8443/x": "hooks.example:8443",
		"http://[::1]/x":               "[::1]:80",
	} {
		u, err := parseHTTPURL("hook", raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := hostPort(u); got != want {
			t.Errorf("%s: %s, want %s", raw, got, want)
		}
	}
}
