package region

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/internal/backoff"
	"github.com/icugate/icugate/internal/logthrottle"
)

// The aggregator's alerts: one per hospital that does not report in full,
// sent through the gateway's receivers (alerts/notify). They are
// operational notices for the region's IT and the hospitals' IT, not
// clinical alarms.
const (
	// ruleSilent fires while no part of a hospital reports (silent or
	// never reported); critical: its beds are missing from the figures.
	ruleSilent = "hospital_silent"
	// rulePartial fires while some parts report and others do not;
	// warning: its figures cover only the reporting parts.
	rulePartial = "hospital_partial"

	// alertEvery is how often the view is judged.
	alertEvery = 10 * time.Second
	// restateEvery renews firing alerts at receivers that forget them
	// (Alertmanager's resolve_timeout).
	restateEvery = time.Minute
	// alertQueue bounds a receiver's undelivered notifications; beyond
	// it the oldest is dropped and counted.
	alertQueue = 1000
)

// alerter judges the view, keeps each alert's state and hands
// notifications to one sender per receiver. State lives in memory: after
// a restart a hospital still silent fires again (same notification id
// when its silence started at a known time, so receivers can drop the
// duplicate), and a resolution that happened while the aggregator was
// down is not sent.
type alerter struct {
	cfg    *Alerts
	region string
	log    *slog.Logger
	now    func() time.Time
	m      *metrics
	every  time.Duration

	senders []*alertSender

	mu     sync.Mutex
	alerts map[string]*alertState // by alert id
}

// alertState is one alert's memory.
type alertState struct {
	rule, hospital string
	// start is when the condition began: from the data where it tells
	// (a part's silent_since), else when this instance first saw it.
	start    time.Time
	firing   bool
	lastSent time.Time
	last     notify.Notification
}

func newAlerter(cfg *Config, log *slog.Logger, now func() time.Time, publish notify.Publisher, m *metrics) (*alerter, error) {
	a := &alerter{cfg: cfg.Alerts, region: cfg.Region, log: log.With("component", "alerts"), now: now, m: m, every: alertEvery, alerts: map[string]*alertState{}}
	for _, rc := range cfg.Alerts.Receivers {
		rcv, err := notify.New(rc, notify.Deps{Publish: publish, Now: now})
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		a.senders = append(a.senders, &alertSender{rcv: rcv, m: m, log: a.log, wake: make(chan struct{}, 1), limiter: logthrottle.New(1, time.Minute, now)})
	}
	return a, nil
}

