package region

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/logthrottle"
)

// fakeReceiver records what it is sent; it fails while down.
type fakeReceiver struct {
	mu       sync.Mutex
	got      []notify.Notification
	restated [][]notify.Notification
	down     int // fail this many sends
}

func (f *fakeReceiver) Name() string                { return "fake" }
func (f *fakeReceiver) Check(context.Context) error { return nil }
func (f *fakeReceiver) Send(_ context.Context, n notify.Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down > 0 {
		f.down--
		return errors.New("receiver down")
	}
	f.got = append(f.got, n)
	return nil
}
func (f *fakeReceiver) Restate(_ context.Context, firing []notify.Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restated = append(f.restated, firing)
	return nil
}

func (f *fakeReceiver) list() []notify.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]notify.Notification{}, f.got...)
}

func testAlerter(t *testing.T, a *Alerts, now func() time.Time) (*alerter, *alertSender) {
	t.Helper()
	cfg := &Config{Region: "R01", Alerts: a}
	cfg.Alerts.Receivers = nil
	al, err := newAlerter(cfg, testLog(t), now, nil, newMetrics(prometheus.NewRegistry(), nil))
	if err != nil {
		t.Fatal(err)
	}
	s := &alertSender{rcv: &fakeReceiver{}, m: al.m, log: al.log, wake: make(chan struct{}, 1), limiter: logthrottle.New(1, time.Minute, time.Now)}
	al.senders = []*alertSender{s}
	return al, s
}

// hv is a hospital with the given parts' statuses (silent parts fell
// silent at since).
func hv(id, status string, since time.Time, parts ...string) HospitalView {
	h := HospitalView{ID: id, Name: "Hospital " + id, District: "D01", Status: status}
	for i := 0; i+1 < len(parts); i += 2 {
		p := PartView{ID: parts[i], Status: StatusReporting}
		if parts[i+1] != "" {
			s := since
			p.Status, p.Reason, p.SilentSince = StatusSilent, parts[i+1], &s
			h.SilentParts = append(h.SilentParts, p.ID)
		}
		h.Parts = append(h.Parts, p)
	}
	if status == StatusSilent {
		h.Reason = ReasonGatewayDown
	}
	return h
}

func queued(s *alertSender) []notify.Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]notify.Notification{}, s.queue...)
	s.queue = nil
	return out
}

// An alert fires once its condition held for "for", repeats, resolves;
// its start comes from the data, so two instances (or one after a
// restart) make the same notification id.
func TestAlerterFiresRepeatsResolves(t *testing.T) {
	clk := &fakeClock{t: time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)}
	a, s := testAlerter(t, &Alerts{For: 2 * time.Minute, Repeat: 10 * time.Minute}, clk.Now)
	silentSince := clk.Now().Add(-time.Minute)
	view := func(hs ...HospitalView) View { return View{Hospitals: hs} }
	a.evaluate(view(hv("H002", StatusPartial, silentSince, "main", "", "east", ReasonGatewayDown)))
	if q := queued(s); len(q) != 0 {
		t.Fatalf("fired before 2 minutes: %+v", q)
	}
	clk.Add(time.Minute) // 2 minutes since east fell silent
	a.evaluate(view(hv("H002", StatusPartial, silentSince, "main", "", "east", ReasonGatewayDown)))
	q := queued(s)
	if len(q) != 1 || q[0].Status != notify.StatusFiring || q[0].Rule != rulePartial || q[0].Severity != "warning" || !q[0].StartsAt.Equal(silentSince) ||
		q[0].Cause != "district D01; east gateway_down since 2027-03-01T07:59:00Z" {
		t.Fatalf("firing: %+v", q)
	}
	// Another instance judging the same data makes the same id.
	b, s2 := testAlerter(t, &Alerts{For: 2 * time.Minute}, clk.Now)
	b.evaluate(view(hv("H002", StatusPartial, silentSince, "main", "", "east", ReasonGatewayDown)))
	if q2 := queued(s2); len(q2) != 1 || q2[0].ID != q[0].ID {
		t.Fatalf("ids differ between instances: %v / %v", q2, q[0].ID)
	}
	clk.Add(5 * time.Minute)
	a.evaluate(view(hv("H002", StatusPartial, silentSince, "main", "", "east", ReasonGatewayDown)))
	if q := queued(s); len(q) != 0 {
		t.Fatalf("repeated early: %+v", q)
	}
	if f := a.firing(); len(f) != 1 || f[0].AlertID != alertID(rulePartial, "H002") || f[0].ID == "" {
		t.Fatalf("firing for restate: %+v", f)
	}
	clk.Add(5 * time.Minute)
	a.evaluate(view(hv("H002", StatusPartial, silentSince, "main", "", "east", ReasonGatewayDown)))
	if q := queued(s); len(q) != 1 || !q[0].Repeat {
		t.Fatalf("repeat: %+v", q)
	}
	// Partial to silent: the silent alert fires at once (the hospital has
	// not reported in full for minutes), before the partial one resolves.
	a.evaluate(view(hv("H002", StatusSilent, clk.Now(), "main", ReasonGatewayDown, "east", ReasonGatewayDown)))
	q = queued(s)
	if len(q) != 2 || q[0].Rule != ruleSilent || q[0].Status != notify.StatusFiring || q[0].Severity != "critical" || q[1].Rule != rulePartial || q[1].Status != notify.StatusResolved {
		t.Fatalf("partial to silent: %+v", q)
	}
	a.evaluate(view(hv("H002", StatusReporting, clk.Now(), "main", "", "east", "")))
	if q := queued(s); len(q) != 1 || q[0].Status != notify.StatusResolved || q[0].EndsAt.IsZero() || q[0].Summary.EN != "Hospital H002 reports again." {
		t.Fatalf("resolved: %+v", q)
	}
	// A condition that ends before "for" sends nothing.
	a.evaluate(view(hv("H003", StatusNever, clk.Now(), "main", ReasonNeverReported)))
	clk.Add(time.Minute)
	a.evaluate(view(hv("H003", StatusReporting, clk.Now(), "main", "")))
	if q := queued(s); len(q) != 0 {
		t.Fatalf("short condition alerted: %+v", q)
	}
}

