package region

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/icugate/icugate/report"
)

// Presence is one gateway's last presence message as an instance heard it
// (report.PresenceTopic).
type Presence struct {
	Hospital string    `json:"hospital"`
	Part     string    `json:"part"`
	State    string    `json:"state"` // online or offline
	At       time.Time `json:"at"`
}

// Summarise computes the view of entries at now: every registered hospital
// with its parts and status, each hospital's figures merged over its
// reporting parts, and the totals and indicators of every district and of
// the region over the contributing hospitals. presence (may be nil) tells
// a gateway that is down from one that is up but silent.
func Summarise(cfg *Config, reg *Registry, entries []Entry, presence []Presence, now time.Time, scope string) View {
	s := summary{
		cfg: cfg, now: now,
		entries:  make(map[partKey]Entry, len(entries)),
		presence: make(map[partKey]Presence, len(presence)),
		district: map[string]*districtSum{},
	}
	for _, e := range entries {
		s.entries[e.key()] = e
	}
	for _, p := range presence {
		s.presence[partKey{p.Hospital, p.Part}] = p
	}
	v := View{Region: cfg.Region, AsOf: now.UTC(), Scope: scope, Districts: []DistrictView{}, NotReporting: []NotReporting{}}
	for _, d := range cfg.Districts {
		s.district[d.ID] = newDistrictSum()
	}
	region := newDistrictSum()
	for _, id := range reg.Hospitals() {
		h, _ := reg.Hospital(id)
		hv, f := s.hospital(h)
		region.add(&hv, f)
		if d := s.district[h.District]; d != nil {
			d.add(&hv, f)
		}
		v.Hospitals = append(v.Hospitals, hv)
		if hv.Status != StatusReporting {
			v.NotReporting = append(v.NotReporting, notReporting(&hv))
		}
	}
	// Hospitals with accepted reports that a reload removed.
	seen := map[string]bool{}
	for k, e := range s.entries {
		if _, ok := reg.Hospital(k.hospital); ok || seen[k.hospital] {
			continue
		}
		seen[k.hospital] = true
		v.Hospitals = append(v.Hospitals, HospitalView{ID: k.hospital, Name: e.Report.Hospital.Name, Level: e.Report.Hospital.Level, Status: StatusUnregistered, Parts: []PartView{}})
		region.totals.Unregistered++
	}
	sort.Slice(v.Hospitals, func(i, j int) bool { return v.Hospitals[i].ID < v.Hospitals[j].ID })
	v.Totals, v.Indicators = region.finish(cfg.Population, cfg.TargetYear)
	for _, d := range cfg.Districts {
		t, in := s.district[d.ID].finish(d.Population, cfg.TargetYear)
		t.Unregistered = 0
		v.Districts = append(v.Districts, DistrictView{ID: d.ID, Name: d.Name, Totals: t, Indicators: in})
	}
	return v
}

// summary is Summarise's working state.
type summary struct {
	cfg      *Config
	now      time.Time
	entries  map[partKey]Entry
	presence map[partKey]Presence
	district map[string]*districtSum
}