// run starts the senders and judges view every a.every until ctx ends;
// view returns false while the instance does not yet know the region.
func (a *alerter) run(ctx context.Context, view func() (View, bool)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, s := range a.senders {
		wg.Go(func() { s.run(ctx, a.firing) })
	}
	t := time.NewTicker(a.every)
	defer t.Stop()
	for {
		if v, ok := view(); ok {
			a.evaluate(v)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// evaluate judges v and queues the notifications it causes.
func (a *alerter) evaluate(v View) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	want := map[string]*HospitalView{}
	for i := range v.Hospitals {
		h := &v.Hospitals[i]
		switch h.Status {
		case StatusSilent, StatusNever:
			want[alertID(ruleSilent, h.ID)] = h
		case StatusPartial:
			want[alertID(rulePartial, h.ID)] = h
		}
	}
	var out []notify.Notification
	// New and continuing conditions. Silent first, so that a hospital
	// going from partial to silent gets its silent alert before the
	// partial one resolves.
	for _, rule := range []string{ruleSilent, rulePartial} {
		for id, h := range want {
			if !strings.HasPrefix(id, rule+"/") {
				continue
			}
			st := a.alerts[id]
			if st == nil {
				st = &alertState{rule: rule, hospital: h.ID, start: conditionStart(h, now)}
				a.alerts[id] = st
			}
			// Worse or better but still not in full: a hospital whose
			// other alert was firing needs no second wait.
			other := a.alerts[alertID(otherRule(rule), h.ID)]
			due := now.Sub(st.start) >= a.cfg.For || (other != nil && other.firing)
			switch {
			case !st.firing && due:
				st.firing, st.lastSent = true, now
				st.last = a.notification(id, st, h, notify.StatusFiring, false, now)
				out = append(out, st.last)
			case st.firing && a.cfg.Repeat > 0 && now.Sub(st.lastSent) >= a.cfg.Repeat:
				st.lastSent = now
				st.last = a.notification(id, st, h, notify.StatusFiring, true, now)
				out = append(out, st.last)
			case st.firing:
				// Keep the text current for restates.
				st.last = a.notification(id, st, h, notify.StatusFiring, false, now)
				st.last.ID = ""
			}
		}
	}
	for id, st := range a.alerts {
		if want[id] != nil {
			continue
		}
		if st.firing && a.cfg.resolved() {
			n := st.last
			n.Status, n.Repeat, n.EndsAt, n.At = notify.StatusResolved, false, now.UTC(), now.UTC()
			n.ID = notificationID(id, n.Status, st.start, time.Time{})
			n.Summary, n.Description = resolvedText(st.hospital, st.rule)
			out = append(out, n)
		}
		delete(a.alerts, id)
	}
	counts := map[string]int{ruleSilent: 0, rulePartial: 0}
	for _, st := range a.alerts {
		if st.firing {
			counts[st.rule]++
		}
	}
	for rule, n := range counts {
		a.m.firing.WithLabelValues(rule).Set(float64(n))
	}
	for _, n := range out {
		a.log.Info("alert", "alert", n.AlertID, "status", n.Status, "hospital", n.Hospital, "summary", n.Summary.EN)
		for _, s := range a.senders {
			s.push(n)
		}
	}
}

// firing lists the firing alerts' latest notifications, for restates.
func (a *alerter) firing() []notify.Notification {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []notify.Notification
	for id, st := range a.alerts {
		if st.firing {
			n := st.last
			if n.ID == "" {
				n.ID = notificationID(id, n.Status, st.start, time.Time{})
			}
			out = append(out, n)
		}
	}
	return out
}

func alertID(rule, hospital string) string { return rule + "/hospital/" + hospital }

func otherRule(rule string) string {
	if rule == ruleSilent {
		return rulePartial
	}
	return ruleSilent
}

// conditionStart is when a hospital stopped reporting in full, from the
// data where it tells: for a silent hospital the latest silent_since of
// its parts (when the last one fell silent), for a partial one the
// earliest; else (never reported) now.
func conditionStart(h *HospitalView, now time.Time) time.Time {
	var start time.Time
	for _, p := range h.Parts {
		if p.SilentSince == nil {
			continue
		}
		s := *p.SilentSince
		if start.IsZero() || (h.Status == StatusSilent && s.After(start)) || (h.Status == StatusPartial && s.Before(start)) {
			start = s
		}
	}
	if start.IsZero() || start.After(now) {
		return now
	}
	return start
}

// notificationID is unique per notification, and the same for the same
// change seen by two instances (or again after a restart) when the
// condition's start comes from the data: receivers drop duplicates by it.
func notificationID(alertID, status string, start, repeatAt time.Time) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d|%d", alertID, status, start.UnixNano(), repeatAt.UnixNano())))
	return hex.EncodeToString(h[:12])
}

func (a *alerter) notification(id string, st *alertState, h *HospitalView, status string, repeat bool, now time.Time) notify.Notification {
	var repeatAt time.Time
	if repeat {
		repeatAt = now
	}
	severity := "critical"
	if st.rule == rulePartial {
		severity = "warning"
	}
	summary, description, cause := alertText(h)
	return notify.Notification{
		ID: notificationID(id, status, st.start, repeatAt), AlertID: id, Status: status, Repeat: repeat,
		Rule: st.rule, Condition: st.rule, Severity: severity, Hospital: h.ID, Cause: cause,
		Summary: summary, Description: description, StartsAt: st.start.UTC(), At: now.UTC(),
	}
}

// alertSender delivers one receiver's notifications in order, retrying
// the head with backoff until the receiver takes it.
type alertSender struct {
	rcv     notify.Receiver
	m       *metrics
	log     *slog.Logger
	limiter *logthrottle.Limiter
	wake    chan struct{}

	mu    sync.Mutex
	queue []notify.Notification
}

func (s *alertSender) push(n notify.Notification) {
	s.mu.Lock()
	s.queue = append(s.queue, n)
	if len(s.queue) > alertQueue {
		s.queue = s.queue[1:]
		s.m.notifications.WithLabelValues(s.rcv.Name(), "dropped").Inc()
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *alertSender) head() (notify.Notification, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return notify.Notification{}, false
	}
	return s.queue[0], true
}

func (s *alertSender) pop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 && s.queue[0].ID == id {
		s.queue = s.queue[1:]
	}
}

var alertBackoff = backoff.Exponential{Min: time.Second, Max: time.Minute}

// run delivers until ctx ends; firing gives the alerts to restate.
func (s *alertSender) run(ctx context.Context, firing func() []notify.Notification) {
	restate := time.NewTicker(restateEvery)
	defer restate.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	attempt := 0
	var retry <-chan time.Time
	for {
		if n, ok := s.head(); ok && retry == nil {
			err := s.rcv.Send(ctx, n)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				s.pop(n.ID)
				s.m.notifications.WithLabelValues(s.rcv.Name(), "sent").Inc()
				attempt = 0
				continue
			}
			s.m.notifications.WithLabelValues(s.rcv.Name(), "failed").Inc()
			if ok, sup := s.limiter.Allow("send"); ok {
				s.log.Warn("alert not delivered; retrying", "receiver", s.rcv.Name(), "alert", n.AlertID, "suppressed", sup, "err", err)
			}
			timer.Reset(alertBackoff.Delay(attempt))
			attempt++
			retry = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-retry:
			retry = nil
		case <-restate.C:
			if r, ok := s.rcv.(notify.Restater); ok {
				if err := r.Restate(ctx, firing()); err != nil && ctx.Err() == nil {
					s.log.Warn("alert restate failed; the next one retries", "receiver", s.rcv.Name(), "err", err)
				}
			}
		}
	}
}

// CheckReceivers builds every alert receiver of cfg (reading their secret
// files) and reports what is wrong, for `icuregion check`.
func CheckReceivers(cfg *Config) error {
	if cfg.Alerts == nil {
		return nil
	}
	var errs []error
	for _, rc := range cfg.Alerts.Receivers {
		if _, err := notify.New(rc, notify.Deps{Publish: func(context.Context, string, byte, bool, []byte) error { return nil }}); err != nil {
			errs = append(errs, fmt.Errorf("alerts: %w", err))
		}
	}
	return errors.Join(errs...)
}
