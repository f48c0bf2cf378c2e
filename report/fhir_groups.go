package report

import "github.com/icugate/icugate/config"

// The measure: which groups of counts a capacity MeasureReport carries,
// each count's codes and population role, and how it is counted from a
// report. This table is the one place of the FHIR mapping: the Measure
// resource, every MeasureReport and docs/fhir.md follow it.
//
// Counts SANER defines (ICU beds and their occupancy and availability,
// ventilators and their use and availability) carry SANER's MeasuredValues
// code; counts SANER has no code for carry ICUGateCodes. Every population
// also carries its role in the group, read as a proportion: the initial
// population (all configured), minus the denominator exclusions (not
// usable: a degraded bed, a device offline, faulty or in maintenance),
// gives the denominator (usable: SANER's numICUBeds, numVent); the
// numerator is the part in use, the numerator complement (SANER's role
// code) the part available. That is the pattern of SANER's own measures
// (numVent denominator, numVentUse numerator, numVentAvail complement).

// Code systems of the FHIR output.
const (
	// FHIRMeasure is the canonical URL of the Measure every capacity
	// MeasureReport answers (see MeasureDefinition).
	FHIRMeasure = "urn:icugate:fhir:Measure:ICUCapacity"
	// SANERMeasuredValue is SANER's code system of measured values.
	SANERMeasuredValue = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasuredValues"
	// SANERMeasureGroup is SANER's code system of measure groups.
	SANERMeasureGroup = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasureGroupSystem"
	// SANERPopulationRole is SANER's code system of population roles
	// beyond FHIR's own (numerator-complement).
	SANERPopulationRole = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasurePopulationSystem"
	// MeasurePopulationRole is FHIR's code system of population roles.
	MeasurePopulationRole = "http://terminology.hl7.org/CodeSystem/measure-population"
	// ICUGateCodes holds the counts and groups SANER has no code for.
	ICUGateCodes = "urn:icugate:fhir:CodeSystem:capacity"
	// ICUGateStratifiers names the stratifiers: unit, class, hospital,
	// district.
	ICUGateStratifiers = "urn:icugate:fhir:CodeSystem:stratifier"
	// UnitClassSystem codes a unit class: general, specialty, convertible.
	UnitClassSystem = "urn:icugate:fhir:CodeSystem:unit-class"
	// UnitIDSystem identifies an ICU unit within the hospital that is the
	// report's subject.
	UnitIDSystem = "urn:icugate:unit"
	// HospitalIDSystem identifies a hospital (its Location and its
	// Organization) by its id.
	HospitalIDSystem = "urn:icugate:hospital"
	// DistrictIDSystem identifies a district of a region.
	DistrictIDSystem = "urn:icugate:district"
	// RegionIDSystem identifies a region (and its health authority).
	RegionIDSystem = "urn:icugate:region"
)

// row is one set of counts as a MeasureReport sees it: a unit, a class, a
// hospital or an area.
type row struct {
	c Counts
	// convertibleBeds counts the configured beds of convertible units.
	convertibleBeds int
	// hospitals and reporting count registered and reporting hospitals
	// (area totals only).
	hospitals, reporting int
}

// role is a population's role in its group.
type role struct{ system, code, display string }

var (
	initialPopulation    = role{MeasurePopulationRole, "initial-population", "Initial Population"}
	denominatorExclusion = role{MeasurePopulationRole, "denominator-exclusion", "Denominator Exclusion"}
	denominator          = role{MeasurePopulationRole, "denominator", "Denominator"}
	numerator            = role{MeasurePopulationRole, "numerator", "Numerator"}
	numeratorComplement  = role{SANERPopulationRole, "numerator-complement", "Numerator Complement"}
)

// population is one count of a group.
type population struct {
	system, code, display string
	role                  role
	// path is the count as a FHIRPath expression on the hospital's
	// icugate.capacity/v1 report (docs/reporting.md), for the Measure.
	path  string
	count func(*row) int
}

// group is one group of a capacity MeasureReport.
type group struct {
	system, code, display, description string
	pops                               []population
	// score adds a measureScore (the coverage of fresh devices).
	score bool
	// areaOnly groups appear in district and region reports only, with
	// no strata.
	areaOnly bool
}