// hospital computes one registered hospital's view and, when it
// contributes, its merged figures.
func (s *summary) hospital(h *RegisteredHospital) (HospitalView, *figures) {
	hv := HospitalView{ID: h.ID, Name: h.Name, District: h.District, Parts: make([]PartView, 0, len(h.Parts))}
	var counted []*report.Report
	var reported, down, never int
	for _, p := range h.Parts {
		k := partKey{h.ID, p.ID}
		pv := PartView{ID: p.ID, Name: p.Name, Status: StatusNever, Reason: ReasonNeverReported}
		if pr, ok := s.presence[k]; ok {
			at := pr.At
			pv.Presence, pv.PresenceAt = pr.State, &at
		}
		e, ok := s.entries[k]
		if !ok {
			never++
			hv.SilentParts = append(hv.SilentParts, p.ID)
			hv.Parts = append(hv.Parts, pv)
			continue
		}
		reported++
		r := e.Report
		asOf, acc := r.AsOf, e.AcceptedAt
		pv.GatewayID, pv.Sequence, pv.AsOf, pv.AcceptedAt, pv.Source = r.GatewayID, r.Sequence, &asOf, &acc, e.Source
		pv.Verified, pv.Coverage, pv.Totals, pv.Report = r.Verified, r.Evidence.Coverage, &r.Totals, r
		if hv.Name == "" {
			hv.Name = r.Hospital.Name
		}
		if limit := silentAfter(s.cfg, r); s.now.Sub(r.AsOf) > limit {
			since := r.AsOf.Add(limit)
			pv.Status, pv.SilentSince = StatusSilent, &since
			pv.Reason = ReasonNoReport
			if pv.Presence == PresenceOffline {
				pv.Reason = ReasonGatewayDown
				down++
			}
			hv.SilentParts = append(hv.SilentParts, p.ID)
		} else {
			pv.Status, pv.Reason = StatusReporting, ""
			counted = append(counted, r)
		}
		hv.Parts = append(hv.Parts, pv)
	}
	if len(h.Parts) == 1 && hv.Parts[0].Report != nil {
		p := hv.Parts[0]
		hv.Sequence, hv.AcceptedAt, hv.Source, hv.Report = p.Sequence, p.AcceptedAt, p.Source, p.Report
	}
	switch {
	case len(counted) == len(h.Parts):
		hv.Status = StatusReporting
	case len(counted) > 0:
		hv.Status, hv.Partial = StatusPartial, true
	case reported == 0:
		hv.Status, hv.Reason = StatusNever, ReasonNeverReported
	default:
		hv.Status, hv.Reason = StatusSilent, ReasonNoReport
		if down == reported {
			hv.Reason = ReasonGatewayDown
		}
	}
	if len(counted) == 0 {
		if reported > 0 {
			// The level of a silent hospital is still worth showing.
			for _, p := range hv.Parts {
				if p.Report != nil {
					hv.Level = p.Report.Hospital.Level
				}
			}
		}
		return hv, nil
	}
	return hv, s.merge(&hv, counted)
}

// merge sums the counted parts' reports into hv and returns the figures.
func (s *summary) merge(hv *HospitalView, counted []*report.Report) *figures {
	f := &figures{}
	tot := report.Counts{Unit: "all", Class: "all", Devices: map[string]report.KindCount{}, Verified: true}
	first := counted[0]
	level, beds := first.Hospital.Level, first.Hospital.TotalBeds
	var conflicts []string
	var oldest time.Time
	for _, r := range counted {
		addCounts(&tot, &r.Totals)
		tot.Verified = tot.Verified && r.Verified
		tot.Evidence.Fresh += r.Evidence.Fresh
		tot.Evidence.Configured += r.Evidence.Configured
		tot.Evidence.Stale = append(tot.Evidence.Stale, r.Evidence.Stale...)
		tot.Evidence.Missing = append(tot.Evidence.Missing, r.Evidence.Missing...)
		f.addReport(r)
		if oldest.IsZero() || r.AsOf.Before(oldest) {
			oldest = r.AsOf
		}
		if r.Hospital.Level != level {
			conflicts = append(conflicts, fmt.Sprintf("level %s / %s", level, r.Hospital.Level))
		}
		if r.Hospital.TotalBeds != beds {
			conflicts = append(conflicts, fmt.Sprintf("total_beds %d / %d", beds, r.Hospital.TotalBeds))
		}
	}
	tot.Evidence.Coverage = 1
	if tot.Evidence.Configured > 0 {
		tot.Evidence.Coverage = float64(tot.Evidence.Fresh) / float64(tot.Evidence.Configured)
	}
	hv.Level, hv.AsOf, hv.Totals = level, &oldest, &tot
	hv.Verified, hv.Coverage = tot.Verified, tot.Evidence.Coverage
	if len(conflicts) > 0 {
		hv.Conflict = "the parts' reports disagree on " + strings.Join(conflicts, ", ") + ": every part's site config must state the same hospital"
		return f
	}
	hv.Policy = f.policy(level, beds, s.cfg.TargetYear)
	hv.MeetsTargetsConfigured, hv.MeetsTargetsEquipped = hv.Policy.meets()
	return f
}

func notReporting(hv *HospitalView) NotReporting {
	n := NotReporting{Hospital: hv.ID, Name: hv.Name, District: hv.District, Status: hv.Status, Reason: hv.Reason, Parts: []PartView{}}
	for _, p := range hv.Parts {
		if p.Status != StatusReporting {
			p.Report, p.Totals = nil, nil
			n.Parts = append(n.Parts, p)
		}
	}
	return n
}

func silentAfter(cfg *Config, r *report.Report) time.Duration {
	iv := time.Duration(r.IntervalSeconds * float64(time.Second))
	if iv <= 0 {
		iv = cfg.Interval
	}
	return time.Duration(cfg.SilentAfter) * iv
}

