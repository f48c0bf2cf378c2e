package region

import (
	"time"

	"github.com/icugate/icugate/report"
)

// The view model: what the JSON API serves, the page renders, the metrics
// export and the alerts watch. Figures for a district and for the region
// have the same shape (Totals, Indicators), so anything that shows or
// stores one (a chart, a history, an export) handles both.

// Hospital and part statuses in a View.
const (
	// StatusReporting: every part's latest report is within silent_after
	// report intervals.
	StatusReporting = "reporting"
	// StatusPartial: some parts report, others are silent or never
	// reported. The hospital's figures are those of its reporting parts
	// only (a silent part's counts are unknown, never "still fine").
	StatusPartial = "partial"
	// StatusSilent: parts reported before, none lately; the hospital is
	// left out of the totals.
	StatusSilent = "silent"
	// StatusNever: registered, but no report accepted from any part yet.
	StatusNever = "never"
	// StatusUnregistered: reports were accepted, but the registry no
	// longer lists the hospital (a reload removed it); left out of totals.
	StatusUnregistered = "unregistered"
)

// Reasons a part (or a whole hospital) does not report.
const (
	// ReasonGatewayDown: the gateway's presence topic says offline (its
	// last will, or a clean stop): the gateway or its network is down.
	ReasonGatewayDown = "gateway_down"
	// ReasonNoReport: the gateway is connected (presence online), or its
	// presence is unknown (it reports over HTTP), but its reports
	// stopped: look at its /readyz (signing key, sequence store).
	ReasonNoReport = "no_report"
	// ReasonNeverReported: no report from this part accepted yet.
	ReasonNeverReported = "never_reported"
)

// Presence values of a PartView: the gateway's last presence message.
const (
	PresenceOnline  = report.PresenceOnline
	PresenceOffline = report.PresenceOffline
)

// View is the region as one instance (or a merge of instances) sees it.
type View struct {
	Region string    `json:"region"`
	AsOf   time.Time `json:"as_of"`
	// Scope is "instance" for one instance's own view, "merged" for a
	// merge of several.
	Scope string `json:"scope"`
	// Totals and Indicators are the whole region's.
	Totals     Totals     `json:"totals"`
	Indicators Indicators `json:"indicators"`
	// Districts are the configured districts in config order, each with
	// its own totals and per-100,000 indicators; empty without districts.
	Districts []DistrictView `json:"districts"`
	// Hospitals lists every registered hospital (and any unregistered one
	// with an accepted report), sorted by id.
	Hospitals []HospitalView `json:"hospitals"`
	// NotReporting names every hospital that is partial, silent or never
	// reported, with the reason for each of its silent parts.
	NotReporting []NotReporting `json:"not_reporting"`
}

// DistrictView is one district's figures.
type DistrictView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Totals     Totals     `json:"totals"`
	Indicators Indicators `json:"indicators"`
}