func TestAlerterWithoutResolved(t *testing.T) {
	clk := &fakeClock{t: time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)}
	no := false
	a, s := testAlerter(t, &Alerts{For: -1, SendResolved: &no}, clk.Now)
	a.evaluate(View{Hospitals: []HospitalView{hv("H001", StatusSilent, clk.Now(), "main", ReasonNoReport)}})
	a.evaluate(View{Hospitals: []HospitalView{hv("H001", StatusReporting, clk.Now(), "main", "")}})
	if q := queued(s); len(q) != 1 || q[0].Status != notify.StatusFiring {
		t.Fatalf("send_resolved false: %+v", q)
	}
}

// A receiver that fails gets the head again with backoff, in order; a
// full queue drops its oldest and counts it.
func TestAlertSenderRetriesInOrder(t *testing.T) {
	old := alertBackoff
	alertBackoff.Min, alertBackoff.Max = time.Millisecond, 5*time.Millisecond
	defer func() { alertBackoff = old }()
	rcv := &fakeReceiver{down: 2}
	m := newMetrics(prometheus.NewRegistry(), nil)
	s := &alertSender{rcv: rcv, m: m, log: testLog(t), wake: make(chan struct{}, 1), limiter: logthrottle.New(1, time.Minute, time.Now)}
	for i := range alertQueue + 2 {
		s.push(notify.Notification{ID: string(rune('a' + i%26)), AlertID: "x", At: time.Unix(int64(i), 0)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx, func() []notify.Notification { return nil }); close(done) }()
	eventually(t, 10*time.Second, "every queued notification delivered", func() bool { return len(rcv.list()) == alertQueue })
	cancel()
	<-done
	got := rcv.list()
	if got[0].At.Unix() != 2 || got[len(got)-1].At.Unix() != alertQueue+1 {
		t.Fatalf("delivered from %d to %d, want 2 to %d (the 2 oldest dropped)", got[0].At.Unix(), got[len(got)-1].At.Unix(), alertQueue+1)
	}
}

// Receivers are built from the config like a gateway's: a bad one is an
// error at start, naming it.
func TestAlertReceiversFromConfig(t *testing.T) {
	cfg := testConfig(writeKeys(t, t.TempDir(), newHospitals(t, 1)), "")
	cfg.Alerts = &Alerts{Receivers: []config.AlertReceiver{{Name: "hook", Type: config.ReceiverWebhook, URL: "http://127.0.0.1:1/x", SecretFile: "/nonexistent/secret"}}}
	if _, err := New(cfg, Deps{Log: testLog(t)}); err == nil || !strings.Contains(err.Error(), "hook") || !strings.Contains(err.Error(), "secret_file") {
		t.Fatalf("New with a bad receiver: %v", err)
	}
	if err := CheckReceivers(cfg); err == nil {
		t.Fatal("CheckReceivers passed a missing secret file")
	}
}
