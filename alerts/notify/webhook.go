package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
)

// Headers of a webhook request. The signature is
//
//	sha256=<hex of HMAC-SHA256(key, timestamp + "." + body)>
//
// over the exact bytes of the X-Icugate-Timestamp header and of the body;
// the key is the content of the receiver's secret_file, trimmed.
const (
	// HeaderDelivery carries the notification's ID: a receiver that must
	// not act twice drops a delivery whose ID it has seen.
	HeaderDelivery = "X-Icugate-Delivery"
	// HeaderTimestamp is when the request was signed, in Unix seconds.
	HeaderTimestamp = "X-Icugate-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256.
	HeaderSignature = "X-Icugate-Signature"
)

// Errors of VerifyWebhook, for errors.Is.
var (
	// ErrWebhookSignature: the signature is missing, malformed, or was
	// not made with this key over this timestamp and body.
	ErrWebhookSignature = errors.New("webhook signature does not match")
	// ErrWebhookTimestamp: the timestamp is not Unix seconds, or is
	// further from now than the allowed skew (a replayed request).
	ErrWebhookTimestamp = errors.New("webhook timestamp not acceptable")
)

// userAgent names the gateway to HTTP receivers.
const userAgent = "icugate"

// webhook POSTs each notification as JSON, signed.
type webhook struct {
	name    string
	url     *url.URL
	key     []byte
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
}

func newWebhook(cfg config.AlertReceiver, deps Deps) (*webhook, error) {
	u, err := parseHTTPURL(cfg.Name, cfg.URL)
	if err != nil {
		return nil, err
	}
	key, err := readSecretFile(cfg.Name, "secret_file", cfg.SecretFile)
	if err != nil {
		return nil, err
	}
	client, err := httpClient(cfg, deps)
	if err != nil {
		return nil, err
	}
	return &webhook{name: cfg.Name, url: u, key: []byte(key), timeout: cfg.Timeout, client: client, now: deps.Now}, nil
}

func (w *webhook) Name() string { return w.name }

// Send POSTs n; only a 2xx answer is a delivery.
func (w *webhook) Send(ctx context.Context, n Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return errorf(w.name, "encoding notification %s: %w", n.ID, err)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url.String(), bytes.NewReader(body))
	if err != nil {
		return errorf(w.name, "webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderDelivery, n.ID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, signWebhook(w.key, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		if why := gaveUp(ctx, err, w.timeout); why != "" {
			return errorf(w.name, "webhook %s: %s: %w", w.url.Redacted(), why, err)
		}
		return errorf(w.name, "webhook %s: %w", w.url.Redacted(), err)
	}
	defer drainClose(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorf(w.name, "webhook %s did not take notification %s: %w", w.url.Redacted(), n.ID, statusError(resp))
	}
	return nil
}

// Check connects to the webhook's host and port, and sends nothing: a
// request would be a notification, or an unsigned request the receiver
// must log as an attack.
func (w *webhook) Check(ctx context.Context) error {
	return dialCheck(ctx, w.name, hostPort(w.url), w.timeout)
}

func signWebhook(key []byte, timestamp string, body []byte) string {
	return "sha256=" + hex.EncodeToString(webhookMAC(key, timestamp, body))
}

func webhookMAC(key []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a webhook request as a receiver written in Go
// gets it: timestamp and signature are the X-Icugate-Timestamp and
// X-Icugate-Signature headers, body the raw request body (verify before
// decoding it). It returns nil when the signature is the key's over
// timestamp and body (compared in constant time) and the timestamp is
// within maxSkew of now; otherwise an error wrapping ErrWebhookSignature
// or ErrWebhookTimestamp. The timestamp check bounds how long a captured
// request can be replayed; within that window drop repeated
// X-Icugate-Delivery IDs (the gateway also repeats a delivery whose
// answer it did not get, by design).
func VerifyWebhook(key []byte, timestamp, signature string, body []byte, now time.Time, maxSkew time.Duration) error {
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("%w: want sha256=<hex HMAC-SHA256>", ErrWebhookSignature)
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: not hex", ErrWebhookSignature)
	}
	if !hmac.Equal(sig, webhookMAC(key, timestamp, body)) {
		return ErrWebhookSignature
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrWebhookTimestamp, timestamp)
	}
	skew := now.Sub(time.Unix(sec, 0))
	if skew > maxSkew || skew < -maxSkew {
		return fmt.Errorf("%w: signed at %s, %s from now; at most %s allowed", ErrWebhookTimestamp,
			time.Unix(sec, 0).UTC().Format(time.RFC3339), skew.Abs(), maxSkew)
	}
	return nil
}
