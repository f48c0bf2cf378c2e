package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
)

// sender delivers one receiver's queue, oldest first: the head is retried
// with backoff until the receiver takes it, so notifications arrive in the
// order they were made, and none is skipped.
type sender struct {
	m      *Manager
	cfg    config.AlertReceiver
	wakeCh chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu           sync.Mutex
	rcv          notify.Receiver
	failingSince time.Time
	lastErr      string
	up           bool
	delivered    uint64
}

func newSender(m *Manager, cfg config.AlertReceiver) *sender {
	return &sender{m: m, cfg: cfg, wakeCh: make(chan struct{}, 1), done: make(chan struct{}), up: true}
}

func (s *sender) sameConfig(c config.AlertReceiver) bool { return reflect.DeepEqual(s.cfg, c) }

// poke tells the sender its queue grew.
func (s *sender) poke() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// stop ends the sender and waits for it (a send in flight is abandoned
// and retried by the next sender: delivery is at least once).
func (s *sender) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
}

func (s *sender) status() ReceiverStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ReceiverStatus{Name: s.cfg.Name, Type: s.cfg.Type, Up: s.up,
		FailingSince: s.failingSince, LastError: s.lastErr, Delivered: s.delivered}
}

// receiver builds the receiver on first use and after a failed build (a
// secret file fixed since is picked up without a reload).
func (s *sender) receiver() (notify.Receiver, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rcv != nil {
		return s.rcv, nil
	}
	r, err := s.m.opts.Receiver(s.cfg)
	if err != nil {
		return nil, err
	}
	s.rcv = r
	return r, nil
}

func (s *sender) failed(err error) {
	s.mu.Lock()
	if s.failingSince.IsZero() {
		s.failingSince = s.m.opts.Now()
	}
	first := s.up
	s.up, s.lastErr = false, err.Error()
	s.mu.Unlock()
	s.m.m.receiverUp.WithLabelValues(s.cfg.Name).Set(0)
	if first {
		s.m.log.Warn("alert receiver failing; retrying", "receiver", s.cfg.Name, "type", s.cfg.Type, "err", err)
	}
}

func (s *sender) ok() {
	s.mu.Lock()
	was := s.up
	s.up, s.failingSince, s.lastErr = true, time.Time{}, ""
	s.mu.Unlock()
	s.m.m.receiverUp.WithLabelValues(s.cfg.Name).Set(1)
	if !was {
		s.m.log.Info("alert receiver working again", "receiver", s.cfg.Name)
	}
}

// run delivers until ctx ends.
func (s *sender) run(ctx context.Context) {
	s.m.m.receiverUp.WithLabelValues(s.cfg.Name).Set(1)
	attempt := 0
	var nextCheck, nextRestate time.Time // zero: check at once
	for ctx.Err() == nil {
		s.m.m.updateQueued(s.m.opts.Store)
		head, err := s.m.opts.Store.QueueHead(s.cfg.Name, 1)
		if err != nil {
			s.failed(errors.New("reading its queue from the state store: " + err.Error()))
			s.wait(ctx, s.m.opts.Retry.Delay(attempt))
			attempt++
			continue
		}
		if len(head) == 0 {
			attempt = 0
			now := s.m.opts.Now()
			if !now.Before(nextCheck) {
				s.check(ctx)
				nextCheck = now.Add(checkEvery)
			}
			if !now.Before(nextRestate) {
				s.restate(ctx)
				nextRestate = now.Add(restateEvery)
			}
			s.wait(ctx, min(time.Until(nextCheck), time.Until(nextRestate), restateEvery))
			continue
		}
		q := head[0]
		var n notify.Notification
		if err := json.Unmarshal(q.Data, &n); err != nil {
			// Only a damaged store can do this; the history keeps the
			// event, the log and the metric say it was not sent.
			s.m.log.Error("alerts: a queued notification is damaged and cannot be sent; dropped", "receiver", s.cfg.Name, "seq", q.Seq, "err", err)
			s.m.m.notifications.WithLabelValues(s.cfg.Name, "damaged").Inc()
			_ = s.m.opts.Store.Delivered(s.cfg.Name, q.Seq)
			continue
		}
		if err := s.send(ctx, n); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.m.m.notifications.WithLabelValues(s.cfg.Name, "failed").Inc()
			s.failed(err)
			s.wait(ctx, s.m.opts.Retry.Delay(attempt))
			attempt++
			continue
		}
		if err := s.m.opts.Store.Delivered(s.cfg.Name, q.Seq); err != nil {
			// It was delivered; it will be delivered again after the
			// store recovers (receivers drop repeats by notification id).
			s.m.log.Error("alerts: cannot record a delivery; it may be sent again", "receiver", s.cfg.Name, "err", err)
		}
		attempt = 0
		s.mu.Lock()
		s.delivered++
		s.mu.Unlock()
		s.m.m.notifications.WithLabelValues(s.cfg.Name, "delivered").Inc()
		s.ok()
	}
}

func (s *sender) send(ctx context.Context, n notify.Notification) error {
	r, err := s.receiver()
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	return r.Send(sctx, n)
}

// check tests an idle receiver (connect, log in) so a broken one shows in
// health before an alert needs it.
func (s *sender) check(ctx context.Context) {
	r, err := s.receiver()
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err = r.Check(cctx)
		cancel()
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.failed(err)
		return
	}
	s.ok()
}

// restate tells a receiver that needs it which alerts still fire.
func (s *sender) restate(ctx context.Context) {
	r, err := s.receiver()
	if err != nil {
		return
	}
	rs, ok := r.(notify.Restater)
	if !ok {
		return
	}
	firing := s.m.firingFor(s.cfg.Name)
	if len(firing) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := rs.Restate(cctx, firing); err != nil && ctx.Err() == nil {
		s.failed(err)
	}
}

func (s *sender) wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-s.wakeCh:
	}
}
