package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

// step is one event of a device test: an observation in state obs (or a
// failure when fail != ""), an admin maintenance change, or only a clock
// advance; then the expected state.
type step struct {
	d      time.Duration
	obs    *DeviceState
	fail   string
	serial string
	maint  *bool
	excuse time.Duration // the gateway could not observe for this long, ending at d
	want   DeviceState
	cause  string // substring of the device's cause, if set
}

func st(s DeviceState) *DeviceState { return &s }
func bl(b bool) *bool               { return &b }

func TestDeviceState(t *testing.T) {
	tests := []struct {
		name       string
		serial     string
		trustEmpty bool
		steps      []step
	}{
		{name: "never seen is offline", steps: []step{
			{d: 0, want: Offline, cause: "never seen"},
			{d: 30 * sec, want: Offline, cause: "never seen"},
		}},
		{name: "freshness window expiry", steps: []step{
			{d: 0, obs: st(Standby), want: Standby},
			{d: 4 * sec, want: Standby},
			{d: 4999 * time.Millisecond, want: Standby},
			{d: 5 * sec, want: Offline, cause: "no valid answer for 5s"},
			{d: 6 * sec, obs: st(InUse), want: InUse},
		}},
		{name: "a gap of the gateway's own is excused", steps: []step{
			{d: 0, obs: st(InUse), want: InUse},
			{d: 3 * sec, want: InUse},
			// 90 s stall: the device had 2 s of its window left, and keeps them.
			{d: 93 * sec, excuse: 90 * sec, want: InUse},
			{d: 94900 * time.Millisecond, want: InUse},
			{d: 95 * sec, want: Offline, cause: "no valid answer"},
		}},
		{name: "an excused gap does not revive a stale device", steps: []step{
			{d: 0, obs: st(Standby), want: Standby},
			{d: 6 * sec, want: Offline},
			{d: 96 * sec, excuse: 90 * sec, want: Offline},
			{d: 97 * sec, obs: st(Standby), want: Standby},
		}},
		{name: "consecutive failures", steps: []step{
			{d: 0, obs: st(InUse), want: InUse},
			{d: 1 * sec, fail: "timeout", want: InUse},
			{d: 2 * sec, fail: "timeout", want: InUse},
			{d: 3 * sec, fail: "connection refused", want: Offline, cause: "3 consecutive failed polls: connection refused"},
			{d: 4 * sec, obs: st(InUse), want: InUse},
			{d: 5 * sec, fail: "timeout", want: InUse},
		}},
		{name: "failure count resets on success", steps: []step{
			{d: 0, obs: st(Standby), want: Standby},
			{d: 1 * sec, fail: "x", want: Standby},
			{d: 2 * sec, fail: "x", want: Standby},
			{d: 3 * sec, obs: st(Standby), want: Standby},
			{d: 4 * sec, fail: "x", want: Standby},
			{d: 4500 * time.Millisecond, fail: "x", want: Standby},
		}},
		{name: "precedence fault over maintenance over in use", steps: []step{
			{d: 0, obs: st(InUse), want: InUse},
			{d: 1 * sec, obs: st(Maintenance), want: Maintenance, cause: "service mode): service = true (coil 1)"},
			{d: 2 * sec, obs: st(Fault), want: Fault, cause: "fault rule true: fault = true (coil 0)"},
			{d: 3 * sec, obs: st(Standby), want: Standby},
		}},
		{name: "offline beats reported fault", steps: []step{
			{d: 0, obs: st(Fault), want: Fault},
			{d: 5 * sec, want: Offline},
		}},
		{name: "admin maintenance beats everything", steps: []step{
			{d: 0, obs: st(InUse), want: InUse},
			{d: 1 * sec, maint: bl(true), want: Maintenance, cause: "maintenance set by eng"},
			{d: 2 * sec, obs: st(Fault), want: Maintenance},
			{d: 10 * sec, want: Maintenance},
			{d: 11 * sec, maint: bl(false), want: Offline, cause: "maintenance cleared by eng"},
			{d: 12 * sec, obs: st(Standby), want: Standby},
		}},
		{name: "serial mismatch is a fault", serial: "SN1", steps: []step{
			{d: 0, obs: st(InUse), serial: "SN1", want: InUse},
			{d: 1 * sec, obs: st(InUse), serial: "SN9", want: Fault, cause: "serial mismatch: want SN1 got SN9"},
			{d: 2 * sec, obs: st(Standby), serial: "SN9", want: Fault},
			{d: 3 * sec, obs: st(Standby), serial: "SN1", want: Standby},
			// No serial where one is expected: it could be any device.
			{d: 4 * sec, obs: st(Standby), serial: "", want: Fault, cause: "not trusted: the device reports no serial, want SN1"},
			{d: 5 * sec, obs: st(Standby), serial: "SN1", want: Standby},
		}},
		{name: "empty serial trusted where the profile says so", serial: "SN1", trustEmpty: true, steps: []step{
			{d: 0, obs: st(InUse), serial: "", want: InUse},
			{d: 1 * sec, obs: st(InUse), serial: "SN9", want: Fault, cause: "serial mismatch: want SN1 got SN9"},
		}},
		{name: "late observation ignored", steps: []step{
			{d: 10 * sec, obs: st(InUse), want: InUse},
			{d: 9 * sec, obs: st(Fault), want: InUse},
			{d: 9 * sec, fail: "late", want: InUse},
		}},
		{name: "observation already stale on arrival stays offline", steps: []step{
			{d: 20 * sec, want: Offline},
			{d: 10 * sec, obs: st(Standby), want: Offline},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).device("v1", "ventilator", "g-1")
			b.last().Serial = tc.serial
			b.site.Profiles[b.last().Profile].TrustEmptySerial = tc.trustEmpty
			e := b.engine()
			for i, s := range tc.steps {
				switch {
				case s.excuse > 0:
					e.Excuse(s.excuse)
					e.Advance(at(s.d))
				case s.maint != nil:
					if err := e.SetMaintenance("v1", *s.maint, at(s.d), "eng"); err != nil {
						t.Fatal(err)
					}
				case s.fail != "":
					failObs(t, e, "v1", s.d, s.fail)
				case s.obs != nil:
					if err := e.Observe(Observation{Device: "v1", Time: at(s.d), Values: values(*s.obs), Serial: s.serial}); err != nil {
						t.Fatal(err)
					}
				default:
					e.Advance(at(s.d))
				}
				ds, _ := e.Device("v1")
				if ds.State != s.want {
					t.Fatalf("step %d (%v): state %s, want %s (cause %q)", i, s.d, ds.State, s.want, ds.Cause)
				}
				if s.cause != "" && !strings.Contains(ds.Cause+"|"+lastCause(e), s.cause) {
					t.Fatalf("step %d: cause %q, want it to contain %q", i, ds.Cause, s.cause)
				}
			}
		})
	}
}

