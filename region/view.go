package region

import (
	"sort"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// Hospital statuses in a View.
const (
	// StatusReporting: the latest report is within silent_after intervals.
	StatusReporting = "reporting"
	// StatusSilent: the hospital reported before, but not lately; its
	// counts are left out of the totals (a stale count is unknown, never
	// "still fine").
	StatusSilent = "silent"
	// StatusNever: registered, but no report accepted yet.
	StatusNever = "never"
)

// View is the region as one instance (or a merge of instances) sees it.
type View struct {
	Region string    `json:"region"`
	AsOf   time.Time `json:"as_of"`
	// Scope is "instance" for one instance's own view, "merged" for a
	// merge of several.
	Scope      string         `json:"scope"`
	Totals     Totals         `json:"totals"`
	Indicators Indicators     `json:"indicators"`
	Hospitals  []HospitalView `json:"hospitals"`
}

// HospitalView is one hospital's line in a View.
type HospitalView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Level      string     `json:"level,omitempty"`
	Status     string     `json:"status"`
	Sequence   uint64     `json:"sequence,omitempty"`
	AsOf       *time.Time `json:"as_of,omitempty"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	Source     Source     `json:"source,omitempty"`
	Verified   bool       `json:"verified"`
	Coverage   float64    `json:"coverage"`
	// MeetsTargets: the hospital's general, specialty and convertible
	// shares all meet its level's targets, from configured beds and from
	// equipped beds.
	MeetsTargetsConfigured bool           `json:"meets_targets_configured"`
	MeetsTargetsEquipped   bool           `json:"meets_targets_equipped"`
	Totals                 *report.Counts `json:"totals,omitempty"`
	// Report is the latest accepted report (in /api/v1/hospitals, so
	// instances' views can be merged outside the instance).
	Report *report.Report `json:"report,omitempty"`
}

// Totals are sums over the reporting hospitals' latest reports.
type Totals struct {
	Hospitals  int `json:"hospitals"`
	Reporting  int `json:"reporting"`
	Silent     int `json:"silent"`
	Never      int `json:"never"`
	Unverified int `json:"unverified"`
	// Unregistered counts hospitals with accepted reports that the
	// current registry no longer lists (after a reload).
	Unregistered int `json:"unregistered"`

	BedsTotal        int `json:"beds_total"`
	BedsEquipped     int `json:"beds_equipped"`
	BedsOccupied     int `json:"beds_occupied"`
	BedsAvailable    int `json:"beds_available"`
	BedsDegraded     int `json:"beds_degraded"`
	ConvertibleReady int `json:"convertible_ready"`
	// ICUBeds are general + specialty beds, configured and equipped.
	ICUBeds         int `json:"icu_beds"`
	ICUBedsEquipped int `json:"icu_beds_equipped"`
	ConvertibleBeds int `json:"convertible_beds"`
	// Devices sums device counts per kind.
	Devices map[string]report.KindCount `json:"devices"`
}

// Indicators are the regional policy indicators of PRODUCT §1.
type Indicators struct {
	Population int64 `json:"population"`
	TargetYear int   `json:"target_year"`
	// ICU beds (general + specialty) per 100,000 people, configured and
	// equipped, against 15 (until 2026) or 18 (from 2027).
	ICUBedsPer100k         float64 `json:"icu_beds_per_100k"`
	ICUBedsEquippedPer100k float64 `json:"icu_beds_equipped_per_100k"`
	ICUTargetPer100k       float64 `json:"icu_target_per_100k"`
	ICUMet                 bool    `json:"icu_met"`
	ICUEquippedMet         bool    `json:"icu_equipped_met"`
	// Convertible beds per 100,000, configured and ready within 24 h,
	// against 10 (until 2026) or 12 (from 2027).
	ConvertiblePer100k      float64 `json:"convertible_per_100k"`
	ConvertibleReadyPer100k float64 `json:"convertible_ready_per_100k"`
	ConvertibleTarget       float64 `json:"convertible_target_per_100k"`
	ConvertibleMet          bool    `json:"convertible_met"`
	ConvertibleReadyMet     bool    `json:"convertible_ready_met"`
	// Hospitals meeting their level's targets, among reporting ones.
	HospitalsMeetingConfigured int     `json:"hospitals_meeting_targets_configured"`
	HospitalsMeetingEquipped   int     `json:"hospitals_meeting_targets_equipped"`
	ShareMeetingConfigured     float64 `json:"share_meeting_targets_configured"`
	ShareMeetingEquipped       float64 `json:"share_meeting_targets_equipped"`
}

// regionalTargets returns ICU and convertible beds per 100,000 for year.
func regionalTargets(year int) (icu, convertible float64) {
	if year >= 2027 {
		return 18, 12
	}
	return 15, 10
}

// Merge keeps, per hospital, the entry with the highest sequence: how the
// views of several instances sharing a subscription combine.
func Merge(lists ...[]Entry) []Entry {
	best := map[string]Entry{}
	for _, l := range lists {
		for _, e := range l {
			id := e.Report.Hospital.ID
			if b, ok := best[id]; !ok || e.Report.Sequence > b.Report.Sequence {
				best[id] = e
			}
		}
	}
	out := make([]Entry, 0, len(best))
	for _, e := range best {
		out = append(out, e)
	}
	return out
}

// Summarise computes the view of entries at now: every registered hospital
// (and any hospital with an entry) with its status, and the totals and
// indicators over the reporting ones.
func Summarise(cfg *Config, reg *Registry, entries []Entry, now time.Time, scope string) View {
	v := View{Region: cfg.Region, AsOf: now.UTC(), Scope: scope, Totals: Totals{Devices: map[string]report.KindCount{}}}
	byID := make(map[string]Entry, len(entries))
	for _, e := range entries {
		byID[e.Report.Hospital.ID] = e
	}
	ids := append([]string{}, reg.Hospitals()...)
	registered := make(map[string]bool, len(ids))
	for _, id := range ids {
		registered[id] = true
	}
	for id := range byID {
		if !registered[id] {
			ids = append(ids, id)
			v.Totals.Unregistered++
		}
	}
	sort.Strings(ids)
	t := &v.Totals
	for _, id := range ids {
		hv := HospitalView{ID: id, Name: reg.Name(id), Status: StatusNever}
		e, seen := byID[id]
		if !seen {
			t.Never++
			v.Hospitals = append(v.Hospitals, hv)
			continue
		}
		r := e.Report
		asOf, acc := r.AsOf, e.AcceptedAt
		hv.Name, hv.Level, hv.Sequence, hv.AsOf, hv.AcceptedAt, hv.Source = r.Hospital.Name, r.Hospital.Level, r.Sequence, &asOf, &acc, e.Source
		hv.Verified, hv.Coverage, hv.Totals, hv.Report = r.Verified, r.Evidence.Coverage, &r.Totals, r
		hv.MeetsTargetsConfigured, hv.MeetsTargetsEquipped = meetsTargets(&r.Policy)
		hv.Status = StatusReporting
		if now.Sub(r.AsOf) > silentAfter(cfg, r) {
			hv.Status = StatusSilent
			t.Silent++
			v.Hospitals = append(v.Hospitals, hv)
			continue
		}
		t.Reporting++
		t.add(r)
		if hv.MeetsTargetsConfigured {
			v.Indicators.HospitalsMeetingConfigured++
		}
		if hv.MeetsTargetsEquipped {
			v.Indicators.HospitalsMeetingEquipped++
		}
		v.Hospitals = append(v.Hospitals, hv)
	}
	t.Hospitals = len(ids)
	v.Indicators.fill(cfg, t)
	return v
}

func silentAfter(cfg *Config, r *report.Report) time.Duration {
	iv := time.Duration(r.IntervalSeconds * float64(time.Second))
	if iv <= 0 {
		iv = cfg.Interval
	}
	return time.Duration(cfg.SilentAfter) * iv
}

func meetsTargets(p *report.Policy) (configured, equipped bool) {
	if !p.TargetsKnown {
		return false, false
	}
	configured = p.General.ConfiguredMet && p.Specialty.ConfiguredMet && p.Convertible.ConfiguredMet
	equipped = p.General.EquippedMet && p.Specialty.EquippedMet && p.Convertible.EquippedMet
	return configured, equipped
}

func (t *Totals) add(r *report.Report) {
	c := &r.Totals
	if !r.Verified {
		t.Unverified++
	}
	t.BedsTotal += c.BedsTotal
	t.BedsEquipped += c.BedsEquipped
	t.BedsOccupied += c.BedsOccupied
	t.BedsAvailable += c.BedsAvailable
	t.BedsDegraded += c.BedsDegraded
	t.ConvertibleReady += c.ConvertibleReady
	for _, cl := range r.Classes {
		switch cl.Class {
		case config.ClassGeneral, config.ClassSpecialty:
			t.ICUBeds += cl.BedsTotal
			t.ICUBedsEquipped += cl.BedsEquipped
		case config.ClassConvertible:
			t.ConvertibleBeds += cl.BedsTotal
		}
	}
	for k, d := range c.Devices {
		s := t.Devices[k]
		s.Total += d.Total
		s.InUse += d.InUse
		s.Standby += d.Standby
		s.Offline += d.Offline
		s.Fault += d.Fault
		s.Maintenance += d.Maintenance
		t.Devices[k] = s
	}
}

func (in *Indicators) fill(cfg *Config, t *Totals) {
	in.Population, in.TargetYear = cfg.Population, cfg.TargetYear
	in.ICUTargetPer100k, in.ConvertibleTarget = regionalTargets(cfg.TargetYear)
	if cfg.Population > 0 {
		per := func(n int) float64 { return float64(n) * 100000 / float64(cfg.Population) }
		in.ICUBedsPer100k = per(t.ICUBeds)
		in.ICUBedsEquippedPer100k = per(t.ICUBedsEquipped)
		in.ConvertiblePer100k = per(t.ConvertibleBeds)
		in.ConvertibleReadyPer100k = per(t.ConvertibleReady)
		// Exact integer comparisons: beds*100000 >= target*population.
		meets := func(n int, target float64) bool {
			return int64(n)*100000 >= int64(target)*cfg.Population
		}
		in.ICUMet = meets(t.ICUBeds, in.ICUTargetPer100k)
		in.ICUEquippedMet = meets(t.ICUBedsEquipped, in.ICUTargetPer100k)
		in.ConvertibleMet = meets(t.ConvertibleBeds, in.ConvertibleTarget)
		in.ConvertibleReadyMet = meets(t.ConvertibleReady, in.ConvertibleTarget)
	}
	if t.Reporting > 0 {
		in.ShareMeetingConfigured = float64(in.HospitalsMeetingConfigured) / float64(t.Reporting)
		in.ShareMeetingEquipped = float64(in.HospitalsMeetingEquipped) / float64(t.Reporting)
	}
}
