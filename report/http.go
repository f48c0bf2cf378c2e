package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/icugate/icugate/internal/backoff"
)

// HTTPTransport POSTs each message to URL as application/json, retrying
// network errors, 408, 429 and 5xx answers with exponential backoff. Any
// other answer outside 2xx is final: retrying a rejected report changes
// nothing.
type HTTPTransport struct {
	URL    string
	Client *http.Client
	// Attempts is the number of tries per message; default 5.
	Attempts int
	// Backoff is the wait before the first retry, doubled each time up to
	// MaxBackoff (each wait drawn from its upper half, internal/backoff);
	// defaults 1s and 30s.
	Backoff, MaxBackoff time.Duration
	// OnAnswer, when set, is told of every HTTP answer (sent and received
	// on the local clock, the answer's headers): the gateway reads the
	// endpoint's Date to watch its own clock.
	OnAnswer func(sent, received time.Time, h http.Header)
}

// Send implements Transport.
func (t *HTTPTransport) Send(ctx context.Context, m Message) error {
	attempts, wait, maxWait := t.Attempts, t.Backoff, t.MaxBackoff
	if attempts <= 0 {
		attempts = 5
	}
	if wait <= 0 {
		wait = time.Second
	}
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	client := t.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("report http %s: %w (last error: %v)", t.URL, ctx.Err(), last)
			case <-time.After(backoff.Exponential{Min: wait, Max: maxWait}.Delay(i - 1)):
			}
		}
		retry, err := t.post(ctx, client, m)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return fmt.Errorf("report http %s: %w", t.URL, last)
}

func (t *HTTPTransport) post(ctx context.Context, client *http.Client, m Message) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Icugate-Hospital", m.Hospital)
	req.Header.Set("X-Icugate-Sequence", strconv.FormatUint(m.Sequence, 10))
	sent := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return ctx.Err() == nil, err
	}
	if t.OnAnswer != nil {
		t.OnAnswer(sent, time.Now(), resp.Header)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return true, fmt.Errorf("status %s: %s", resp.Status, bytes.TrimSpace(body))
	default:
		return false, fmt.Errorf("status %s (not retried): %s", resp.Status, bytes.TrimSpace(body))
	}
}
