package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
)

// Deps are what a receiver needs from the gateway.
type Deps struct {
	// Hospital is the site's hospital id; Alertmanager's hospital label
	// falls back on it when a notification has none.
	Hospital string
	// Publish publishes on the gateway's MQTT connection; the mqtt
	// receiver needs it, the others ignore it.
	Publish Publisher
	// Now is the clock (webhook timestamps, e-mail Date, Alertmanager's
	// endsAt). Default time.Now.
	Now func() time.Time
	// HTTPClient, when set, carries the webhook's and Alertmanager's
	// requests instead of a client built from the receiver's tls: (its
	// redirect policy is replaced: see New).
	HTTPClient *http.Client
}

// New builds the receiver cfg describes. It reads the receiver's secret
// files now, so a missing or unreadable file is an error here, naming the
// receiver and the file (never the secret), and not at the first alert.
//
// HTTP receivers do not follow redirects: a 3xx is an error, because a
// client following a 302 would turn the POST into a GET and take the
// redirect target's 200 for a delivery.
//
// A receiver holds no goroutine and no open connection between calls (an
// HTTP client's idle connections close by themselves), so it needs no
// Close; Send, Restate and Check may be called from several goroutines.
func New(cfg config.AlertReceiver, deps Deps) (Receiver, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		// Config loading sets it; a zero here must not mean "wait forever".
		cfg.Timeout = config.DefaultReceiverTimeout
	}
	switch cfg.Type {
	case config.ReceiverWebhook:
		return newWebhook(cfg, deps)
	case config.ReceiverEmail:
		return newEmail(cfg, deps)
	case config.ReceiverAlertmanager:
		return newAlertmanager(cfg, deps)
	case config.ReceiverMQTT:
		return newMQTT(cfg, deps)
	}
	return nil, fmt.Errorf("receiver %s: unknown type %q: want %s, %s, %s or %s", cfg.Name, cfg.Type,
		config.ReceiverWebhook, config.ReceiverEmail, config.ReceiverAlertmanager, config.ReceiverMQTT)
}

// errorf prefixes an error with its receiver: health and the log show it
// as is, next to other receivers' errors.
func errorf(name, format string, args ...any) error {
	return fmt.Errorf("receiver %s: "+format, append([]any{name}, args...)...)
}

// gaveUp words a failure that the deadline or a cancellation caused,
// which the transport reports as "i/o timeout" or "context deadline
// exceeded"; "" for any other failure. A connection's deadline can fire
// a moment before ctx's own timer, so a network timeout counts as the
// deadline too.
func gaveUp(ctx context.Context, err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "cancelled (the gateway is stopping or reloading)"
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within the timeout (%s)", timeout)
	}
	return ""
}

// readSecretFile reads one of a receiver's secret files, trimmed as
// config.ReadSecret trims. It does not use ReadSecret itself: that falls
// back on an environment variable, and a receiver's secret lives only in
// its file (several receivers cannot share one variable), so the hint
// ReadSecret gives for a missing file would mislead.
func readSecretFile(name, key, file string) (string, error) {
	if file == "" {
		return "", errorf(name, "%s is required", key)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", errorf(name, "%s %s does not exist", key, file)
		}
		// The *PathError names the file and the cause, never its content.
		return "", errorf(name, "%s: %w", key, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", errorf(name, "%s %s is empty", key, file)
	}
	return s, nil
}

// httpClient is the client of an HTTP receiver: deps.HTTPClient, or one
// with the receiver's TLS settings (system roots without tls:).
func httpClient(cfg config.AlertReceiver, deps Deps) (*http.Client, error) {
	var c http.Client
	if deps.HTTPClient != nil {
		c = *deps.HTTPClient
	} else {
		tc, err := cfg.TLS.ClientConfig("receiver " + cfg.Name)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if tc != nil {
			tr.TLSClientConfig = tc
		}
		c = http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c, nil
}

// parseHTTPURL parses an HTTP receiver's url; config validation already
// checked it, this guards receivers built by other code.
func parseHTTPURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errorf(name, "url %q: want an absolute http(s) URL", redact(raw))
	}
	return u, nil
}

// redact hides a password in a URL that a user wrote.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// maxErrorBody is how much of a refusal's body an error quotes: enough for
// the peer's reason, bounded against a peer that answers with a page.
const maxErrorBody = 200

// statusError describes a non-2xx answer with the start of its body.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	body := strings.ToValidUTF8(string(bytes.TrimSpace(b)), "")
	if body == "" {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return fmt.Errorf("answered %s: %q", resp.Status, body)
}

// drainClose reads a little of what is left of a response so that its
// connection can be reused, and closes it.
func drainClose(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// hostPort is u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "smtp": "25", "smtps": "465"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// dialCheck tells whether addr accepts a TCP connection, and sends nothing.
func dialCheck(ctx context.Context, name, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if why := gaveUp(ctx, err, timeout); why != "" {
			return errorf(name, "cannot connect to %s: %s: %w", addr, why, err)
		}
		return errorf(name, "cannot connect to %s: %w", addr, err)
	}
	return c.Close()
}
