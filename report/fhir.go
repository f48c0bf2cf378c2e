package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// FHIR code systems and the measure the MeasureReport answers. Codes that
// the HL7 SANER implementation guide defines (numBeds, numBedsOcc, numVent,
// numVentUse) use its MeasuredValues system; counts SANER has no code for
// (available, equipped, convertible-ready beds; available ventilators) use
// icugate's own system, so no platform mistakes them for SANER's.
const (
	FHIRMeasure        = "urn:icugate:fhir:Measure:ICUCapacity"
	SANERMeasuredValue = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasuredValues"
	SANERMeasureGroup  = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasureGroupSystem"
	ICUGateCodes       = "urn:icugate:fhir:CodeSystem:capacity"
	ICUGateStratifiers = "urn:icugate:fhir:CodeSystem:stratifier"
	HospitalIDSystem   = "urn:icugate:hospital"
)

// population is one population code and how to count it from Counts.
type population struct {
	system, code, display string
	count                 func(*Counts) int
}

var bedPopulations = [...]population{
	{SANERMeasuredValue, "numBeds", "ICU beds (configured)", func(c *Counts) int { return c.BedsTotal }},
	{ICUGateCodes, "numBedsEquipped", "ICU beds equipped (devices present and healthy)", func(c *Counts) int { return c.BedsEquipped }},
	{SANERMeasuredValue, "numBedsOcc", "ICU beds occupied", func(c *Counts) int { return c.BedsOccupied }},
	{ICUGateCodes, "numBedsAvail", "ICU beds available (equipped, not occupied)", func(c *Counts) int { return c.BedsAvailable }},
	{ICUGateCodes, "numBedsDegraded", "ICU beds degraded (not equipped)", func(c *Counts) int { return c.BedsDegraded }},
	{ICUGateCodes, "numConvertibleReady", "Convertible beds ready within 24 h", func(c *Counts) int { return c.ConvertibleReady }},
}

var ventPopulations = [...]population{
	{SANERMeasuredValue, "numVent", "Mechanical ventilators", func(c *Counts) int { return c.Devices["ventilator"].Total }},
	{SANERMeasuredValue, "numVentUse", "Mechanical ventilators in use", func(c *Counts) int { return c.Devices["ventilator"].InUse }},
	{ICUGateCodes, "numVentAvail", "Mechanical ventilators available (standby)", func(c *Counts) int { return c.Devices["ventilator"].Standby }},
}

// FHIR renders the counts of snap as a FHIR R4 MeasureReport (JSON), in
// the style of the SANER bed-capacity measures: a "Beds" and a
// "Ventilators" group with the hospital's counts, each stratified by unit
// and by unit class. The period is the instant the counts hold for.
func FHIR(snap *pipeline.Snapshot, site *config.Site) ([]byte, error) {
	if snap == nil || site == nil {
		return nil, errors.New("fhir: nil snapshot or site")
	}
	// Sequence 1 is a placeholder: the MeasureReport carries no sequence.
	r, err := Build(snap, site, 1)
	if err != nil {
		return nil, err
	}
	return json.Marshal(measureReport(r))
}

func measureReport(r *Report) fhir.MeasureReport {
	at := r.AsOf.Format(time.RFC3339)
	id := fmt.Sprintf("icu-capacity-%s-%d", r.Hospital.ID, r.AsOf.Unix())
	org := "Organization"
	ref := &fhir.Reference{
		Type:       &org,
		Identifier: &fhir.Identifier{System: ptr(HospitalIDSystem), Value: ptr(r.Hospital.ID)},
		Display:    ptr(r.Hospital.Name),
	}
	mr := fhir.MeasureReport{
		Id:       &id,
		Status:   fhir.MeasureReportStatusComplete,
		Type:     fhir.MeasureReportTypeSummary,
		Measure:  FHIRMeasure,
		Subject:  ref,
		Reporter: ref,
		Date:     &at,
		Period:   fhir.Period{Start: &at, End: &at},
		Group: []fhir.MeasureReportGroup{
			group("Beds", "ICU beds", bedPopulations[:], r),
			group("Ventilators", "Mechanical ventilators", ventPopulations[:], r),
		},
	}
	return mr
}

func group(code, display string, pops []population, r *Report) fhir.MeasureReportGroup {
	g := fhir.MeasureReportGroup{Code: concept(SANERMeasureGroup, code, display)}
	for _, p := range pops {
		n := p.count(&r.Totals)
		g.Population = append(g.Population, fhir.MeasureReportGroupPopulation{
			Code: concept(p.system, p.code, p.display), Count: &n,
		})
	}
	unit := fhir.MeasureReportGroupStratifier{Code: []fhir.CodeableConcept{*concept(ICUGateStratifiers, "unit", "ICU unit")}}
	for i := range r.Units {
		unit.Stratum = append(unit.Stratum, stratum(r.Units[i].Unit, pops, &r.Units[i]))
	}
	class := fhir.MeasureReportGroupStratifier{Code: []fhir.CodeableConcept{*concept(ICUGateStratifiers, "class", "ICU unit class")}}
	for i := range r.Classes {
		class.Stratum = append(class.Stratum, stratum(r.Classes[i].Class, pops, &r.Classes[i]))
	}
	g.Stratifier = []fhir.MeasureReportGroupStratifier{unit, class}
	return g
}

func stratum(value string, pops []population, c *Counts) fhir.MeasureReportGroupStratifierStratum {
	s := fhir.MeasureReportGroupStratifierStratum{Value: &fhir.CodeableConcept{Text: ptr(value)}}
	for _, p := range pops {
		n := p.count(c)
		s.Population = append(s.Population, fhir.MeasureReportGroupStratifierStratumPopulation{
			Code: concept(p.system, p.code, p.display), Count: &n,
		})
	}
	return s
}

func concept(system, code, display string) *fhir.CodeableConcept {
	return &fhir.CodeableConcept{
		Coding: []fhir.Coding{{System: ptr(system), Code: ptr(code), Display: ptr(display)}},
		Text:   ptr(display),
	}
}

func ptr[T any](v T) *T { return &v }
