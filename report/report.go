// Package report builds, signs and verifies the regional capacity report
// (PRODUCT §6): one versioned JSON document per hospital with the counts of
// PRODUCT §5, the policy indicators, a sequence number, the time the counts
// hold for and their evidence, signed with Ed25519 over the RFC 8785
// canonical encoding of the report. It also renders the same counts as a
// FHIR R4 MeasureReport and publishes reports through small transports.
//
// The report is the contract with the regional platform: its shape is
// docs/report-schema.json, and every report this package produces validates
// against it (see the tests).
package report

import (
	"errors"
	"fmt"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// Schema names the report format and its version. A change that removes or
// renames a field makes a new version; adding an optional field does not.
const Schema = "icugate.capacity/v1"

// MaxSequence is the largest sequence number a report may carry: 2^53-1.
// The canonical encoding (RFC 8785) writes numbers as IEEE 754 doubles, so
// a larger integer would be signed as a rounded value.
const MaxSequence = 1<<53 - 1

// Report is one hospital's capacity report.
type Report struct {
	Schema    string   `json:"schema"`
	Hospital  Hospital `json:"hospital"`
	GatewayID string   `json:"gateway_id"`
	// Sequence increases with every report the hospital publishes; the
	// aggregator rejects a report whose sequence is not greater than the
	// last it accepted (replay).
	Sequence uint64 `json:"sequence"`
	// AsOf is the time the counts hold for (the engine's clock), UTC.
	AsOf time.Time `json:"as_of"`
	// IntervalSeconds is how often the gateway publishes without a change;
	// the aggregator uses it to notice a hospital that stopped reporting.
	IntervalSeconds float64 `json:"interval_seconds"`
	// Measures says what "equipped" covers: equipment only (the HAvBED
	// "stuff" part of an available bed), never staff or space.
	Measures string `json:"measures"`
	// Totals are the hospital-wide counts.
	Totals Counts `json:"totals"`
	// Classes are the counts per unit class: general, specialty,
	// convertible, in that order.
	Classes []Counts `json:"classes"`
	// Units are the counts per ICU unit, in config order.
	Units  []Counts `json:"units"`
	Policy Policy   `json:"policy"`
	// Verified is true when every device the hospital's counts depend on
	// was seen within its freshness window; Evidence says which were not.
	Verified bool     `json:"verified"`
	Evidence Evidence `json:"evidence"`
	// StaffingDeclared is true when the policy indicators include staffing
	// figures, which are declared in the site config, not measured.
	StaffingDeclared bool `json:"staffing_declared"`
}

// MeasuresEquipment is the value of Report.Measures.
const MeasuresEquipment = "equipment"

// Hospital identifies the reporting hospital.
type Hospital struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Level     string `json:"level"`
	Region    string `json:"region"`
	TotalBeds int    `json:"total_beds"`
}

// Counts is one set of counts of PRODUCT §5: for a unit, a unit class or
// the hospital ("all").
type Counts struct {
	Unit    string `json:"unit"`
	Class   string `json:"class"`
	Subtype string `json:"subtype,omitempty"`

	BedsTotal        int `json:"beds_total"`
	BedsEquipped     int `json:"beds_equipped"`
	BedsOccupied     int `json:"beds_occupied"`
	BedsAvailable    int `json:"beds_available"`
	BedsDegraded     int `json:"beds_degraded"`
	ConvertibleReady int `json:"convertible_ready"`
	// Devices counts devices per kind by state.
	Devices  map[string]KindCount `json:"devices"`
	Verified bool                 `json:"verified"`
	Evidence Evidence             `json:"evidence"`
}

// KindCount counts the devices of one kind by state.
type KindCount struct {
	Total       int `json:"total"`
	InUse       int `json:"in_use"`
	Standby     int `json:"standby"`
	Offline     int `json:"offline"`
	Fault       int `json:"fault"`
	Maintenance int `json:"maintenance"`
}

// Evidence lists the devices a count depends on that are not fresh.
type Evidence struct {
	Stale      []string `json:"stale"`
	Missing    []string `json:"missing"`
	Fresh      int      `json:"fresh"`
	Configured int      `json:"configured"`
	// Coverage is Fresh / Configured (1 when nothing is configured).
	Coverage float64 `json:"coverage"`
}

// Policy holds the hospital's policy indicators against PRODUCT §1.
type Policy struct {
	Level         string    `json:"level"`
	TargetYear    int       `json:"target_year"`
	TargetsYear   int       `json:"targets_year"`
	TargetsKnown  bool      `json:"targets_known"`
	TotalBeds     int       `json:"total_beds"`
	General       Share     `json:"general"`
	Specialty     Share     `json:"specialty"`
	Convertible   Share     `json:"convertible"`
	ICU           Share     `json:"icu"`
	EquippedRatio float64   `json:"equipped_ratio"`
	Staffing      *Staffing `json:"staffing,omitempty"`
}

