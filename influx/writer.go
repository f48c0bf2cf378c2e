package influx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/outbox"
)

// Queue is the durable queue the writer appends to and drains;
// *outbox.Outbox implements it. Next/Ack/Rewind are used by Run only.
type Queue interface {
	Append(ctx context.Context, recs ...outbox.Record) error
	Next(maxEntries, maxBytes int) (outbox.Batch, error)
	Ack(b outbox.Batch) error
	Rewind()
	Notify() <-chan struct{}
	Pending() uint64
}

// Defaults for a write batch (config.InfluxDB BatchSize, FlushInterval).
const (
	DefaultBatchSize     = 5000
	DefaultFlushInterval = time.Second
	maxBatchBytes        = 8 << 20
)

// Deps are the writer's collaborators and tunables.
type Deps struct {
	// Queue is the outbox to drain (required).
	Queue Queue
	// DeadLetterPath is the JSON-lines file for points the server refuses
	// for themselves (required).
	DeadLetterPath string
	// Registerer receives the writer's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger; nil discards.
	Logger *slog.Logger
	// Getenv reads the token variable; nil means os.Getenv.
	Getenv func(string) string
	// Retry is the backoff for network errors and 5xx (default 200ms..30s);
	// Hold for refusals that name no point (default 5s..60s).
	Retry, Hold Backoff
	// Timeout bounds one HTTP request (default 10s).
	Timeout time.Duration
	// NoGzip sends bodies uncompressed. With gzip (the default) InfluxDB
	// 1.8 cannot see a body's size up front and never answers 413.
	NoGzip bool
	// OnAnswer, when set, is told of every HTTP answer: when the request
	// was sent and the answer received (local clock) and its headers. The
	// gateway reads the server's Date from it to watch its own clock.
	OnAnswer func(sent, received time.Time, h http.Header)
}

// Writer drains the outbox into InfluxDB with the client's blocking write
// API, one batch at a time, and decides per server reply what to do (see
// outcome). It never drops a point: a point leaves the outbox only when the
// server stored it or refused it for itself (then it is in the dead-letter
// file with the server's reason).
type Writer struct {
	q         Queue
	client    influxdb2.Client
	httpc     *http.Client
	api       api.WriteAPIBlocking
	dead      *deadLetter
	logger    *slog.Logger
	m         *metrics
	retry     Backoff
	hold      Backoff
	batchSize int
	flush     time.Duration
	perReq    int // points per request; halved on 413
	attempt   int // failed attempts in a row, for the backoff

	mu     sync.Mutex
	status Status
	loud   time.Time // last time a hold was logged at error level
}

// NewWriter builds a writer for cfg. The token comes from cfg.TokenFile or
// the ICUGATE_INFLUXDB_TOKEN variable and is never logged.
func NewWriter(cfg *config.InfluxDB, deps Deps) (*Writer, error) {
	if cfg == nil || cfg.URL == "" {
		return nil, errors.New("influxdb: no url configured")
	}
	if deps.Queue == nil || deps.DeadLetterPath == "" {
		return nil, errors.New("influxdb: writer needs a queue and a dead-letter path")
	}
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Retry == (Backoff{}) {
		deps.Retry = Backoff{Min: 200 * time.Millisecond, Max: 30 * time.Second}
	}
	if deps.Hold == (Backoff{}) {
		deps.Hold = Backoff{Min: 5 * time.Second, Max: time.Minute}
	}
	if deps.Timeout <= 0 {
		deps.Timeout = 10 * time.Second
	}
	token, err := loadToken(cfg.TokenFile, deps.Getenv)
	if err != nil {
		return nil, err
	}
	tc, err := tlsConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	opts := influxdb2.DefaultOptions().
		SetUseGZip(!deps.NoGzip).
		SetPrecision(time.Nanosecond).
		SetHTTPRequestTimeout(uint(max(1, deps.Timeout/time.Second))).
		SetLogLevel(0)
	if tc != nil {
		opts.SetTLSConfig(tc)
	}
	// The library builds its HTTP client from the options above; we send
	// through it with the answer check (see checkedDoer), and so close its
	// idle connections ourselves.
	hc := opts.HTTPClient()
	opts.HTTPOptions().SetHTTPDoer(checkedDoer{c: hc, onAnswer: deps.OnAnswer})
	dl, err := openDeadLetter(deps.DeadLetterPath)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		dl.Close()
		return nil, err
	}
	client := influxdb2.NewClientWithOptions(cfg.URL, string(token), opts)
	w := &Writer{
		q: deps.Queue, client: client, httpc: hc, dead: dl, logger: deps.Logger, m: m,
		retry: deps.Retry, hold: deps.Hold,
		batchSize: cfg.BatchSize, flush: cfg.FlushInterval,
		status: Status{State: "ok", Since: time.Now()},
	}
	org := cfg.Org
	if org == "" {
		org = "-" // InfluxDB 1.8 ignores the organisation
	}
	w.api = client.WriteAPIBlocking(org, cfg.Bucket)
	if w.batchSize <= 0 {
		w.batchSize = DefaultBatchSize
	}
	if w.flush <= 0 {
		w.flush = DefaultFlushInterval
	}
	w.perReq = w.batchSize
	return w, nil
}

