package alerts

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/backoff"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/store"
)

// fakeReceiver records what it is sent; while down it refuses.
type fakeReceiver struct {
	name string
	mu   sync.Mutex
	got  []notify.Notification
	down bool
}

func (f *fakeReceiver) Name() string { return f.name }

func (f *fakeReceiver) Send(_ context.Context, n notify.Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("connection refused")
	}
	f.got = append(f.got, n)
	return nil
}

func (f *fakeReceiver) Check(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("connection refused")
	}
	return nil
}

func (f *fakeReceiver) setDown(d bool) {
	f.mu.Lock()
	f.down = d
	f.mu.Unlock()
}

func (f *fakeReceiver) list() []notify.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// world is a hand-made site state the rules look at, on a fake clock.
type world struct {
	mu       sync.Mutex
	now      time.Time
	snap     pipeline.Snapshot
	degraded map[string]string
}

func (w *world) input() Input {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.snap
	s.Devices = slices.Clone(w.snap.Devices)
	s.Beds = slices.Clone(w.snap.Beds)
	s.Capacity.Units = slices.Clone(w.snap.Capacity.Units)
	d := map[string]string{}
	for k, v := range w.degraded {
		d[k] = v
	}
	return Input{Now: w.now, Snapshot: &s, Degraded: d}
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

// setDevice sets device id's state from the current time.
func (w *world) setDevice(id string, st pipeline.DeviceState, cause string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.snap.Devices {
		if d := &w.snap.Devices[i]; d.ID == id {
			d.State, d.Cause, d.Since = st, cause, w.now
			seen := w.now
			d.LastSeen = &seen
		}
	}
}

var t0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

func newWorld() *world {
	seen := t0
	return &world{now: t0, snap: pipeline.Snapshot{
		Devices: []pipeline.DeviceStatus{
			{ID: "vent-01", Kind: "ventilator", Unit: "icu-a", At: "A-01", AtType: "bed", State: pipeline.InUse, Since: t0, LastSeen: &seen},
			{ID: "mon-01", Kind: "monitor", Unit: "icu-a", At: "A-01", AtType: "bed", State: pipeline.Standby, Since: t0, LastSeen: &seen},
		},
		Beds: []pipeline.BedStatus{{ID: "A-01", Unit: "icu-a", State: pipeline.Occupied, Since: t0, Devices: []string{"vent-01", "mon-01"}}},
		Capacity: pipeline.CapacityReport{Units: []pipeline.Capacity{
			{Unit: "icu-a", BedsTotal: 1, BedsEquipped: 1, Verified: true},
		}},
	}}
}

func testSite(rules []config.AlertRule, receivers ...string) *config.Site {
	s := &config.Site{Hospital: config.Hospital{ID: "h1"}, Units: []config.Unit{{ID: "icu-a", Name: "ICU-A", Beds: []string{"A-01"}}}}
	a := &config.Alerts{Rules: rules}
	for _, r := range receivers {
		a.Receivers = append(a.Receivers, config.AlertReceiver{Name: r, Type: "webhook", Timeout: time.Second})
	}
	for i := range a.Rules {
		if a.Rules[i].Severity == "" {
			a.Rules[i].Severity = config.SeverityWarning
		}
	}
	s.Alerts = a
	return s
}

func dur(d time.Duration) *time.Duration { return &d }

type harness struct {
	t     *testing.T
	w     *world
	st    *store.Store
	path  string
	rcv   map[string]*fakeReceiver
	m     *Manager
	stop  context.CancelFunc
	done  chan struct{}
	site  *config.Site
	grace time.Duration
}

func newHarness(t *testing.T, site *config.Site, grace time.Duration) *harness {
	t.Helper()
	h := &harness{t: t, w: newWorld(), path: filepath.Join(t.TempDir(), "state.db"), rcv: map[string]*fakeReceiver{}, site: site, grace: grace}
	for _, r := range site.Alerts.Receivers {
		h.rcv[r.Name] = &fakeReceiver{name: r.Name}
	}
	h.start()
	t.Cleanup(h.shutdown)
	return h
}

// start opens the store and runs a manager on it, as a gateway start does.
func (h *harness) start() {
	h.t.Helper()
	st, err := store.Open(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	grace := h.grace
	if grace == 0 {
		grace = -1 // none
	}
	m, err := New(Options{
		Store: st, Input: h.w.input, Now: h.w.clock, Grace: grace,
		Receiver: func(c config.AlertReceiver) (notify.Receiver, error) {
			if r := h.rcv[c.Name]; r != nil {
				return r, nil
			}
			return nil, errors.New("no such receiver")
		},
		Retry:         backoff.Exponential{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		EvaluateEvery: time.Hour, // the test evaluates by hand
	})
	if err != nil {
		h.t.Fatal(err)
	}
	m.Configure(h.site)
	h.m = m
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan struct{})
	go func() { defer close(h.done); m.Run(ctx) }()
}

func (h *harness) shutdown() {
	if h.stop == nil {
		return
	}
	h.stop()
	<-h.done
	h.st.Close()
	h.stop = nil
}

// step advances the clock and evaluates.
func (h *harness) step(d time.Duration) {
	h.w.advance(d)
	h.m.Evaluate()
}

// waitFor waits until receiver name has n notifications, and returns them.
func (h *harness) waitFor(name string, n int) []notify.Notification {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := h.rcv[name].list()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				h.t.Fatalf("receiver %s got %d notifications, want %d: %+v", name, len(got), n, summaries(got))
			}
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle lets senders deliver anything queued (nothing more must come).
func (h *harness) settle() {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		q, _ := h.st.QueueLen()
		empty := true
		for _, v := range q {
			empty = empty && v == 0
		}
		if empty {
			time.Sleep(20 * time.Millisecond)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func summaries(ns []notify.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Status+" "+n.AlertID+" "+n.Summary.EN)
	}
	return out
}

var offlineRule = config.AlertRule{Name: "vent-offline", When: config.AlertDeviceOffline, Kinds: []string{"ventilator"},
	For: dur(2 * time.Minute), Severity: config.SeverityCritical}

// TestDeviceOfflineFiresOnceAndResolvesOnce: a ventilator offline for the
// rule's for: gives one firing notification on every receiver, none before
// and none more while it stays offline; back online gives one resolve.
func TestDeviceOfflineFiresOnceAndResolvesOnce(t *testing.T) {
	h := newHarness(t, testSite([]config.AlertRule{offlineRule}, "hook", "mail"), 0)
	h.step(time.Second)
	h.w.setDevice("vent-01", pipeline.Offline, "no valid answer for 6s")
	h.step(time.Minute)
	h.settle()
	if got := h.rcv["hook"].list(); len(got) != 0 {
		t.Fatalf("fired before for: elapsed: %v", summaries(got))
	}
	if a := h.m.Active(); len(a) != 1 || a[0].Status != Pending {
		t.Fatalf("active after 1m = %+v, want one pending", a)
	}
	h.step(61 * time.Second)
	h.step(10 * time.Minute)
	for _, name := range []string{"hook", "mail"} {
		got := h.waitFor(name, 1)
		n := got[0]
		if n.Status != notify.StatusFiring || n.AlertID != "vent-offline/device/vent-01" || n.Device != "vent-01" ||
			n.Kind != "ventilator" || n.Bed != "A-01" || n.Unit != "icu-a" || n.Severity != "critical" || n.Hospital != "h1" {
			t.Errorf("%s: notification %+v", name, n)
		}
		if !strings.Contains(n.Summary.EN, "Ventilator vent-01 (bed A-01, unit ICU-A) is offline") ||
			!strings.Contains(n.Summary.ZH, "ICU-A A-01床 呼吸机 vent-01离线") ||
			!strings.Contains(n.Description.EN, "no valid answer for 6s") {
			t.Errorf("%s: text %+v / %+v", name, n.Summary, n.Description)
		}
	}
	h.w.setDevice("vent-01", pipeline.Standby, "online")
	h.step(time.Second)
	h.step(time.Minute)
	for _, name := range []string{"hook", "mail"} {
		got := h.waitFor(name, 2)
		if r := got[1]; r.Status != notify.StatusResolved || r.AlertID != got[0].AlertID || r.EndsAt.IsZero() ||
			!strings.HasPrefix(r.Summary.EN, "Resolved: ") || !strings.Contains(r.Description.EN, "now standby") {
			t.Errorf("%s: resolve %+v", name, r)
		}
		if got[0].ID == got[1].ID {
			t.Errorf("%s: firing and resolve share the notification id %s", name, got[0].ID)
		}
	}
	h.settle()
	h.waitFor("hook", 2)
	if a := h.m.Active(); len(a) != 0 {
		t.Errorf("active after resolve: %+v", a)
	}
	hist, err := h.m.History(10)
	if err != nil || len(hist) != 2 || hist[0].Event != "resolved" || hist[1].Event != "fired" {
		t.Errorf("history = %+v, %v; want resolved, fired (newest first)", hist, err)
	}
}

// TestMaintenanceGivesNoAlert: a device in maintenance is neither offline
// nor faulted, and a bed degraded because of it does not alert unless the
// rule includes maintenance.
func TestMaintenanceGivesNoAlert(t *testing.T) {
	bed := config.AlertRule{Name: "bed", When: config.AlertBedDegraded, For: dur(0)}
	bedAll := config.AlertRule{Name: "bed-all", When: config.AlertBedDegraded, For: dur(0), IncludeMaintenance: true}
	h := newHarness(t, testSite([]config.AlertRule{offlineRule, bed, bedAll}, "hook"), 0)
	h.w.setDevice("vent-01", pipeline.Maintenance, "maintenance set by biomed")
	h.w.mu.Lock()
	h.w.snap.Beds[0].State, h.w.snap.Beds[0].Since, h.w.snap.Beds[0].Reason = pipeline.Degraded, h.w.now, []string{"ventilator vent-01 maintenance"}
	h.w.mu.Unlock()
	h.step(time.Second)
	h.step(time.Hour)
	got := h.waitFor("hook", 1)
	if got[0].Rule != "bed-all" || got[0].Bed != "A-01" {
		t.Errorf("notification %+v, want only rule bed-all's", got[0])
	}
	h.settle()
	h.waitFor("hook", 1)
}

// TestRestartNeitherRepeatsNorLoses: a gateway restarted while an alert
// fires does not notify it again, and the resolve after the restart
// arrives; a notification queued while the receiver was down and the
// gateway stopped is delivered after the restart.
func TestRestartNeitherRepeatsNorLoses(t *testing.T) {
	h := newHarness(t, testSite([]config.AlertRule{offlineRule}, "hook"), 30*time.Second)
	h.step(time.Minute) // past the grace
	h.w.setDevice("vent-01", pipeline.Offline, "no valid answer")
	h.step(time.Second)
	h.step(3 * time.Minute)
	h.waitFor("hook", 1)

	// Restart while firing: the device is still offline, and after the
	// restart it is "never seen" (the gateway's engine starts anew).
	h.shutdown()
	h.w.mu.Lock()
	h.w.snap.Devices[0].LastSeen, h.w.snap.Devices[0].Cause, h.w.snap.Devices[0].Since = nil, "never seen", h.w.now
	h.w.mu.Unlock()
	h.start()
	if a := h.m.Active(); len(a) != 1 || a[0].Status != Firing {
		t.Fatalf("after restart active = %+v, want the alert firing", a)
	}
	for range 10 {
		h.step(time.Minute)
	}
	h.settle()
	h.waitFor("hook", 1)

	// Receiver down, device back: the resolve waits; the gateway stops
	// with it queued; after the next start it is delivered.
	h.rcv["hook"].setDown(true)
	h.w.setDevice("vent-01", pipeline.InUse, "online")
	h.step(time.Second)
	h.step(time.Second)
	time.Sleep(50 * time.Millisecond)
	h.shutdown()
	if q, _ := func() (map[string]int, error) {
		st, err := store.Open(h.path)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		return st.QueueLen()
	}(); q["hook"] != 1 {
		t.Fatalf("queued for hook at stop = %v, want 1", q)
	}
	h.rcv["hook"].setDown(false)
	h.start()
	got := h.waitFor("hook", 2)
	if got[1].Status != notify.StatusResolved {
		t.Errorf("after restart got %+v, want the resolve", got[1])
	}
	h.step(time.Minute)
	h.settle()
	h.waitFor("hook", 2)
}

// TestReceiverDownGetsEverythingInOrder: notifications made while a
// receiver refuses arrive, all and in order, once it takes them again;
// health names the failing receiver meanwhile.
func TestReceiverDownGetsEverythingInOrder(t *testing.T) {
	rules := []config.AlertRule{
		{Name: "offline", When: config.AlertDeviceOffline, For: dur(0)},
		{Name: "fault", When: config.AlertDeviceFault, For: dur(0)},
	}
	h := newHarness(t, testSite(rules, "hook", "other"), 0)
	h.rcv["hook"].setDown(true)
	h.step(time.Second)
	h.w.setDevice("vent-01", pipeline.Offline, "gone")
	h.step(time.Second)
	h.w.setDevice("vent-01", pipeline.Fault, "fault rule true")
	h.step(time.Second)
	h.w.setDevice("mon-01", pipeline.Offline, "gone")
	h.step(time.Second)
	h.w.setDevice("vent-01", pipeline.Standby, "ok")
	h.step(time.Second)
	// Within one evaluation, alerts that fire come before those that
	// resolve.
	want := []string{"firing offline/device/vent-01", "firing fault/device/vent-01", "resolved offline/device/vent-01",
		"firing offline/device/mon-01", "resolved fault/device/vent-01"}
	other := h.waitFor("other", len(want))
	time.Sleep(100 * time.Millisecond) // retries happen meanwhile
	if n := len(h.rcv["hook"].list()); n != 0 {
		t.Fatalf("a down receiver got %d", n)
	}
	h.w.advance(time.Minute)
	if r := h.m.Health(); !strings.Contains(r, "receiver hook (webhook) failing for") || !strings.Contains(r, "5 notifications waiting") {
		t.Errorf("health = %q", r)
	}
	h.rcv["hook"].setDown(false)
	got := h.waitFor("hook", len(want))
	for i := range want {
		if g := got[i].Status + " " + got[i].AlertID; g != want[i] {
			t.Errorf("hook #%d = %s, want %s", i, g, want[i])
		}
		if got[i].ID != other[i].ID {
			t.Errorf("#%d: hook and other got different notifications %s / %s", i, got[i].ID, other[i].ID)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.m.Health() != "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r := h.m.Health(); r != "" {
		t.Errorf("health after recovery = %q", r)
	}
}

// TestRepeatUntilAcknowledged: a rule with repeat re-sends a firing alert
// that nobody acknowledged; an acknowledgement stops the repeats and is in
// the history with who made it.
func TestRepeatUntilAcknowledged(t *testing.T) {
	r := offlineRule
	r.Repeat = 10 * time.Minute
	h := newHarness(t, testSite([]config.AlertRule{r}, "hook"), 0)
	h.w.setDevice("vent-01", pipeline.Offline, "gone")
	h.step(3 * time.Minute)
	h.step(5 * time.Minute)
	h.step(6 * time.Minute) // 11 min after firing: one repeat
	got := h.waitFor("hook", 2)
	if !got[1].Repeat || got[1].Status != notify.StatusFiring || !strings.HasPrefix(got[1].Summary.EN, "Still: ") {
		t.Errorf("repeat = %+v", got[1])
	}
	if _, err := h.m.Ack("nope", "biomed", ""); !errors.Is(err, ErrUnknown) {
		t.Errorf("ack of an unknown alert: %v", err)
	}
	a, err := h.m.Ack("vent-offline/device/vent-01", "biomed", "on it")
	if err != nil || a.Ack == nil || a.Ack.By != "biomed" {
		t.Fatalf("ack = %+v, %v", a, err)
	}
	h.step(time.Hour)
	h.settle()
	h.waitFor("hook", 2)
	hist, _ := h.m.History(1)
	if len(hist) != 1 || hist[0].Event != "acknowledged" || hist[0].By != "biomed" || hist[0].Comment != "on it" {
		t.Errorf("history = %+v", hist)
	}
	// The acknowledgement survives a restart.
	h.shutdown()
	h.start()
	if act := h.m.Active(); len(act) != 1 || act[0].Ack == nil || act[0].Ack.By != "biomed" {
		t.Errorf("after restart: %+v", act)
	}
}

// TestRuleRemovedResolves: a reload that removes a rule resolves its
// firing alerts, so no receiver keeps an alert nobody watches.
func TestRuleRemovedResolves(t *testing.T) {
	h := newHarness(t, testSite([]config.AlertRule{offlineRule}, "hook"), 0)
	h.w.setDevice("vent-01", pipeline.Offline, "gone")
	h.step(3 * time.Minute)
	h.step(time.Second)
	h.waitFor("hook", 1)
	h.site = testSite(nil, "hook")
	h.m.Configure(h.site)
	h.step(time.Second)
	got := h.waitFor("hook", 2)
	if got[1].Status != notify.StatusResolved || !strings.Contains(got[1].Description.EN, "rule removed") {
		t.Errorf("resolve = %+v", got[1])
	}
}

// TestUnitGatewayAndGrace: unit_below, counts_unverified and
// gateway_degraded fire on their subjects, but not during the start grace.
func TestUnitGatewayAndGrace(t *testing.T) {
	rules := []config.AlertRule{
		{Name: "below", When: config.AlertUnitBelow, Below: 1, For: dur(0)},
		{Name: "unverified", When: config.AlertCountsUnverified, For: dur(0)},
		{Name: "influx", When: config.AlertGatewayDegraded, Sources: []string{"influxdb"}, For: dur(0), SendResolved: new(bool)},
	}
	h := newHarness(t, testSite(rules, "hook"), time.Minute)
	h.w.mu.Lock()
	h.w.snap.Capacity.Units[0].BedsEquipped, h.w.snap.Capacity.Units[0].Verified = 0, false
	h.w.snap.Capacity.Units[0].Evidence = pipeline.Evidence{Configured: 2, Fresh: 1, Stale: []string{"vent-01"}}
	h.w.degraded = map[string]string{"influxdb": "the server refuses points (401)", "reports": "not delivered"}
	h.w.mu.Unlock()
	h.step(time.Second)
	h.step(30 * time.Second)
	h.settle()
	if got := h.rcv["hook"].list(); len(got) != 0 {
		t.Fatalf("fired during the start grace: %v", summaries(got))
	}
	h.step(time.Minute)
	got := h.waitFor("hook", 3)
	ids := []string{got[0].AlertID, got[1].AlertID, got[2].AlertID}
	if !slices.Equal(ids, []string{"below/unit/icu-a", "unverified/unit/icu-a", "influx/gateway/influxdb"}) {
		t.Errorf("alerts = %v", ids)
	}
	if !strings.Contains(got[0].Cause, "0 of 1 beds equipped, fewer than 1") || !strings.Contains(got[1].Cause, "not fresh: vent-01") ||
		got[2].Source != "influxdb" || !strings.Contains(got[2].Summary.ZH, "InfluxDB") {
		t.Errorf("causes %q / %q / %+v", got[0].Cause, got[1].Cause, got[2])
	}
	// send_resolved: false gives no resolve notice.
	h.w.mu.Lock()
	h.w.degraded = nil
	h.w.mu.Unlock()
	h.step(time.Second)
	h.settle()
	h.waitFor("hook", 3)
}
