package influx

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// InfluxDB's write endpoint (/api/v2/write, and /write on 1.x) answers a
// stored batch with 204 No Content: a 2xx and no body. The client library
// takes any 2xx as success and closes the body unread, so a proxy, load
// balancer or captive portal answering 200 with its own page would make us
// acknowledge points that were never stored and delete them from the
// outbox. checkedDoer sits between the library and the HTTP client and
// turns such an answer into an error, which classify holds.

// answerPeek is how much of an unexpected body is kept for the message;
// answerDrain how much more is read so the connection can be reused.
const (
	answerPeek  = 512
	answerDrain = 64 << 10
)

// checkedDoer is the HTTP doer the client library sends through: the
// library's own *http.Client (timeout, TLS) with the answer check.
type checkedDoer struct {
	c *http.Client
	// onAnswer, when set, is told of every answer (Deps.OnAnswer).
	onAnswer func(sent, received time.Time, h http.Header)
}

// Do sends req. A 2xx answer to a write that carries a body is returned as
// an *unexpectedAnswer, the body read and closed.
func (d checkedDoer) Do(req *http.Request) (*http.Response, error) {
	sent := time.Now()
	resp, err := d.c.Do(req)
	if err == nil && d.onAnswer != nil {
		d.onAnswer(sent, time.Now(), resp.Header)
	}
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 || !isWrite(req) {
		return resp, err
	}
	peek, err := io.ReadAll(io.LimitReader(resp.Body, answerPeek))
	if err == nil && len(peek) == 0 {
		return resp, nil // at EOF: nothing but the status, as InfluxDB answers
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, answerDrain))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("influxdb: read write answer: %w", err)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return nil, &unexpectedAnswer{status: resp.StatusCode, contentType: ct, body: string(peek)}
}

// isWrite tells a write request from anything else the client may send
// (a ping or health check answers 200 with a body by design).
func isWrite(req *http.Request) bool {
	return req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/write")
}

// unexpectedAnswer is a 2xx answer to a write that InfluxDB would not give:
// one with a body. Whoever answered, the points are not known to be stored.
type unexpectedAnswer struct {
	status      int
	contentType string
	body        string // the first answerPeek bytes
}

func (e *unexpectedAnswer) Error() string {
	what := "a body"
	if e.contentType != "" {
		what = "a " + e.contentType + " body"
	}
	start := strings.Join(strings.Fields(e.body), " ")
	if r := []rune(start); len(r) > 80 {
		start = string(r[:80]) + "…"
	}
	return fmt.Sprintf("HTTP %d with %s (%q), where InfluxDB answers a write with 204 No Content: "+
		"something else answers at influxdb.url (a proxy or captive portal?); points are held until InfluxDB itself answers",
		e.status, what, start)
}
