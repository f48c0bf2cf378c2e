package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// FHIR renders the counts of snap as a FHIR R4 MeasureReport (JSON) that
// follows HL7 SANER's PublicHealthMeasureReport: see HospitalMeasureReport
// and docs/fhir.md.
func FHIR(snap *pipeline.Snapshot, site *config.Site) ([]byte, error) {
	if snap == nil || site == nil {
		return nil, errors.New("fhir: nil snapshot or site")
	}
	// Sequence 1 is a placeholder: the MeasureReport carries no sequence.
	r, err := Build(snap, site, 1)
	if err != nil {
		return nil, err
	}
	return HospitalMeasureReport(r)
}

// HospitalMeasureReport renders one hospital's report as a FHIR R4
// MeasureReport answering FHIRMeasure: subject a contained Location with
// the hospital's identifier, reporter the hospital's Organization, period
// the report interval that ends at as_of (the counts hold for as_of and
// are published at least once per interval), a group per measure group
// with the hospital's counts, stratified by unit and by unit class. The
// JSON is the same for the same report.
func HospitalMeasureReport(r *Report) ([]byte, error) {
	if r == nil {
		return nil, errors.New("fhir: nil report")
	}
	if r.Hospital.ID == "" {
		return nil, errors.New("fhir: report without hospital id")
	}
	end := r.AsOf
	s := spec{
		id: fhirID("icu-capacity", r.Hospital.ID, strconv.FormatInt(end.Unix(), 10)),
		subject: location{
			Identifier:           []identifier{{System: HospitalIDSystem, Value: r.Hospital.ID}},
			Name:                 r.Hospital.Name,
			Type:                 []concept{codeOf("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "HOSP", "Hospital")},
			PhysicalType:         ptr(codeOf("http://terminology.hl7.org/CodeSystem/location-physical-type", "si", "Site")),
			ManagingOrganization: organization(Party{System: HospitalIDSystem, ID: r.Hospital.ID, Name: r.Hospital.Name}),
		},
		reporter: *organization(Party{System: HospitalIDSystem, ID: r.Hospital.ID, Name: r.Hospital.Name}),
		start:    end.Add(-reportInterval(r)),
		end:      end,
		total:    hospitalRow(r),
	}
	units := stratifier{code: "unit", display: "ICU unit"}
	for i := range r.Units {
		u := &r.Units[i]
		display := u.Unit
		if u.Subtype != "" {
			display += " (" + u.Subtype + ")"
		}
		units.strata = append(units.strata, stratum{value: coding{System: UnitIDSystem, Code: u.Unit, Display: display}, row: unitRow(u)})
	}
	classes := stratifier{code: "class", display: "ICU unit class"}
	for i := range r.Classes {
		c := &r.Classes[i]
		classes.strata = append(classes.strata, stratum{value: classCoding(c.Class), row: unitRow(c)})
	}
	s.stratifiers = []stratifier{units, classes}
	return s.marshal()
}

// reportInterval is how long a report's counts stand for: its publishing
// interval, at least a second so the period is an interval.
func reportInterval(r *Report) time.Duration {
	d := time.Duration(r.IntervalSeconds * float64(time.Second))
	if d < time.Second {
		d = config.DefaultReportInterval
	}
	return d.Truncate(time.Second)
}

func classCoding(class string) coding {
	return coding{System: UnitClassSystem, Code: class, Display: classDisplay[class]}
}

// Party names a Location or an Organization by identifier: a hospital
// (HospitalIDSystem), a district (DistrictIDSystem) or a region
// (RegionIDSystem), or the authority that aggregates.
type Party struct {
	System string
	ID     string
	Name   string
}

func organization(p Party) *reference {
	return &reference{Type: "Organization", Identifier: &identifier{System: p.System, Value: p.ID}, Display: p.Name}
}

// spec is a MeasureReport before rendering.
type spec struct {
	id         string
	subject    location
	reporter   reference
	start, end time.Time
	total      row
	// areaGroups adds the groups of areas (Hospitals).
	areaGroups  bool
	stratifiers []stratifier
}

type stratifier struct {
	code, display string
	strata        []stratum
}

type stratum struct {
	value coding
	row   row
}

// subjectID is the id of the contained subject Location.
const subjectID = "subject"

func (s *spec) marshal() ([]byte, error) {
	start, end := fhirTime(s.start), fhirTime(s.end)
	if start >= end {
		return nil, fmt.Errorf("fhir: %s: period start %s not before end %s", s.id, start, end)
	}
	loc := s.subject
	loc.ResourceType, loc.ID, loc.Status, loc.Mode = "Location", subjectID, "active", "instance"
	if len(loc.Identifier) != 1 || loc.Identifier[0].System == "" || loc.Identifier[0].Value == "" {
		return nil, fmt.Errorf("fhir: %s: the subject needs an identifier system and value", s.id)
	}
	if s.reporter.Identifier == nil || s.reporter.Identifier.Value == "" {
		return nil, fmt.Errorf("fhir: %s: the reporter needs an identifier", s.id)
	}
	id := loc.Identifier[0]
	mr := measureReport{
		ResourceType: "MeasureReport",
		ID:           s.id,
		Contained:    []location{loc},
		Status:       "complete",
		Type:         "summary",
		Measure:      FHIRMeasure,
		Subject:      reference{Reference: "#" + subjectID, Type: "Location", Identifier: &id, Display: loc.Name},
		Date:         end,
		Reporter:     s.reporter,
		Period:       period{Start: start, End: end},
	}
	for gi := range groups {
		g := &groups[gi]
		if g.areaOnly && !s.areaGroups {
			continue
		}
		out := mrGroup{Code: codeText(g.system, g.code, g.display), Population: populations(g, &s.total)}
		if g.score {
			out.MeasureScore = s.total.coverage()
		}
		for _, st := range s.stratifiers {
			if g.areaOnly || len(st.strata) == 0 {
				continue
			}
			code := codeOf(ICUGateStratifiers, st.code, st.display)
			ms := mrStratifier{Code: []concept{code}}
			for i := range st.strata {
				x := &st.strata[i]
				o := mrStratum{
					Component:  []mrComponent{{Code: code, Value: concept{Coding: []coding{x.value}, Text: x.value.Display}}},
					Population: populations(g, &x.row),
				}
				if o.Component[0].Value.Text == "" {
					o.Component[0].Value.Text = x.value.Code
				}
				if g.score {
					o.MeasureScore = x.row.coverage()
				}
				ms.Stratum = append(ms.Stratum, o)
			}
			out.Stratifier = append(out.Stratifier, ms)
		}
		mr.Group = append(mr.Group, out)
	}
	return json.Marshal(mr)
}

func populations(g *group, r *row) []mrPopulation {
	out := make([]mrPopulation, 0, len(g.pops))
	for i := range g.pops {
		p := &g.pops[i]
		out = append(out, mrPopulation{Code: p.concept(), Count: p.count(r)})
	}
	return out
}

func ptr[T any](v T) *T { return &v }