func addCounts(dst, c *report.Counts) {
	dst.BedsTotal += c.BedsTotal
	dst.BedsEquipped += c.BedsEquipped
	dst.BedsOccupied += c.BedsOccupied
	dst.BedsAvailable += c.BedsAvailable
	dst.BedsDegraded += c.BedsDegraded
	dst.ConvertibleReady += c.ConvertibleReady
	addDevices(dst.Devices, c.Devices)
}

func addDevices(dst, src map[string]report.KindCount) {
	for k, d := range src {
		s := dst[k]
		s.Total += d.Total
		s.InUse += d.InUse
		s.Standby += d.Standby
		s.Offline += d.Offline
		s.Fault += d.Fault
		s.Maintenance += d.Maintenance
		dst[k] = s
	}
}

// districtSum accumulates a district's (or the region's) hospitals.
type districtSum struct {
	totals     Totals
	f          figures
	meetingCfg int
	meetingEq  int
	contrib    int
}

func newDistrictSum() *districtSum {
	return &districtSum{totals: Totals{Devices: map[string]report.KindCount{}}}
}

// add counts hv and, when it contributes (f != nil), its figures.
func (d *districtSum) add(hv *HospitalView, f *figures) {
	t := &d.totals
	t.Hospitals++
	switch hv.Status {
	case StatusReporting:
		t.Reporting++
	case StatusPartial:
		t.Partial++
	case StatusSilent:
		t.Silent++
	case StatusNever:
		t.Never++
	}
	if f == nil {
		return
	}
	d.contrib++
	if !hv.Verified {
		t.Unverified++
	}
	c := hv.Totals
	t.BedsTotal += c.BedsTotal
	t.BedsEquipped += c.BedsEquipped
	t.BedsOccupied += c.BedsOccupied
	t.BedsAvailable += c.BedsAvailable
	t.BedsDegraded += c.BedsDegraded
	t.ConvertibleReady += c.ConvertibleReady
	addDevices(t.Devices, c.Devices)
	t.ICUBeds += f.general.beds + f.specialty.beds
	t.ICUBedsEquipped += f.general.equipped + f.specialty.equipped
	t.ConvertibleBeds += f.convertible.beds
	d.f.general.add(f.general)
	d.f.specialty.add(f.specialty)
	d.f.convertible.add(f.convertible)
	if f.declaring > 0 {
		// For a district, staffing counts declaring hospitals.
		d.f.doctors += f.doctors
		d.f.nurses += f.nurses
		d.f.staffedBeds += f.staffedBeds
		d.f.declaring++
	}
	if hv.MeetsTargetsConfigured {
		d.meetingCfg++
	}
	if hv.MeetsTargetsEquipped {
		d.meetingEq++
	}
}

// finish computes the indicators of the sums for population.
func (d *districtSum) finish(population int64, year int) (Totals, Indicators) {
	t := d.totals
	in := Indicators{Population: population, TargetYear: year, Staffing: d.f.staffing()}
	in.Complete = t.Reporting == t.Hospitals
	icuTarget, convTarget := regionalTargets(year)
	in.ICUTargetPer100k, in.ConvertibleTarget = float64(icuTarget), float64(convTarget)
	if population > 0 {
		per := func(n int) float64 { return float64(n) * 100000 / float64(population) }
		in.ICUBedsPer100k = per(t.ICUBeds)
		in.ICUBedsEquippedPer100k = per(t.ICUBedsEquipped)
		in.ConvertiblePer100k = per(t.ConvertibleBeds)
		in.ConvertibleReadyPer100k = per(t.ConvertibleReady)
		// Exact: beds * 100000 >= target * population.
		meets := func(n int, target int64) bool { return int64(n)*100000 >= target*population }
		in.ICUMet = meets(t.ICUBeds, icuTarget)
		in.ICUEquippedMet = meets(t.ICUBedsEquipped, icuTarget)
		in.ConvertibleMet = meets(t.ConvertibleBeds, convTarget)
		in.ConvertibleReadyMet = meets(t.ConvertibleReady, convTarget)
	}
	in.HospitalsMeetingConfigured, in.HospitalsMeetingEquipped = d.meetingCfg, d.meetingEq
	if d.contrib > 0 {
		in.ShareMeetingConfigured = float64(d.meetingCfg) / float64(d.contrib)
		in.ShareMeetingEquipped = float64(d.meetingEq) / float64(d.contrib)
	}
	return t, in
}
