package pipeline

import "github.com/icugate/icugate/config"

// target is one row of the national ICU bed targets (PRODUCT §1): minimum
// shares of all inpatient beds, in basis points (1/10,000), so that "met"
// is decided in exact integer arithmetic.
type target struct {
	level                         string
	year                          int
	general, specialty, convertib int
}

// targets is the one table of policy targets. The ICU target (general +
// specialty) is the sum of the two.
var targets = [...]target{
	{config.LevelTertiary, 2025, 400, 200, 400},
	{config.LevelTertiary, 2027, 450, 250, 450},
	{config.LevelSecondary, 2025, 200, 100, 200},
	{config.LevelSecondary, 2027, 240, 120, 240},
}

// Staffing references per general-ICU bed (PRODUCT §1).
const (
	RefDoctorsPerBed = 0.8
	RefNursesPerBed  = 3.0
)

// targetFor picks the targets of level for year: the latest row whose year
// is not after it, or the earliest row for years before the first.
func targetFor(level string, year int) (target, bool) {
	var atOrBefore, earliest *target
	for i := range targets {
		t := &targets[i]
		if t.level != level {
			continue
		}
		if earliest == nil || t.year < earliest.year {
			earliest = t
		}
		if t.year <= year && (atOrBefore == nil || t.year > atOrBefore.year) {
			atOrBefore = t
		}
	}
	switch {
	case atOrBefore != nil:
		return *atOrBefore, true
	case earliest != nil:
		return *earliest, true
	}
	return target{}, false
}

// TierTarget is a row of the policy targets: the minimum shares of all
// inpatient beds for a hospital level, in basis points (1/10,000).
type TierTarget struct {
	// Year is the year the row applies from.
	Year                            int
	General, Specialty, Convertible int
}

// TierTargetFor returns the targets of level for year (the latest row at
// or before it, else the earliest); false for an unknown level. The
// regional aggregator judges hospitals with it, so both tiers use one
// table.
func TierTargetFor(level string, year int) (TierTarget, bool) {
	t, ok := targetFor(level, year)
	return TierTarget{Year: t.year, General: t.general, Specialty: t.specialty, Convertible: t.convertib}, ok
}

// Policy holds the policy indicators of the hospital.
type Policy struct {
	Level      string `json:"level"`
	TargetYear int    `json:"target_year"`
	// TargetsYear is the year of the targets applied (the latest at or
	// before TargetYear); TargetsKnown is false for an unknown level.
	TargetsYear  int  `json:"targets_year"`
	TargetsKnown bool `json:"targets_known"`
	TotalBeds    int  `json:"total_beds"`
	// ICUBeds is the configured general + specialty beds.
	ICUBeds     int   `json:"icu_beds"`
	General     Share `json:"general"`
	Specialty   Share `json:"specialty"`
	Convertible Share `json:"convertible"`
	ICU         Share `json:"icu"`
	// EquippedRatio is equipped beds / configured ICU-unit beds (all
	// classes); 0 when there are none.
	EquippedRatio float64 `json:"equipped_ratio"`
	// Staffing is present when the site declares staffing.
	Staffing *StaffingRatios `json:"staffing,omitempty"`
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

// StaffingRatios are declared staff per configured general-ICU bed.
type StaffingRatios struct {
	// Declared is always true: staffing is declared in the config, not
	// measured by the gateway.
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

func share(configured, equipped, total, bp int) Share {
	s := Share{Target: float64(bp) / 10000, ConfiguredBeds: configured, EquippedBeds: equipped}
	if total > 0 {
		s.ConfiguredShare = float64(configured) / float64(total)
		s.EquippedShare = float64(equipped) / float64(total)
		s.ConfiguredMet = configured*10000 >= bp*total
		s.EquippedMet = equipped*10000 >= bp*total
	}
	return s
}

// policy computes the indicators from the class counts.
func (e *Engine) policy(c *CapacityReport) Policy {
	h := &e.site.Hospital
	p := Policy{Level: h.Level, TargetYear: e.site.TargetYear, TotalBeds: h.TotalBeds}
	t, ok := targetFor(h.Level, e.site.TargetYear)
	p.TargetsKnown = ok
	p.TargetsYear = t.year
	var gen, spec, conv Capacity
	for _, cl := range c.Classes {
		switch cl.Class {
		case config.ClassGeneral:
			gen = cl
		case config.ClassSpecialty:
			spec = cl
		case config.ClassConvertible:
			conv = cl
		}
	}
	total := h.TotalBeds
	p.ICUBeds = gen.BedsTotal + spec.BedsTotal
	p.General = share(gen.BedsTotal, gen.BedsEquipped, total, t.general)
	p.Specialty = share(spec.BedsTotal, spec.BedsEquipped, total, t.specialty)
	p.Convertible = share(conv.BedsTotal, conv.BedsEquipped, total, t.convertib)
	p.ICU = share(p.ICUBeds, gen.BedsEquipped+spec.BedsEquipped, total, t.general+t.specialty)
	if c.Hospital.BedsTotal > 0 {
		p.EquippedRatio = float64(c.Hospital.BedsEquipped) / float64(c.Hospital.BedsTotal)
	}
	if st := h.Staffing; st != nil {
		r := &StaffingRatios{
			Declared: true, Doctors: st.Doctors, Nurses: st.Nurses, GeneralBeds: gen.BedsTotal,
			DoctorsRef: RefDoctorsPerBed, NursesRef: RefNursesPerBed,
		}
		if gen.BedsTotal > 0 {
			r.DoctorsPerBed = float64(st.Doctors) / float64(gen.BedsTotal)
			r.NursesPerBed = float64(st.Nurses) / float64(gen.BedsTotal)
			// Exact: doctors/beds >= 8/10 and nurses/beds >= 3.
			r.DoctorsMet = st.Doctors*10 >= 8*gen.BedsTotal
			r.NursesMet = st.Nurses >= 3*gen.BedsTotal
		}
		p.Staffing = r
	}
	return p
}