// lastCause drains the transitions and returns the last one's cause.
func lastCause(e *Engine) string {
	tr := e.Transitions(nil)
	for i := len(tr) - 1; i >= 0; i-- {
		if tr[i].Type == TransitionDevice {
			return tr[i].Cause
		}
	}
	return ""
}

func TestDeriveErrorIsFailedObservation(t *testing.T) {
	e := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).device("v1", "ventilator", "g-1").engine()
	obs(t, e, "v1", 0, InUse)
	short := []rules.Sample{{Num: 1}} // wrong number of values: Derive fails
	for i := 1; i <= 3; i++ {
		if err := e.Observe(Observation{Device: "v1", Time: at(time.Duration(i) * sec), Values: short}); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ := e.Device("v1")
	if ds.State != Offline || ds.ConsecutiveFailures != 3 || !strings.Contains(ds.LastError, "got 1 values") {
		t.Fatalf("after 3 derive errors: %+v", ds)
	}
}

func TestTransitionsAndUtilisation(t *testing.T) {
	e := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).device("v1", "ventilator", "g-1").engine()
	obs(t, e, "v1", 10*sec, Standby)
	obs(t, e, "v1", 12*sec, InUse)
	obs(t, e, "v1", 14*sec, InUse)
	e.Advance(at(30 * sec)) // last seen 14s: offline at 19s
	tr := e.Transitions(nil)
	var dev []string
	for _, x := range tr {
		if x.Type == TransitionDevice {
			dev = append(dev, x.From+">"+x.To+"@"+x.Time.Sub(t0).String())
		}
	}
	want := "offline>standby@10s standby>in_use@12s in_use>offline@19s"
	if got := strings.Join(dev, " "); got != want {
		t.Fatalf("transitions %q, want %q", got, want)
	}
	if again := e.Transitions(nil); len(again) != 0 {
		t.Fatalf("transitions not cleared: %v", again)
	}
	ds, _ := e.Device("v1")
	wantU := Utilisation{Offline: 10 + 11, Standby: 2, InUse: 7}
	if ds.Utilisation != wantU {
		t.Fatalf("utilisation %+v, want %+v", ds.Utilisation, wantU)
	}
	s := e.Snapshot()
	if got := s.Utilisation.ByKind["ventilator"]; got != wantU {
		t.Fatalf("by kind %+v, want %+v", got, wantU)
	}
	if got := s.Utilisation.ByUnit["g"]; got != wantU {
		t.Fatalf("by unit %+v, want %+v", got, wantU)
	}
}

func TestUnknownInputsChangeNothing(t *testing.T) {
	e := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).pool("p", "").device("v1", "ventilator", "g-1").engine()
	before := e.Snapshot()
	if err := e.Observe(Observation{Device: "nope", Time: at(sec)}); err == nil {
		t.Fatal("observation of unknown device accepted")
	}
	if err := e.SetMaintenance("nope", true, at(sec), "eng"); err == nil {
		t.Fatal("maintenance of unknown device accepted")
	}
	if err := e.Move("nope", "p", at(sec), "eng"); err == nil {
		t.Fatal("move of unknown device accepted")
	}
	if err := e.Move("v1", "nowhere", at(sec), "eng"); err == nil {
		t.Fatal("move to unknown place accepted")
	}
	after := e.Snapshot()
	after.Stats = before.Stats
	if !snapshotsEqual(before, after) {
		t.Fatal("rejected inputs changed the snapshot")
	}
	if len(e.Transitions(nil)) != 0 {
		t.Fatal("rejected inputs recorded transitions")
	}
}

func TestNewRejectsInconsistentSite(t *testing.T) {
	cases := map[string]func(b *siteBuilder){
		"duplicate device":  func(b *siteBuilder) { b.device("v1", "ventilator", "g-1") },
		"unknown place":     func(b *siteBuilder) { b.device("v2", "ventilator", "x-9") },
		"unknown profile":   func(b *siteBuilder) { b.device("v3", "ventilator", "g-1"); b.last().Profile = "none" },
		"pool of no unit":   func(b *siteBuilder) { b.pool("p", "zz") },
		"pool named as bed": func(b *siteBuilder) { b.pool("g-1", "") },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := newSiteBuilder(t, 0).unit("g", config.ClassGeneral, 1).device("v1", "ventilator", "g-1")
			mutate(b)
			if _, err := New(b.site, t0); err == nil {
				t.Fatal("New accepted an inconsistent site")
			}
		})
	}
}
