package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/backoff"
	"github.com/icugate/icugate/store"
)

// Store is what alerts keeps in the state store (store.Store implements
// it).
type Store interface {
	CommitAlerts(store.AlertCommit) error
	FiringAlerts() (map[string][]byte, error)
	QueueHead(receiver string, n int) ([]store.QueuedNotification, error)
	QueueLen() (map[string]int, error)
	Delivered(receiver string, seq uint64) error
	AlertHistory(n int) ([][]byte, error)
}

// Options are the manager's dependencies.
type Options struct {
	Store Store
	// Input returns what the rules look at now (snapshot and health).
	Input func() Input
	// Receiver builds the receiver a config names (notify.New with the
	// gateway's hospital and MQTT connection). A failed build is retried
	// at each delivery attempt, so a secret file fixed since is used
	// without a reload.
	Receiver func(config.AlertReceiver) (notify.Receiver, error)
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registry receives the alert metrics; nil: not registered.
	Registry prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Grace is how long after start nothing fires or resolves while the
	// gateway learns every device's state. 0: 1 minute; negative: none.
	Grace time.Duration
	// Retry is the backoff between delivery attempts to a failing
	// receiver. Default 1s doubling to 30s: a receiver back from an outage
	// gets what waited within half a minute.
	Retry backoff.Exponential
	// EvaluateEvery is how often rules are evaluated. Default 1s.
	EvaluateEvery time.Duration
}

// Defaults of the manager.
const (
	DefaultGrace = time.Minute
	// receiverFailingAfter is how long a receiver may fail before health
	// says so: a blip is not an incident.
	receiverFailingAfter = 30 * time.Second
	// checkEvery is how often an idle receiver is checked (connect, log
	// in) so that a broken one shows before an alert needs it.
	checkEvery = 5 * time.Minute
	// restateEvery is how often receivers that need it (Alertmanager) are
	// told which alerts still fire.
	restateEvery = time.Minute
)

// ErrUnknown is returned for an alert that is not firing.
var ErrUnknown = errors.New("no such firing alert")

// HistoryEntry is one event of an alert, as the dashboard lists it.
type HistoryEntry struct {
	At       time.Time   `json:"at"`
	Event    string      `json:"event"` // fired, resolved, repeated, acknowledged
	AlertID  string      `json:"alert_id"`
	Rule     string      `json:"rule"`
	Severity string      `json:"severity"`
	Subject  Subject     `json:"subject"`
	Summary  notify.Text `json:"summary"`
	Cause    string      `json:"cause,omitempty"`
	By       string      `json:"by,omitempty"`
	Comment  string      `json:"comment,omitempty"`
}

