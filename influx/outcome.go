package influx

import (
	"errors"
	"net/http"
	"strings"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/icugate/icugate/internal/backoff"
)

// outcome is the one action taken for a server reply.
type outcome int

const (
	// written: every point was stored.
	written outcome = iota
	// retry: the server or network failed (no answer, 5xx, 429); the same
	// batch is sent again after a backoff, forever.
	retry
	// hold: the server refuses us, not a point (401, 403, 404 database not
	// found, a 400 that names no point), or something that is not InfluxDB
	// answers (a 2xx with a body: see checkedDoer): everything waits,
	// slowly retried, and it is raised loudly. Never drop or dead-letter
	// for these.
	hold
	// badPoint: 400 about the data (partial write, parse error, field type
	// conflict): the good lines were written; the batch is split down to the
	// bad line, which goes to the dead-letter file.
	badPoint
	// tooLarge: 413; the batch is halved.
	tooLarge
)

// reason is the label used in metrics and status for an outcome.
func (o outcome) reason(status int) string {
	switch o {
	case written:
		return "ok"
	case retry:
		if status == 0 {
			return "network"
		}
		if status == http.StatusTooManyRequests {
			return "throttled"
		}
		return "server"
	case hold:
		switch status {
		case http.StatusUnauthorized:
			return "unauthorized"
		case http.StatusForbidden:
			return "forbidden"
		case http.StatusNotFound:
			return "not_found"
		}
		if status >= 200 && status < 300 {
			return "unexpected_answer"
		}
		return "rejected"
	case badPoint:
		return "bad_point"
	default:
		return "too_large"
	}
}

// dataErrors are the texts by which InfluxDB says a 400 is about the points.
var dataErrors = []string{"partial write", "unable to parse", "field type conflict", "invalid field", "invalid tag", "invalid number", "bad timestamp", "max-values-per-tag"}

// classify maps a write error to its outcome, the HTTP status and the
// server's message.
func classify(err error) (outcome, int, string) {
	if err == nil {
		return written, 0, ""
	}
	var ua *unexpectedAnswer
	if errors.As(err, &ua) {
		return hold, ua.status, ua.Error()
	}
	var he *http2.Error
	if !errors.As(err, &he) {
		return retry, 0, err.Error()
	}
	msg := he.Message
	if msg == "" {
		msg = he.Error()
	}
	switch s := he.StatusCode; {
	case s == 0:
		return retry, 0, msg
	case s == http.StatusRequestEntityTooLarge:
		return tooLarge, s, msg
	case s == http.StatusBadRequest:
		low := strings.ToLower(msg)
		for _, d := range dataErrors {
			if strings.Contains(low, d) {
				return badPoint, s, msg
			}
		}
		return hold, s, msg
	case s == http.StatusUnauthorized, s == http.StatusForbidden, s == http.StatusNotFound:
		return hold, s, msg
	case s == http.StatusTooManyRequests, s >= 500:
		return retry, s, msg
	default:
		return hold, s, msg
	}
}

// Backoff paces the writer's retries (Deps.Retry, Deps.Hold): its Delay
// is Min·2^attempt capped at Max, with equal jitter (uniform in the upper
// half of that, not full jitter), so gateways that lost the same server do
// not return in lockstep. It is the gateway's one backoff,
// internal/backoff.Exponential, under the name influx's API has always
// used.
type Backoff = backoff.Exponential