// Totals are sums over the contributing hospitals (reporting, and the
// reporting parts of partial ones) of a district or the region.
type Totals struct {
	// Hospitals counts the registered hospitals by status.
	Hospitals int `json:"hospitals"`
	Reporting int `json:"reporting"`
	Partial   int `json:"partial"`
	Silent    int `json:"silent"`
	Never     int `json:"never"`
	// Unverified counts contributing hospitals whose counts are not
	// verified (stale devices in a part).
	Unverified int `json:"unverified"`
	// Unregistered counts hospitals with accepted reports that the
	// current registry no longer lists (after a reload); region only.
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

// Indicators are the policy indicators of PRODUCT §1 for a district or
// the region.
type Indicators struct {
	Population int64 `json:"population"`
	TargetYear int   `json:"target_year"`
	// Complete is true when every hospital reports in full: otherwise
	// the figures leave out silent hospitals and parts and understate.
	Complete bool `json:"complete"`
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
	// Hospitals meeting their level's share targets (general, specialty
	// and convertible, on their merged counts), among contributing ones.
	HospitalsMeetingConfigured int     `json:"hospitals_meeting_targets_configured"`
	HospitalsMeetingEquipped   int     `json:"hospitals_meeting_targets_equipped"`
	ShareMeetingConfigured     float64 `json:"share_meeting_targets_configured"`
	ShareMeetingEquipped       float64 `json:"share_meeting_targets_equipped"`
	// Staffing is the declared staffing of the contributing hospitals
	// that declare it; nil when none does.
	Staffing *Staffing `json:"staffing,omitempty"`
}

// HospitalView is one hospital: its status, its parts and its figures
// merged over its reporting parts.
type HospitalView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	District string `json:"district,omitempty"`
	Level    string `json:"level,omitempty"`
	Status   string `json:"status"`
	// Reason says why a silent or never-reported hospital is: every
	// gateway down (gateway_down), never reported, else no_report.
	Reason string `json:"reason,omitempty"`
	// Partial is true while some parts report and others are silent;
	// SilentParts names those.
	Partial     bool     `json:"partial"`
	SilentParts []string `json:"silent_parts,omitempty"`
	// Parts lists the hospital's gateways (one, main, for most).
	Parts []PartView `json:"parts"`
	// AsOf is the oldest as_of among the counted parts: the figures hold
	// for at least that moment.
	AsOf *time.Time `json:"as_of,omitempty"`
	// Verified: every counted part's counts are verified; Coverage is
	// fresh / configured devices over the counted parts.
	Verified bool    `json:"verified"`
	Coverage float64 `json:"coverage"`
	// MeetsTargets: the general, specialty and convertible shares (from
	// the merged counts) all meet the level's targets, from configured
	// beds and from equipped beds.
	MeetsTargetsConfigured bool `json:"meets_targets_configured"`
	MeetsTargetsEquipped   bool `json:"meets_targets_equipped"`
	// Totals are the counted parts' hospital-wide counts summed.
	Totals *report.Counts `json:"totals,omitempty"`
	// Policy holds the shares on the merged counts; nil when nothing is
	// counted or the parts disagree on the hospital's level or beds.
	Policy *HospitalPolicy `json:"policy,omitempty"`
	// Conflict says what the parts' reports disagree on (level,
	// total_beds): each part's site config must state the same hospital.
	Conflict string `json:"conflict,omitempty"`

	// Sequence, AcceptedAt, Source and Report are the one part's, for a
	// hospital with a single gateway (as before parts existed).
	Sequence   uint64     `json:"sequence,omitempty"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	Source     Source     `json:"source,omitempty"`
	// Report is the latest accepted report (in /api/v1/hospitals, so
	// instances' views can be merged outside the instance).
	Report *report.Report `json:"report,omitempty"`
}

// PartView is one gateway of a hospital.
type PartView struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Presence is the gateway's last presence message (online, offline);
	// empty when none was seen. PresenceAt is when this instance got it.
	Presence   string     `json:"presence,omitempty"`
	PresenceAt *time.Time `json:"presence_at,omitempty"`
	// SilentSince is when the part became silent: its last as_of plus
	// silent_after report intervals.
	SilentSince *time.Time     `json:"silent_since,omitempty"`
	GatewayID   string         `json:"gateway_id,omitempty"`
	Sequence    uint64         `json:"sequence,omitempty"`
	AsOf        *time.Time     `json:"as_of,omitempty"`
	AcceptedAt  *time.Time     `json:"accepted_at,omitempty"`
	Source      Source         `json:"source,omitempty"`
	Verified    bool           `json:"verified"`
	Coverage    float64        `json:"coverage"`
	Totals      *report.Counts `json:"totals,omitempty"`
	// Report is the part's latest accepted report (/api/v1/hospitals).
	Report *report.Report `json:"report,omitempty"`
}

// NotReporting names one hospital that does not report in full.
type NotReporting struct {
	Hospital string `json:"hospital"`
	Name     string `json:"name"`
	District string `json:"district,omitempty"`
	// Status is partial, silent or never; Reason as in HospitalView.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Parts are the silent or never-reported parts.
	Parts []PartView `json:"parts"`
}

// withoutReports drops the reports from a view's hospitals and parts
// (GET /api/v1/region serves figures, not documents).
func (v *View) withoutReports() {
	for i := range v.Hospitals {
		h := &v.Hospitals[i]
		h.Report = nil
		for j := range h.Parts {
			h.Parts[j].Report = nil
		}
	}
	for i := range v.NotReporting {
		for j := range v.NotReporting[i].Parts {
			v.NotReporting[i].Parts[j].Report = nil
		}
	}
}

// Merge keeps, per hospital part, the entry with the highest sequence:
// how the views of several instances sharing a subscription combine.
func Merge(lists ...[]Entry) []Entry {
	best := map[partKey]Entry{}
	for _, l := range lists {
		for _, e := range l {
			k := e.key()
			if b, ok := best[k]; !ok || e.Report.Sequence > b.Report.Sequence {
				best[k] = e
			}
		}
	}
	out := make([]Entry, 0, len(best))
	for _, e := range best {
		out = append(out, e)
	}
	return out
}