// ReceiverStatus is one receiver's delivery state, for health, metrics and
// the API.
type ReceiverStatus struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Up     bool   `json:"up"`
	Queued int    `json:"queued"`
	// FailingSince is when deliveries or checks started failing.
	FailingSince time.Time `json:"failing_since,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	Delivered    uint64    `json:"delivered"`
}

// Manager evaluates the rules of a site and delivers their notifications.
// Build it with New, give it the site with Configure, run it with Run.
type Manager struct {
	opts Options
	log  *slog.Logger
	m    *metrics

	evalMu   sync.Mutex
	mu       sync.Mutex
	ev       *evaluator
	names    names
	routes   map[string][]string // rule → receivers
	backlog  []store.AlertCommit // commits the store refused, retried in order
	storeErr error

	smu     sync.Mutex
	senders map[string]*sender
	runCtx  context.Context
	wg      sync.WaitGroup
}

// New restores the alerts firing at the last stop from the store: they
// stay firing without being notified again.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil || opts.Input == nil || opts.Receiver == nil {
		return nil, errors.New("alerts: Store, Input and Receiver are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Grace == 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Retry == (backoff.Exponential{}) {
		opts.Retry = backoff.Exponential{Min: time.Second, Max: 30 * time.Second}
	}
	if opts.EvaluateEvery <= 0 {
		opts.EvaluateEvery = time.Second
	}
	m := &Manager{
		opts:    opts,
		log:     opts.Logger,
		ev:      newEvaluator(opts.Now(), opts.Grace),
		senders: map[string]*sender{},
		routes:  map[string][]string{},
	}
	met, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	m.m = met
	firing, err := opts.Store.FiringAlerts()
	if err != nil {
		return nil, fmt.Errorf("alerts: reading the firing alerts: %w", err)
	}
	for id, raw := range firing {
		var a Alert
		if err := json.Unmarshal(raw, &a); err != nil || a.ID != id {
			m.log.Error("alerts: a firing alert in the state store is damaged; it is dropped and fires again if its condition holds", "alert", id, "err", err)
			continue
		}
		a.Status = Firing
		m.ev.alerts[id] = &a
	}
	if len(firing) > 0 {
		m.log.Info("alerts: firing alerts restored", "count", len(m.ev.alerts))
	}
	return m, nil
}

// Configure applies a site's alerts block: rules now, receivers as their
// senders restart. It is called at start and on every reload. Receivers
// whose config did not change keep their sender; notifications queued for
// a receiver that was removed stay in the store (and count in metrics)
// until it is configured again.
func (m *Manager) Configure(site *config.Site) {
	var a config.Alerts
	if site.Alerts != nil {
		a = *site.Alerts
	}
	m.mu.Lock()
	m.ev.rules = slices.Clone(a.Rules)
	m.names = namesOf(site)
	m.routes = map[string][]string{}
	all := make([]string, 0, len(a.Receivers))
	for _, r := range a.Receivers {
		all = append(all, r.Name)
	}
	for _, r := range a.Rules {
		if len(r.Receivers) > 0 {
			m.routes[r.Name] = slices.Clone(r.Receivers)
		} else {
			m.routes[r.Name] = all
		}
	}
	m.mu.Unlock()

	m.smu.Lock()
	defer m.smu.Unlock()
	keep := map[string]bool{}
	for _, rc := range a.Receivers {
		keep[rc.Name] = true
		if s := m.senders[rc.Name]; s != nil {
			if s.sameConfig(rc) {
				continue
			}
			s.stop()
		}
		s := newSender(m, rc)
		m.senders[rc.Name] = s
		if m.runCtx != nil {
			m.start(s)
		}
	}
	for name, s := range m.senders {
		if !keep[name] {
			s.stop()
			delete(m.senders, name)
			m.m.forget(name)
		}
	}
}

// Run evaluates the rules and delivers notifications until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	m.smu.Lock()
	m.runCtx = ctx
	for _, s := range m.senders {
		m.start(s)
	}
	m.smu.Unlock()
	tick := time.NewTicker(m.opts.EvaluateEvery)
	defer tick.Stop()
	for {
		m.Evaluate()
		select {
		case <-ctx.Done():
			m.smu.Lock()
			for _, s := range m.senders {
				s.stop()
			}
			m.smu.Unlock()
			m.wg.Wait()
			return
		case <-tick.C:
		}
	}
}

func (m *Manager) start(s *sender) {
	ctx, cancel := context.WithCancel(m.runCtx)
	s.cancel = cancel
	m.wg.Add(1)
	go func() { defer m.wg.Done(); defer close(s.done); s.run(ctx) }()
}

// Evaluate runs the rules once and records and queues what changed. Run
// calls it every EvaluateEvery; tests call it directly.
func (m *Manager) Evaluate() {
	// Evaluations are serialised with the input they read, so an older
	// input is never evaluated after a newer one. Input is called outside
	// mu: it may ask Health, which takes mu.
	m.evalMu.Lock()
	defer m.evalMu.Unlock()
	in := m.opts.Input()
	if in.Now.IsZero() {
		in.Now = m.opts.Now()
	}
	m.mu.Lock()
	changes := m.ev.evaluate(in)
	var c store.AlertCommit
	if len(changes) > 0 {
		c = m.commitOf(changes)
		m.backlog = append(m.backlog, c)
	}
	m.flushLocked()
	active := m.activeLocked()
	m.mu.Unlock()
	for _, ch := range changes {
		m.log.Info("alert "+ch.kind, "alert", ch.alert.ID, "severity", ch.alert.Severity, "cause", ch.alert.Cause)
	}
	m.m.setActive(active)
	if len(c.Queue) > 0 {
		m.wake(c.Queue)
	}
}

// commitOf turns changes into one store commit: state, notifications for
// each receiver of the rule, history.
func (m *Manager) commitOf(changes []change) store.AlertCommit {
	c := store.AlertCommit{Put: map[string][]byte{}, Queue: map[string][][]byte{}}
	for _, ch := range changes {
		a := ch.alert
		if ch.kind == changeResolve {
			c.Delete = append(c.Delete, a.ID)
			delete(c.Put, a.ID)
		} else {
			c.Put[a.ID] = mustJSON(a)
		}
		n := m.names.notification(ch)
		if ch.kind != changeResolve || ch.rule == nil || ch.rule.Resolved() {
			body := mustJSON(n)
			for _, rc := range m.receiversOf(a.Rule) {
				c.Queue[rc] = append(c.Queue[rc], body)
			}
		}
		c.History = append(c.History, mustJSON(HistoryEntry{
			At: ch.at, Event: ch.kind, AlertID: a.ID, Rule: a.Rule, Severity: a.Severity,
			Subject: a.Subject, Summary: n.Summary, Cause: a.Cause,
		}))
	}
	return c
}

// receiversOf is who hears of rule; a removed rule's resolve goes to every
// receiver (it may have gone to any).
func (m *Manager) receiversOf(rule string) []string {
	if r, ok := m.routes[rule]; ok {
		return r
	}
	m.smu.Lock()
	defer m.smu.Unlock()
	out := make([]string, 0, len(m.senders))
	for name := range m.senders {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// flushLocked writes the backlog to the store in order; what the store
// refuses stays for the next evaluation and shows in health.
func (m *Manager) flushLocked() {
	for len(m.backlog) > 0 {
		if err := m.opts.Store.CommitAlerts(m.backlog[0]); err != nil {
			if m.storeErr == nil {
				m.log.Error("alerts: cannot record alerts in the state store; retrying every second", "err", err)
			}
			m.storeErr = err
			return
		}
		m.backlog = m.backlog[1:]
	}
	m.storeErr = nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("alerts: marshal %T: %v", v, err)) // plain structs: cannot fail
	}
	return b
}

func (m *Manager) wake(queues map[string][][]byte) {
	m.smu.Lock()
	defer m.smu.Unlock()
	for name := range queues {
		if s := m.senders[name]; s != nil {
			s.poke()
		}
	}
}

func (m *Manager) activeLocked() []Alert {
	out := make([]Alert, 0, len(m.ev.alerts))
	for _, a := range m.ev.alerts {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Status != out[j].Status {
			return out[i].Status == Firing
		}
		if si, sj := severityRank(out[i].Severity), severityRank(out[j].Severity); si != sj {
			return si < sj
		}
		if !out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].StartsAt.Before(out[j].StartsAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func severityRank(s string) int {
	switch s {
	case config.SeverityCritical:
		return 0
	case config.SeverityWarning:
		return 1
	}
	return 2
}

// Active returns the alerts firing and pending now: firing first, by
// severity, then oldest first.
func (m *Manager) Active() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.activeLocked()
}

// Summary returns an alert's summary in both languages.
func (m *Manager) Summary(a Alert) notify.Text {
	m.mu.Lock()
	defer m.mu.Unlock()
	below := 0
	if r := m.ev.rule(a.Rule); r != nil {
		below = r.Below
	}
	return m.names.what(a, below)
}

// History returns up to n alert events, newest first.
func (m *Manager) History(n int) ([]HistoryEntry, error) {
	raw, err := m.opts.Store.AlertHistory(n)
	if err != nil {
		return nil, err
	}
	out := make([]HistoryEntry, 0, len(raw))
	for _, b := range raw {
		var e HistoryEntry
		if err := json.Unmarshal(b, &e); err != nil {
			continue // a damaged entry is skipped; history is informative
		}
		out = append(out, e)
	}
	return out, nil
}

// Ack acknowledges a firing alert on behalf of by: its repeats stop. The
// acknowledgement is stored with the alert and in the history.
func (m *Manager) Ack(id, by, comment string) (Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.ev.alerts[id]
	if a == nil || a.Status != Firing {
		return Alert{}, fmt.Errorf("alert %q: %w", id, ErrUnknown)
	}
	now := m.opts.Now()
	prev := a.Ack
	a.Ack = &Ack{By: by, At: now, Comment: comment}
	c := store.AlertCommit{
		Put: map[string][]byte{id: mustJSON(a)},
		History: [][]byte{mustJSON(HistoryEntry{At: now, Event: "acknowledged", AlertID: id, Rule: a.Rule,
			Severity: a.Severity, Subject: a.Subject, Summary: m.names.what(*a, 0), By: by, Comment: comment})},
	}
	if err := m.opts.Store.CommitAlerts(c); err != nil {
		a.Ack = prev
		return Alert{}, fmt.Errorf("alert %q: recording the acknowledgement: %w", id, err)
	}
	return *a, nil
}

// Receivers returns every configured receiver's delivery state, by name.
func (m *Manager) Receivers() []ReceiverStatus {
	queued, _ := m.opts.Store.QueueLen()
	m.smu.Lock()
	defer m.smu.Unlock()
	out := make([]ReceiverStatus, 0, len(m.senders))
	for _, s := range m.senders {
		st := s.status()
		st.Queued = queued[s.cfg.Name]
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Health is why alerting is not working, in one sentence, or "": a
// receiver failing for longer than receiverFailingAfter, or the store
// refusing to record alerts.
func (m *Manager) Health() string {
	now := m.opts.Now()
	var reasons []string
	m.mu.Lock()
	if m.storeErr != nil {
		reasons = append(reasons, fmt.Sprintf("alert changes cannot be recorded (%d waiting): %v", len(m.backlog), m.storeErr))
	}
	m.mu.Unlock()
	for _, st := range m.Receivers() {
		if !st.FailingSince.IsZero() && now.Sub(st.FailingSince) >= receiverFailingAfter {
			reasons = append(reasons, fmt.Sprintf("receiver %s (%s) failing for %s, %d notifications waiting: %s",
				st.Name, st.Type, now.Sub(st.FailingSince).Round(time.Second), st.Queued, st.LastError))
		}
	}
	if len(reasons) == 0 {
		return ""
	}
	out := reasons[0]
	for _, r := range reasons[1:] {
		out += "; " + r
	}
	return out
}

// firingFor is every firing alert routed to receiver, as notifications
// (for Restate).
func (m *Manager) firingFor(receiver string) []notify.Notification {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []notify.Notification
	now := m.opts.Now()
	for _, a := range m.activeLocked() {
		if a.Status != Firing || !slices.Contains(m.receiversOf(a.Rule), receiver) {
			continue
		}
		out = append(out, m.names.notification(change{kind: changeFire, alert: a, rule: m.ev.rule(a.Rule), at: now}))
	}
	return out
}
