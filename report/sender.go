package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/icugate/icugate/internal/backoff"
)

// PendingStore is where a Sender keeps the report sequence and the latest
// signed report until every transport has taken it. The gateway's state
// store implements it; its writes must be durable when they return.
type PendingStore interface {
	NextSequence(name string) (uint64, error)
	PutPending(name string, b []byte) error
	Pending(name string) ([]byte, error)
	ClearPending(name string, still func(b []byte) bool) error
}

// pendingName is the name of the report's sequence and pending slot.
const pendingName = "report"

// sendTimeout bounds one transport's Send.
const sendTimeout = 30 * time.Second

// retryDelays is the wait between delivery attempts of one report.
var retryDelays = backoff.Exponential{Min: time.Second, Max: time.Minute}

// Sender delivers signed reports so that an outage of the broker or the
// authority's endpoint delays the latest report but never loses it, also
// across a restart: the report is stored before the first attempt and
// removed only once every transport took it. Only the latest report
// matters (the MQTT copy is retained and each report is complete), so a
// newer report replaces one still waiting. It is not safe for concurrent
// use: one goroutine calls Queue and Try.
type Sender struct {
	store      PendingStore
	transports []Transport
	now        func() time.Time

	pending  *Message
	failures int
	nextTry  time.Time
}

// NewSender returns a Sender over transports that resumes the report left
// pending in store by an earlier run, if any. A pending report that cannot
// be read is an error, and the Sender starts without it.
func NewSender(store PendingStore, transports []Transport) (*Sender, error) {
	s := &Sender{store: store, transports: transports, now: time.Now}
	raw, err := store.Pending(pendingName)
	if err != nil {
		return s, fmt.Errorf("reading the pending report: %w", err)
	}
	if raw != nil {
		var m Message
		if err := json.Unmarshal(raw, &m); err != nil {
			return s, fmt.Errorf("pending report: %w", err)
		}
		s.pending = &m
	}
	return s, nil
}

// SetTransports replaces the transports (after a reload changed them); the
// pending report, if any, goes to the new ones.
func (s *Sender) SetTransports(ts []Transport) { s.transports = ts }

// Pending returns the report waiting for delivery, or nil.
func (s *Sender) Pending() *Message { return s.pending }

// Queue signs the next report with prepare (given the next sequence
// number), stores it, and makes it the one to deliver; it is tried at once
// on the next Try.
func (s *Sender) Queue(prepare func(seq uint64) (Message, error)) (Message, error) {
	seq, err := s.store.NextSequence(pendingName)
	if err != nil {
		return Message{}, fmt.Errorf("report sequence: %w", err)
	}
	m, err := prepare(seq)
	if err != nil {
		return Message{}, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return Message{}, err
	}
	if err := s.store.PutPending(pendingName, b); err != nil {
		return Message{}, fmt.Errorf("storing the report: %w", err)
	}
	s.pending, s.failures, s.nextTry = &m, 0, time.Time{}
	return m, nil
}

// Try sends the pending report to every transport unless it is waiting
// out its retry delay. It returns the delivered message (nil when nothing
// was sent), and on failure the error and when the next attempt is due.
// A delivered report is removed from the store.
func (s *Sender) Try(ctx context.Context) (delivered *Message, retryIn time.Duration, err error) {
	if s.pending == nil || s.now().Before(s.nextTry) {
		return nil, 0, nil
	}
	m := s.pending
	if err := sendAll(ctx, s.transports, *m); err != nil {
		retryIn = retryDelays.Delay(s.failures)
		s.failures++
		s.nextTry = s.now().Add(retryIn)
		return nil, retryIn, err
	}
	s.pending, s.failures = nil, 0
	err = s.store.ClearPending(pendingName, func(raw []byte) bool {
		var stored Message
		return json.Unmarshal(raw, &stored) != nil || stored.Sequence == m.Sequence
	})
	if err != nil {
		err = fmt.Errorf("clearing the delivered report: %w", err)
	}
	return m, 0, err
}

// sendAll sends m to every transport, each bounded by sendTimeout, and
// joins their errors.
func sendAll(ctx context.Context, ts []Transport, m Message) error {
	var errs []error
	for _, t := range ts {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		if err := t.Send(sctx, m); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	return errors.Join(errs...)
}
