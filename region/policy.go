package region

import (
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/report"
)

// The policy targets of PRODUCT §1 as the region judges them: every
// hospital and district against the region's target_year, whatever year
// a gateway's own report used, so that one page compares like with like.

// regionalTargets returns ICU (general + specialty) and convertible beds
// per 100,000 people for year.
func regionalTargets(year int) (icu, convertible int64) {
	if year >= 2027 {
		return 18, 12
	}
	return 15, 10
}

// tierTargetFor is the gateway's own table of tier targets
// (pipeline.TierTargetFor): both tiers judge a hospital alike.
func tierTargetFor(level string, year int) (pipeline.TierTarget, bool) {
	return pipeline.TierTargetFor(level, year)
}

// Staffing references per general-ICU bed: doctors 0.8 (as 8/10) and
// nurses 3.
const (
	refDoctorsTenths = 8
	refNurses        = 3
)

// figures are summed counts: of a hospital's reporting parts, of a
// district's or the region's contributing hospitals.
type figures struct {
	general, specialty, convertible classSum
	// staffing sums the declared staffing and the general-ICU beds of the
	// parts that declare it.
	doctors, nurses, staffedBeds, declaring int
}

// classSum is one unit class's beds.
type classSum struct{ beds, equipped, ready int }

func (f *figures) addReport(r *report.Report) {
	for _, c := range r.Classes {
		s := classSum{c.BedsTotal, c.BedsEquipped, c.ConvertibleReady}
		switch c.Class {
		case config.ClassGeneral:
			f.general.add(s)
		case config.ClassSpecialty:
			f.specialty.add(s)
		case config.ClassConvertible:
			f.convertible.add(s)
		}
	}
	if st := r.Policy.Staffing; st != nil {
		f.doctors += st.Doctors
		f.nurses += st.Nurses
		f.staffedBeds += st.GeneralBeds
		f.declaring++
	}
}

func (c *classSum) add(o classSum) {
	c.beds += o.beds
	c.equipped += o.equipped
	c.ready += o.ready
}

// HospitalPolicy is a hospital's policy shares computed by the region on
// the merged counts of its reporting parts, against its level's targets
// for the region's target year.
type HospitalPolicy struct {
	Level        string `json:"level"`
	TargetsYear  int    `json:"targets_year"`
	TargetsKnown bool   `json:"targets_known"`
	// TotalBeds is the hospital's inpatient beds, as its reports state.
	TotalBeds   int          `json:"total_beds"`
	General     report.Share `json:"general"`
	Specialty   report.Share `json:"specialty"`
	Convertible report.Share `json:"convertible"`
	ICU         report.Share `json:"icu"`
	// Staffing is the declared staffing of the parts that declare it.
	Staffing *Staffing `json:"staffing,omitempty"`
}

// Staffing is declared (never measured) ICU staffing summed over the
// hospitals or parts that declare it, per general-ICU bed of the same
// hospitals or parts, against 1 : 0.8 doctors and 1 : 3 nurses.
type Staffing struct {
	Declared bool `json:"declared"`
	// Declaring is how many parts (for a hospital) or hospitals (for a
	// district or the region) declared staffing.
	Declaring     int     `json:"declaring"`
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

// staffing is f's declared staffing; nil when nobody declared any.
func (f *figures) staffing() *Staffing {
	if f.declaring == 0 {
		return nil
	}
	s := &Staffing{Declared: true, Declaring: f.declaring, Doctors: f.doctors, Nurses: f.nurses, GeneralBeds: f.staffedBeds,
		DoctorsRef: float64(refDoctorsTenths) / 10, NursesRef: refNurses}
	if f.staffedBeds > 0 {
		s.DoctorsPerBed = float64(f.doctors) / float64(f.staffedBeds)
		s.NursesPerBed = float64(f.nurses) / float64(f.staffedBeds)
		s.DoctorsMet = f.doctors*10 >= refDoctorsTenths*f.staffedBeds
		s.NursesMet = f.nurses >= refNurses*f.staffedBeds
	}
	return s
}

// policy computes a hospital's shares of totalBeds.
func (f *figures) policy(level string, totalBeds, year int) *HospitalPolicy {
	t, known := tierTargetFor(level, year)
	share := func(c classSum, bp int, equipped int) report.Share {
		s := report.Share{Target: float64(bp) / 10000, ConfiguredBeds: c.beds, EquippedBeds: equipped}
		if totalBeds > 0 {
			s.ConfiguredShare = float64(c.beds) / float64(totalBeds)
			s.EquippedShare = float64(equipped) / float64(totalBeds)
			s.ConfiguredMet = known && c.beds*10000 >= bp*totalBeds
			s.EquippedMet = known && equipped*10000 >= bp*totalBeds
		}
		return s
	}
	icu := classSum{beds: f.general.beds + f.specialty.beds}
	return &HospitalPolicy{
		Level: level, TargetsYear: t.Year, TargetsKnown: known, TotalBeds: totalBeds,
		General:     share(f.general, t.General, f.general.equipped),
		Specialty:   share(f.specialty, t.Specialty, f.specialty.equipped),
		Convertible: share(f.convertible, t.Convertible, f.convertible.equipped),
		ICU:         share(icu, t.General+t.Specialty, f.general.equipped+f.specialty.equipped),
		Staffing:    f.staffing(),
	}
}

// meets reports whether all three shares meet their targets, from
// configured and from equipped beds.
func (p *HospitalPolicy) meets() (configured, equipped bool) {
	if p == nil || !p.TargetsKnown {
		return false, false
	}
	configured = p.General.ConfiguredMet && p.Specialty.ConfiguredMet && p.Convertible.ConfiguredMet
	equipped = p.General.EquippedMet && p.Specialty.EquippedMet && p.Convertible.EquippedMet
	return configured, equipped
}