// ErrRefused is wrapped by Append's error when some points could not be
// encoded: those are refused (and counted), every other point was queued.
// Such an error must not be retried: the queued points would be queued
// twice.
var ErrRefused = errors.New("points refused")

// Append encodes points and queues them durably: it returns once they are
// on disk. A point that cannot be encoded is refused with an error naming
// it and wrapping ErrRefused; the others are queued all the same. Any other
// error means none was queued.
func (w *Writer) Append(ctx context.Context, points ...Point) error {
	recs := make([]outbox.Record, 0, len(points))
	var errs []error
	for _, p := range points {
		line, err := Encode(p)
		if err != nil {
			errs = append(errs, err)
			w.m.refused.Inc()
			continue
		}
		c := outbox.Telemetry
		if p.Class == State {
			c = outbox.State
		}
		recs = append(recs, outbox.Record{Class: c, Data: line})
	}
	if err := w.q.Append(ctx, recs...); err != nil {
		return fmt.Errorf("influxdb: queue %d points: %w", len(recs), err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrRefused, errors.Join(errs...))
	}
	return nil
}

// Close releases the HTTP client and the dead-letter file. Call after Run
// returned.
func (w *Writer) Close() error {
	w.client.Close()
	w.httpc.CloseIdleConnections()
	return w.dead.Close()
}

// Run drains the queue until ctx ends; it returns nil then, or the queue's
// error. A batch is sent when it is full or its oldest point has waited
// FlushInterval.
func (w *Writer) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		b, err := w.q.Next(w.batchSize, maxBatchBytes)
		if err != nil {
			return fmt.Errorf("influxdb: read outbox: %w", err)
		}
		if n := len(b.Entries); n < w.batchSize {
			wait := time.Hour
			if n > 0 {
				// Clamped: the outbox's clock may be injected and differ.
				wait = min(w.flush, w.flush-time.Since(b.Entries[0].Appended))
			}
			if wait > 0 {
				w.q.Rewind()
				if !w.waitForBatch(ctx, timer, wait) {
					return nil
				}
				continue
			}
		}
		wait, err := w.deliver(ctx, b.Entries)
		if err != nil || wait > 0 {
			// Give the batch back while waiting, so the disk budget may
			// drop its oldest telemetry if the outage lasts.
			w.q.Rewind()
			if err == nil {
				err = sleep(ctx, wait)
			}
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		w.attempt = 0
		if err := w.q.Ack(b); err != nil {
			return fmt.Errorf("influxdb: acknowledge in outbox: %w", err)
		}
	}
}

// waitForBatch waits until the flush deadline passes or a full batch is
// queued; false when ctx ended.
func (w *Writer) waitForBatch(ctx context.Context, timer *time.Timer, wait time.Duration) bool {
	timer.Reset(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-w.q.Notify():
			if w.q.Pending() >= uint64(w.batchSize) || wait == time.Hour {
				return true
			}
		}
	}
}

// deliver writes entries until each is stored or dead-lettered. When the
// server or network fails, or the server refuses us, it returns how long to
// wait before the batch is tried again. err is ctx's or a dead-letter failure.
func (w *Writer) deliver(ctx context.Context, entries []outbox.Entry) (time.Duration, error) {
	var work [][]outbox.Entry
	for len(entries) > 0 {
		n := min(w.perReq, len(entries))
		work = append(work, entries[:n])
		entries = entries[n:]
	}
	var body strings.Builder
	for len(work) > 0 {
		part := work[0]
		body.Reset()
		for i, e := range part {
			if i > 0 {
				body.WriteByte('\n')
			}
			body.Write(e.Data)
		}
		start := time.Now()
		err := w.api.WriteRecord(ctx, body.String())
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		oc, status, msg := classify(err)
		w.m.observe(oc.reason(status), time.Since(start))
		switch oc {
		case written:
			work = work[1:]
			w.wrote(len(part))
			continue
		case retry, hold:
			back := w.retry
			if oc == hold {
				back = w.hold
			}
			w.failing(oc, status, msg)
			d := back.Delay(w.attempt)
			if ra := retryAfter(err); ra > d {
				d = min(ra, back.Max)
			}
			w.attempt++
			return d, nil
		}
		// badPoint or tooLarge: narrow down. Parts already written are
		// written again when split; same series and time, same values.
		if len(part) == 1 {
			if err := w.deadLetter(part[0], status, msg); err != nil {
				return 0, err
			}
			work = work[1:]
			continue
		}
		half := len(part) / 2
		if oc == tooLarge && half < w.perReq {
			w.perReq = half
			w.logger.Warn("influxdb: request too large, batch halved", "points", half)
		}
		work = append([][]outbox.Entry{part[:half], part[half:]}, work[1:]...)
	}
	return 0, nil
}

// retryAfter is the server's Retry-After, if any.
func retryAfter(err error) time.Duration {
	var he *http2.Error
	if errors.As(err, &he) && he.RetryAfter > 0 {
		return time.Duration(he.RetryAfter) * time.Second
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