// Share is a bed count as a share of all inpatient beds against its target,
// from configured beds and from equipped beds.
type Share struct {
	Target          float64 `json:"target"`
	ConfiguredBeds  int     `json:"configured_beds"`
	ConfiguredShare float64 `json:"configured_share"`
	ConfiguredMet   bool    `json:"configured_met"`
	EquippedBeds    int     `json:"equipped_beds"`
	EquippedShare   float64 `json:"equipped_share"`
	EquippedMet     bool    `json:"equipped_met"`
}

// Staffing holds the declared staffing ratios per general-ICU bed.
type Staffing struct {
	Declared      bool    `json:"declared"`
	Doctors       int     `json:"doctors"`
	Nurses        int     `json:"nurses"`
	GeneralBeds   int     `json:"general_beds"`
	DoctorsPerBed float64 `json:"doctors_per_bed"`
	NursesPerBed  float64 `json:"nurses_per_bed"`
	DoctorsRef    float64 `json:"doctors_ref"`
	NursesRef     float64 `json:"nurses_ref"`
	DoctorsMet    bool    `json:"doctors_met"`
	NursesMet     bool    `json:"nurses_met"`
}

// Build makes the report of snap for site with sequence number seq. The
// caller owns the sequence and keeps it durable across restarts.
func Build(snap *pipeline.Snapshot, site *config.Site, seq uint64) (*Report, error) {
	if snap == nil || site == nil {
		return nil, errors.New("report: nil snapshot or site")
	}
	if seq == 0 || seq > MaxSequence {
		return nil, fmt.Errorf("report: hospital %s: sequence %d outside 1..%d", site.Hospital.ID, seq, uint64(MaxSequence))
	}
	h := site.Hospital
	interval := site.Report.Interval
	if interval <= 0 {
		interval = config.DefaultReportInterval
	}
	r := &Report{
		Schema:          Schema,
		Hospital:        Hospital{ID: h.ID, Name: h.Name, Level: h.Level, Region: h.Region, TotalBeds: h.TotalBeds},
		GatewayID:       site.Report.GatewayID,
		Sequence:        seq,
		AsOf:            snap.AsOf.UTC(),
		IntervalSeconds: interval.Seconds(),
		Measures:        MeasuresEquipment,
		Totals:          countsOf(&snap.Capacity.Hospital, ""),
		Classes:         make([]Counts, 0, len(snap.Capacity.Classes)),
		Units:           make([]Counts, 0, len(snap.Capacity.Units)),
		Policy:          policyOf(&snap.Policy),
	}
	if r.GatewayID == "" {
		r.GatewayID = h.ID
	}
	for i := range snap.Capacity.Classes {
		r.Classes = append(r.Classes, countsOf(&snap.Capacity.Classes[i], ""))
	}
	subtypes := make(map[string]string, len(site.Units))
	for _, u := range site.Units {
		subtypes[u.ID] = u.Subtype
	}
	for i := range snap.Capacity.Units {
		c := &snap.Capacity.Units[i]
		r.Units = append(r.Units, countsOf(c, subtypes[c.Unit]))
	}
	r.Verified = r.Totals.Verified
	r.Evidence = r.Totals.Evidence
	r.StaffingDeclared = r.Policy.Staffing != nil
	return r, nil
}

func countsOf(c *pipeline.Capacity, subtype string) Counts {
	out := Counts{
		Unit: c.Unit, Class: c.Class, Subtype: subtype,
		BedsTotal: c.BedsTotal, BedsEquipped: c.BedsEquipped, BedsOccupied: c.BedsOccupied,
		BedsAvailable: c.BedsAvailable, BedsDegraded: c.BedsDegraded,
		ConvertibleReady: c.ConvertibleReady,
		Devices:          make(map[string]KindCount, len(c.Kinds)),
		Verified:         c.Verified,
		Evidence: Evidence{
			Stale:      append([]string{}, c.Evidence.Stale...),
			Missing:    append([]string{}, c.Evidence.Missing...),
			Fresh:      c.Evidence.Fresh,
			Configured: c.Evidence.Configured,
			Coverage:   c.Evidence.Coverage,
		},
	}
	for k, v := range c.Kinds {
		out.Devices[k] = KindCount(v)
	}
	return out
}

func shareOf(s pipeline.Share) Share { return Share(s) }

func policyOf(p *pipeline.Policy) Policy {
	out := Policy{
		Level: p.Level, TargetYear: p.TargetYear, TargetsYear: p.TargetsYear,
		TargetsKnown: p.TargetsKnown, TotalBeds: p.TotalBeds,
		General: shareOf(p.General), Specialty: shareOf(p.Specialty),
		Convertible: shareOf(p.Convertible), ICU: shareOf(p.ICU),
		EquippedRatio: p.EquippedRatio,
	}
	if st := p.Staffing; st != nil {
		s := Staffing(*st)
		s.Declared = true
		out.Staffing = &s
	}
	return out
}
