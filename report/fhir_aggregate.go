package report

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
)

// Aggregate is an area's capacity — a district's or the region's — for
// AggregateMeasureReport.
type Aggregate struct {
	// Subject is the area: System DistrictIDSystem or RegionIDSystem (or
	// the authority's own), ID and Name.
	Subject Party
	// Reporter is the Organization that aggregates: the regional
	// authority.
	Reporter Party
	// AsOf is when the aggregate is made; the period ends then (or at the
	// newest report's as_of, if later).
	AsOf time.Time
	// Reports are the latest accepted reports of the area's reporting
	// hospitals: a silent hospital's counts are unknown and are left out
	// by the caller. A hospital with several gateways may have several
	// reports (one per gateway, each with its own units); they are summed.
	Reports []*Report
	// Registered is how many hospitals the area has, reporting or not.
	// Above 0 it adds the Hospitals group (registered and reporting).
	Registered int
	// Districts, when set, maps each hospital id to its district and adds
	// a district stratifier (for a region's report). Every hospital of
	// Reports must be in it.
	Districts map[string]Party
}

// AggregateMeasureReport renders an area's capacity as a FHIR R4
// MeasureReport answering FHIRMeasure, shaped like HospitalMeasureReport:
// subject a contained Location with the area's identifier, reporter the
// authority, counts the sums of the hospitals' totals, stratified by
// hospital, by unit class and (with Districts) by district. The period
// starts where the oldest contributing report's interval starts and ends
// at AsOf, so it covers every count it sums. The JSON is the same for the
// same input, whatever the order of Reports.
func AggregateMeasureReport(a Aggregate) ([]byte, error) {
	if a.Subject.System == "" || a.Subject.ID == "" {
		return nil, errors.New("fhir: aggregate without subject identifier (system and id)")
	}
	if a.Reporter.System == "" || a.Reporter.ID == "" {
		return nil, errors.New("fhir: aggregate without reporter identifier (system and id)")
	}
	reps := make([]*Report, 0, len(a.Reports))
	for i, r := range a.Reports {
		if r == nil || r.Hospital.ID == "" {
			return nil, fmt.Errorf("fhir: aggregate %s: report %d is nil or has no hospital id", a.Subject.ID, i)
		}
		reps = append(reps, r)
	}
	slices.SortStableFunc(reps, func(x, y *Report) int {
		return cmp.Or(strings.Compare(x.Hospital.ID, y.Hospital.ID), strings.Compare(x.GatewayID, y.GatewayID))
	})

	start, end := a.AsOf.Add(-config.DefaultReportInterval), a.AsOf
	for i, r := range reps {
		if s := r.AsOf.Add(-reportInterval(r)); i == 0 || s.Before(start) {
			start = s
		}
		if r.AsOf.After(end) {
			end = r.AsOf
		}
	}

	var total row
	hospitals := stratifier{code: "hospital", display: "Hospital"}
	classes := stratifier{code: "class", display: "ICU unit class"}
	districts := stratifier{code: "district", display: "District"}
	classIndex := map[string]int{}
	for _, c := range []string{config.ClassGeneral, config.ClassSpecialty, config.ClassConvertible} {
		classIndex[c] = len(classes.strata)
		classes.strata = append(classes.strata, stratum{value: classCoding(c)})
	}
	districtIndex := map[string]int{}
	for _, r := range reps {
		h := hospitalRow(r)
		total.add(&h)
		if n := len(hospitals.strata); n == 0 || hospitals.strata[n-1].value.Code != r.Hospital.ID {
			hospitals.strata = append(hospitals.strata, stratum{value: coding{System: HospitalIDSystem, Code: r.Hospital.ID, Display: r.Hospital.Name}})
		}
		hospitals.strata[len(hospitals.strata)-1].row.add(&h)
		for i := range r.Classes {
			c := &r.Classes[i]
			ci, ok := classIndex[c.Class]
			if !ok {
				ci = len(classes.strata)
				classIndex[c.Class] = ci
				classes.strata = append(classes.strata, stratum{value: classCoding(c.Class)})
			}
			cr := unitRow(c)
			classes.strata[ci].row.add(&cr)
		}
		if a.Districts != nil {
			d, ok := a.Districts[r.Hospital.ID]
			if !ok || d.ID == "" {
				return nil, fmt.Errorf("fhir: aggregate %s: hospital %s has no district", a.Subject.ID, r.Hospital.ID)
			}
			di, ok := districtIndex[d.ID]
			if !ok {
				di = len(districts.strata)
				districtIndex[d.ID] = di
				districts.strata = append(districts.strata, stratum{value: coding{System: cmp.Or(d.System, DistrictIDSystem), Code: d.ID, Display: d.Name}})
			}
			districts.strata[di].row.add(&h)
		}
	}
	slices.SortStableFunc(districts.strata, func(x, y stratum) int { return strings.Compare(x.value.Code, y.value.Code) })
	total.hospitals, total.reporting = a.Registered, len(hospitals.strata)

	s := spec{
		id: fhirID("icu-capacity", kindOf(a.Subject.System), a.Subject.ID, strconv.FormatInt(end.Unix(), 10)),
		subject: location{
			Identifier:   []identifier{{System: a.Subject.System, Value: a.Subject.ID}},
			Name:         a.Subject.Name,
			PhysicalType: ptr(codeOf("http://terminology.hl7.org/CodeSystem/location-physical-type", "jdn", "Jurisdiction")),
		},
		reporter:   *organization(a.Reporter),
		start:      start,
		end:        end,
		total:      total,
		areaGroups: a.Registered > 0,
	}
	if a.Districts != nil {
		s.stratifiers = append(s.stratifiers, districts)
	}
	s.stratifiers = append(s.stratifiers, hospitals, classes)
	return s.marshal()
}

// kindOf is the last part of an identifier system ("district" of
// urn:icugate:district), for resource ids.
func kindOf(system string) string {
	if i := strings.LastIndexAny(system, ":/"); i >= 0 {
		system = system[i+1:]
	}
	if system == "" {
		return "area"
	}
	return system
}
