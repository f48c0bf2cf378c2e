// Package alerts is the gateway's own alerting, for sites without
// Prometheus: rules from the site config watch the snapshot (devices, beds,
// units) and the gateway's health once a second; an alert fires when its
// condition has held for the rule's for:, and resolves when it ends. Each
// change is written to the state store together with the notifications it
// causes, one queue per receiver, in one transaction; senders then deliver
// each queue in order, retrying with backoff until the receiver takes the
// notification. So an alert that fired is notified once per change of
// state: a receiver outage delays it, a restart neither repeats nor loses
// it.
package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// Alert statuses.
const (
	Pending = "pending"
	Firing  = "firing"
)

// Subject types.
const (
	SubjectDevice  = "device"
	SubjectBed     = "bed"
	SubjectUnit    = "unit"
	SubjectGateway = "gateway"
)

// Subject is what an alert is about.
type Subject struct {
	// Type is device, bed, unit or gateway; ID the device, bed or unit id,
	// or the health source for the gateway.
	Type   string `json:"type"`
	ID     string `json:"id"`
	Device string `json:"device,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Bed    string `json:"bed,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Source string `json:"source,omitempty"`
}

// Ack is an engineer's acknowledgement of a firing alert: it stops the
// rule's repeats, nothing else.
type Ack struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// Alert is one rule's alert on one subject, pending or firing.
type Alert struct {
	// ID is rule/subject type/subject id, e.g. vent-offline/device/vent-01.
	ID        string  `json:"id"`
	Rule      string  `json:"rule"`
	Condition string  `json:"condition"`
	Severity  string  `json:"severity"`
	Status    string  `json:"status"`
	Subject   Subject `json:"subject"`
	// Cause is the latest technical cause.
	Cause string `json:"cause"`
	// StartsAt is when the condition began; FiredAt when the alert fired;
	// LastSent when it was last notified (fired or repeated).
	StartsAt time.Time `json:"starts_at"`
	FiredAt  time.Time `json:"fired_at,omitzero"`
	LastSent time.Time `json:"last_sent,omitzero"`
	Ack      *Ack      `json:"ack,omitempty"`
}

// Change kinds the evaluator produces.
const (
	changeFire    = "fired"
	changeResolve = "resolved"
	changeRepeat  = "repeated"
)

// change is one alert changing state.
type change struct {
	kind  string
	alert Alert
	// now describes the subject's state at a resolve ("standby").
	now string
	// rule is the rule in force; nil when the rule was removed.
	rule *config.AlertRule
	at   time.Time
}

// Input is what the rules look at.
type Input struct {
	Now time.Time
	// Snapshot is the engine's latest snapshot.
	Snapshot *pipeline.Snapshot
	// Degraded is the gateway's health: source → reason, empty when all
	// is well.
	Degraded map[string]string
}

// evaluator keeps the alerts and turns inputs into changes. It is not safe
// for concurrent use.
type evaluator struct {
	rules   []config.AlertRule
	alerts  map[string]*Alert
	started time.Time
	// grace is how long after start (and after a device is added) the
	// gateway learns states before anything fires: every device is
	// "never seen" and every bed degraded until the first answers.
	grace time.Duration
}

func newEvaluator(started time.Time, grace time.Duration) *evaluator {
	return &evaluator{alerts: map[string]*Alert{}, started: started, grace: grace}
}

// match is one condition true now for one subject.
type match struct {
	subj  Subject
	since time.Time
	cause string
	// wait is a minimum time since `since` before firing (a device never
	// seen is given the start grace).
	wait time.Duration
}

func alertID(rule string, s Subject) string { return rule + "/" + s.Type + "/" + s.ID }

