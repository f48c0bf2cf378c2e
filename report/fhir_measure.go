package report

import "encoding/json"

// MeasureVersion is the version of the Measure resource; it changes when a
// group or a population is added, removed or redefined.
const MeasureVersion = "1.0.0"

type measure struct {
	ResourceType           string         `json:"resourceType"`
	ID                     string         `json:"id"`
	URL                    string         `json:"url"`
	Version                string         `json:"version"`
	Name                   string         `json:"name"`
	Title                  string         `json:"title"`
	Status                 string         `json:"status"`
	Experimental           bool           `json:"experimental"`
	SubjectCodeableConcept concept        `json:"subjectCodeableConcept"`
	Publisher              string         `json:"publisher"`
	Description            string         `json:"description"`
	Scoring                concept        `json:"scoring"`
	Type                   []concept      `json:"type"`
	RateAggregation        string         `json:"rateAggregation"`
	Group                  []measureGroup `json:"group"`
}

type measureGroup struct {
	Code        concept             `json:"code"`
	Description string              `json:"description"`
	Population  []measurePopulation `json:"population"`
	Stratifier  []measureStratifier `json:"stratifier,omitempty"`
}

type measurePopulation struct {
	Code        concept    `json:"code"`
	Description string     `json:"description"`
	Criteria    expression `json:"criteria"`
}

type measureStratifier struct {
	Code        concept     `json:"code"`
	Description string      `json:"description"`
	Criteria    *expression `json:"criteria,omitempty"`
}

// measureStratifiers are the strata a report may carry: a hospital's
// report has unit and class, an area's hospital and class (and district
// for a region).
var measureStratifiers = []struct{ code, display, description, path string }{
	{"unit", "ICU unit", "Per ICU unit of the hospital (value: the unit id, system " + UnitIDSystem + ")", "units.unit"},
	{"class", "ICU unit class", "Per unit class (value: general, specialty or convertible, system " + UnitClassSystem + "); a hospital's store devices belong to no class", "classes.class"},
	{"hospital", "Hospital", "Per hospital of an area (value: the hospital id, system " + HospitalIDSystem + ")", "hospital.id"},
	{"district", "District", "Per district of a region (value: the district id, system " + DistrictIDSystem + ")", ""},
}

// MeasureDefinition is the FHIR R4 Measure that every capacity
// MeasureReport answers (url FHIRMeasure): its groups, populations with
// their codes and roles, and stratifiers, from the same table the reports
// are built from. Each population's criteria is a FHIRPath expression on
// the hospital's icugate.capacity/v1 report.
func MeasureDefinition() ([]byte, error) {
	m := measure{
		ResourceType: "Measure",
		ID:           "ICUCapacity",
		URL:          FHIRMeasure,
		Version:      MeasureVersion,
		Name:         "ICUCapacity",
		Title:        "ICU bed and device capacity (equipment)",
		Status:       "active",
		Experimental: false,
		SubjectCodeableConcept: concept{
			Coding: []coding{{System: "http://hl7.org/fhir/resource-types", Code: "Location", Display: "Location"}},
			Text:   "A hospital, district or region",
		},
		Publisher: "icugate",
		Description: "Equipped ICU beds and critical-care devices of a hospital, district or region, counted by icugate " +
			"gateways from the devices themselves: a bed is equipped when every device its unit requires is present and " +
			"healthy (the equipment part of an available bed; staff and space are not measured). Counts SANER defines use " +
			"SANER's MeasuredValues codes, the others " + ICUGateCodes + ".",
		Scoring:         codeOf("http://terminology.hl7.org/CodeSystem/measure-scoring", "proportion", "Proportion"),
		Type:            []concept{codeOf("http://terminology.hl7.org/CodeSystem/measure-type", "structure", "Structure")},
		RateAggregation: "point-in-time",
	}
	for gi := range groups {
		g := &groups[gi]
		mg := measureGroup{Code: codeText(g.system, g.code, g.display), Description: g.description}
		for i := range g.pops {
			p := &g.pops[i]
			c := expression{Description: p.display, Language: "text/fhirpath", Expression: p.path}
			if p.path == "" {
				c = expression{Description: p.display, Language: "text/plain", Expression: p.display + ", as the regional aggregator counts them"}
			}
			mg.Population = append(mg.Population, measurePopulation{Code: p.concept(), Description: p.display, Criteria: c})
		}
		if !g.areaOnly {
			for _, st := range measureStratifiers {
				ms := measureStratifier{Code: codeOf(ICUGateStratifiers, st.code, st.display), Description: st.description}
				if st.path != "" {
					ms.Criteria = &expression{Language: "text/fhirpath", Expression: st.path}
				}
				mg.Stratifier = append(mg.Stratifier, ms)
			}
		}
		m.Group = append(m.Group, mg)
	}
	return json.Marshal(m)
}