// sanerDisplay are SANER's own displays of the codes we use: a coding's
// display is the code system's; our wording goes in the concept's text.
var sanerDisplay = map[string]string{
	"Beds": "Beds", "Ventilators": "Ventilators",
	"numICUBeds": "ICU Beds", "numICUBedsOcc": "ICU Bed Occupancy", "numICUBedsAvail": "ICU Bed Availability",
	"numVent": "Mechanical Ventilators", "numVentUse": "Mechanical Ventilators in Use", "numVentAvail": "Mechanical Ventilators Available",
}

// codeText is a concept of one coding whose display is the code system's
// (SANER's, for its codes) and whose text is ours.
func codeText(system, code, text string) concept {
	display := text
	if system == SANERMeasuredValue || system == SANERMeasureGroup {
		display = sanerDisplay[code]
	}
	return concept{Coding: []coding{{System: system, Code: code, Display: display}}, Text: text}
}

func (p *population) concept() concept {
	c := codeText(p.system, p.code, p.display)
	return concept{
		Coding: []coding{
			c.Coding[0],
			{System: p.role.system, Code: p.role.code, Display: p.role.display},
		},
		Text: p.display,
	}
}

// deviceGroup is the group of one device kind (ventilator, ECMO, CRRT).
func deviceGroup(groupSystem, groupCode, display, kind, name string, codes [5]string, systems [5]string) group {
	k := func(r *row) KindCount { return r.c.Devices[kind] }
	dev := "totals.devices." + kind + "."
	return group{
		system: groupSystem, code: groupCode, display: display,
		description: display + ": the " + kind + " devices of the hospital (units, pools and store) by state",
		pops: []population{
			{systems[0], codes[0], name + " configured (any state)", initialPopulation, dev + "total",
				func(r *row) int { return k(r).Total }},
			{systems[1], codes[1], name + " offline, faulty or in maintenance", denominatorExclusion,
				dev + "offline + " + dev + "fault + " + dev + "maintenance",
				func(r *row) int { c := k(r); return c.Offline + c.Fault + c.Maintenance }},
			{systems[2], codes[2], name + " in service (in use or standby)", denominator, dev + "in_use + " + dev + "standby",
				func(r *row) int { c := k(r); return c.InUse + c.Standby }},
			{systems[3], codes[3], name + " in use", numerator, dev + "in_use",
				func(r *row) int { return k(r).InUse }},
			{systems[4], codes[4], name + " available (standby, healthy)", numeratorComplement, dev + "standby",
				func(r *row) int { return k(r).Standby }},
		},
	}
}

var (
	saner = SANERMeasuredValue
	ours  = ICUGateCodes
)