// evaluate applies in to every rule and returns the changes, in a stable
// order (rules in config order, subjects in snapshot order, removals last).
func (e *evaluator) evaluate(in Input) []change {
	var out []change
	seen := map[string]bool{}
	for ri := range e.rules {
		r := &e.rules[ri]
		for _, m := range matches(r, in) {
			id := alertID(r.Name, m.subj)
			seen[id] = true
			a := e.alerts[id]
			if a == nil {
				since := m.since
				if since.IsZero() || since.After(in.Now) {
					since = in.Now
				}
				a = &Alert{ID: id, Rule: r.Name, Condition: r.When, Severity: r.Severity,
					Status: Pending, Subject: m.subj, StartsAt: since}
				e.alerts[id] = a
			}
			a.Cause, a.Severity, a.Subject = m.cause, r.Severity, m.subj
			switch a.Status {
			case Pending:
				held := in.Now.Sub(a.StartsAt)
				if held >= max(r.ForDuration(), m.wait) && in.Now.Sub(e.started) >= e.grace {
					a.Status, a.FiredAt, a.LastSent = Firing, in.Now, in.Now
					out = append(out, change{kind: changeFire, alert: *a, rule: r, at: in.Now})
				}
			case Firing:
				if r.Repeat > 0 && a.Ack == nil && in.Now.Sub(a.LastSent) >= r.Repeat {
					a.LastSent = in.Now
					out = append(out, change{kind: changeRepeat, alert: *a, rule: r, at: in.Now})
				}
			}
		}
	}
	ids := make([]string, 0, len(e.alerts))
	for id := range e.alerts {
		if !seen[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	learning := in.Now.Sub(e.started) < e.grace
	for _, id := range ids {
		a := e.alerts[id]
		if a.Status == Firing && learning && e.rule(a.Rule) != nil {
			// Right after a start nothing is known yet (every device
			// "never seen"); an alert restored as firing is not resolved
			// on that account, only once the states are known.
			continue
		}
		delete(e.alerts, id)
		if a.Status != Firing {
			continue
		}
		r := e.rule(a.Rule)
		now := subjectNow(a.Subject, in)
		if r == nil {
			now = "rule removed"
		}
		out = append(out, change{kind: changeResolve, alert: *a, now: now, rule: r, at: in.Now})
	}
	return out
}

// rule returns the rule named name, or nil.
func (e *evaluator) rule(name string) *config.AlertRule {
	for i := range e.rules {
		if e.rules[i].Name == name {
			return &e.rules[i]
		}
	}
	return nil
}

// matches lists the subjects for which r's condition holds in in.
func matches(r *config.AlertRule, in Input) []match {
	snap := in.Snapshot
	var out []match
	switch r.When {
	case config.AlertDeviceOffline, config.AlertDeviceFault:
		if snap == nil {
			return nil
		}
		want := pipeline.Offline
		if r.When == config.AlertDeviceFault {
			want = pipeline.Fault
		}
		for i := range snap.Devices {
			d := &snap.Devices[i]
			bed := ""
			if d.AtType == "bed" {
				bed = d.At
			}
			if d.State != want || !filter(r.Kinds, d.Kind) || !filter(r.Units, d.Unit) ||
				!filter(r.Devices, d.ID) || !filter(r.Beds, bed) {
				continue
			}
			m := match{
				subj:  Subject{Type: SubjectDevice, ID: d.ID, Device: d.ID, Kind: d.Kind, Bed: bed, Unit: d.Unit},
				since: d.Since, cause: d.Cause,
			}
			if d.LastSeen == nil {
				m.wait = neverSeenWait
			}
			out = append(out, m)
		}
	case config.AlertBedDegraded:
		if snap == nil {
			return nil
		}
		state := deviceStates(snap)
		for i := range snap.Beds {
			b := &snap.Beds[i]
			if b.State != pipeline.Degraded || !filter(r.Units, b.Unit) || !filter(r.Beds, b.ID) {
				continue
			}
			if !r.IncludeMaintenance && slices.ContainsFunc(b.Devices, func(id string) bool { return state[id] == pipeline.Maintenance }) {
				continue
			}
			cause := strings.Join(b.Reason, "; ")
			if cause == "" {
				cause = "not equipped"
			}
			out = append(out, match{subj: Subject{Type: SubjectBed, ID: b.ID, Bed: b.ID, Unit: b.Unit}, since: b.Since, cause: cause})
		}
	case config.AlertUnitBelow, config.AlertCountsUnverified:
		if snap == nil {
			return nil
		}
		for _, u := range snap.Capacity.Units {
			if !filter(r.Units, u.Unit) {
				continue
			}
			var cause string
			switch {
			case r.When == config.AlertUnitBelow && u.BedsEquipped < r.Below:
				cause = fmt.Sprintf("%d of %d beds equipped, fewer than %d", u.BedsEquipped, u.BedsTotal, r.Below)
			case r.When == config.AlertCountsUnverified && !u.Verified:
				cause = unverifiedCause(u.Evidence)
			default:
				continue
			}
			out = append(out, match{subj: Subject{Type: SubjectUnit, ID: u.Unit, Unit: u.Unit}, cause: cause})
		}
	case config.AlertGatewayDegraded:
		keys := make([]string, 0, len(in.Degraded))
		for k := range in.Degraded {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, src := range keys {
			if filter(r.Sources, src) {
				out = append(out, match{subj: Subject{Type: SubjectGateway, ID: src, Source: src}, cause: in.Degraded[src]})
			}
		}
	}
	return out
}

// neverSeenWait is the least time a device that never answered must stay
// so before it counts as offline for an alert: the first poll of a device
// just added (or of every device after a start) takes a moment.
const neverSeenWait = 30 * time.Second

func unverifiedCause(ev pipeline.Evidence) string {
	var parts []string
	if len(ev.Stale) > 0 {
		parts = append(parts, "not fresh: "+strings.Join(clipList(ev.Stale), ", "))
	}
	if len(ev.Missing) > 0 {
		parts = append(parts, "never seen: "+strings.Join(clipList(ev.Missing), ", "))
	}
	return fmt.Sprintf("%d of %d devices fresh; %s", ev.Fresh, ev.Configured, strings.Join(parts, "; "))
}

// clipList keeps a list readable in one line.
func clipList(l []string) []string {
	const n = 5
	if len(l) <= n {
		return l
	}
	return append(slices.Clip(l[:n]), fmt.Sprintf("and %d more", len(l)-n))
}

func filter(allowed []string, v string) bool {
	return len(allowed) == 0 || slices.Contains(allowed, v)
}

func deviceStates(snap *pipeline.Snapshot) map[string]pipeline.DeviceState {
	m := make(map[string]pipeline.DeviceState, len(snap.Devices))
	for i := range snap.Devices {
		m[snap.Devices[i].ID] = snap.Devices[i].State
	}
	return m
}

// subjectNow describes a resolved subject's state now, for the notice.
func subjectNow(s Subject, in Input) string {
	snap := in.Snapshot
	switch s.Type {
	case SubjectDevice:
		if snap != nil {
			for i := range snap.Devices {
				if d := &snap.Devices[i]; d.ID == s.ID {
					return d.State.String()
				}
			}
		}
		return "removed from the configuration"
	case SubjectBed:
		if snap != nil {
			for i := range snap.Beds {
				if b := &snap.Beds[i]; b.ID == s.ID {
					return b.State.String()
				}
			}
		}
		return "removed from the configuration"
	case SubjectUnit:
		if snap != nil {
			for _, u := range snap.Capacity.Units {
				if u.Unit == s.ID {
					return fmt.Sprintf("%d of %d beds equipped", u.BedsEquipped, u.BedsTotal)
				}
			}
		}
		return "removed from the configuration"
	}
	return "working"
}