// groups is the measure, in report order.
var groups = []group{
	{
		system: SANERMeasureGroup, code: "Beds", display: "ICU beds",
		description: "ICU beds (general, specialty and convertible units) by equipment state: equipped beds have every required device present and healthy; staff and space are not measured",
		pops: []population{
			{ours, "numICUBedsConfigured", "ICU beds configured", initialPopulation, "totals.beds_total",
				func(r *row) int { return r.c.BedsTotal }},
			{ours, "numICUBedsDegraded", "ICU beds degraded (a required device missing or unhealthy)", denominatorExclusion, "totals.beds_degraded",
				func(r *row) int { return r.c.BedsDegraded }},
			{saner, "numICUBeds", "ICU beds equipped", denominator, "totals.beds_equipped",
				func(r *row) int { return r.c.BedsEquipped }},
			{saner, "numICUBedsOcc", "ICU beds occupied", numerator, "totals.beds_occupied",
				func(r *row) int { return r.c.BedsOccupied }},
			{saner, "numICUBedsAvail", "ICU beds available (equipped, not occupied)", numeratorComplement, "totals.beds_available",
				func(r *row) int { return r.c.BedsAvailable }},
		},
	},
	deviceGroup(SANERMeasureGroup, "Ventilators", "Mechanical ventilators", "ventilator", "Mechanical ventilators",
		[5]string{"numVentConfigured", "numVentOutOfService", "numVent", "numVentUse", "numVentAvail"},
		[5]string{ours, ours, saner, saner, saner}),
	deviceGroup(ours, "ECMO", "ECMO devices", "ecmo", "ECMO devices",
		[5]string{"numECMOConfigured", "numECMOOutOfService", "numECMO", "numECMOUse", "numECMOAvail"},
		[5]string{ours, ours, ours, ours, ours}),
	deviceGroup(ours, "CRRT", "CRRT devices", "crrt", "CRRT devices",
		[5]string{"numCRRTConfigured", "numCRRTOutOfService", "numCRRT", "numCRRTUse", "numCRRTAvail"},
		[5]string{ours, ours, ours, ours, ours}),
	{
		system: ours, code: "ConvertibleBeds", display: "Convertible beds",
		description: "Convertible (surge) beds and how many are ready: equipped, or equippable from healthy standby pool devices, no device counted twice",
		pops: []population{
			{ours, "numConvertibleBeds", "Convertible beds configured", denominator, "classes.where(class = 'convertible').beds_total",
				func(r *row) int { return r.convertibleBeds }},
			{ours, "numConvertibleReady", "Convertible beds ready within 24 h", numerator, "totals.convertible_ready",
				func(r *row) int { return r.c.ConvertibleReady }},
		},
	},
	{
		system: ours, code: "Evidence", display: "Device data freshness",
		description: "Devices the counts depend on and how many were seen within their freshness window; the counts are verified when none is stale or missing; measureScore is the coverage (fresh / configured, 1 when none is configured)",
		score:       true,
		pops: []population{
			{ours, "numDevicesConfigured", "Devices the counts depend on", denominator, "totals.evidence.configured",
				func(r *row) int { return r.c.Evidence.Configured }},
			{ours, "numDevicesFresh", "Devices seen within their freshness window", numerator, "totals.evidence.fresh",
				func(r *row) int { return r.c.Evidence.Fresh }},
			{ours, "numDevicesNotFresh", "Devices stale or never seen (the counts are not verified when above 0)", numeratorComplement,
				"totals.evidence.configured - totals.evidence.fresh",
				func(r *row) int { return r.c.Evidence.Configured - r.c.Evidence.Fresh }},
		},
	},
	{
		system: ours, code: "Hospitals", display: "Hospitals reporting",
		description: "Hospitals of the area and how many have a recent accepted report; the counts of the other groups sum the reporting hospitals only (a silent hospital's counts are unknown)",
		areaOnly:    true,
		pops: []population{
			{ours, "numHospitals", "Hospitals registered in the area", denominator, "",
				func(r *row) int { return r.hospitals }},
			{ours, "numHospitalsReporting", "Hospitals with a recent accepted report", numerator, "",
				func(r *row) int { return r.reporting }},
		},
	},
}

// coverage is fresh / configured, 1 when nothing is configured.
func (r *row) coverage() *quantity {
	q := &quantity{Value: 1, Unit: "1", System: "http://unitsofmeasure.org", Code: "1"}
	if e := r.c.Evidence; e.Configured > 0 {
		q.Value = float64(e.Fresh) / float64(e.Configured)
	}
	return q
}

// classDisplay names the unit classes for people.
var classDisplay = map[string]string{
	config.ClassGeneral:     "General ICU",
	config.ClassSpecialty:   "Specialty ICU",
	config.ClassConvertible: "Convertible (surge) beds",
}

// unitRow and classRow are the rows of one unit or class.
func unitRow(c *Counts) row {
	r := row{c: *c}
	if c.Class == config.ClassConvertible {
		r.convertibleBeds = c.BedsTotal
	}
	return r
}

// hospitalRow is the row of a hospital's totals.
func hospitalRow(rep *Report) row {
	r := row{c: rep.Totals}
	for i := range rep.Classes {
		if rep.Classes[i].Class == config.ClassConvertible {
			r.convertibleBeds += rep.Classes[i].BedsTotal
		}
	}
	return r
}

// add sums o into r: bed counts, readiness, device counts per kind and the
// freshness evidence (device ids are not carried).
func (r *row) add(o *row) {
	c, d := &r.c, &o.c
	c.BedsTotal += d.BedsTotal
	c.BedsEquipped += d.BedsEquipped
	c.BedsOccupied += d.BedsOccupied
	c.BedsAvailable += d.BedsAvailable
	c.BedsDegraded += d.BedsDegraded
	c.ConvertibleReady += d.ConvertibleReady
	if c.Devices == nil {
		c.Devices = map[string]KindCount{}
	}
	for k, v := range d.Devices {
		s := c.Devices[k]
		s.Total += v.Total
		s.InUse += v.InUse
		s.Standby += v.Standby
		s.Offline += v.Offline
		s.Fault += v.Fault
		s.Maintenance += v.Maintenance
		c.Devices[k] = s
	}
	c.Evidence.Fresh += d.Evidence.Fresh
	c.Evidence.Configured += d.Evidence.Configured
	r.convertibleBeds += o.convertibleBeds
}
