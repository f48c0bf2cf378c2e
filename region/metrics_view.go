package region

import (
	"github.com/prometheus/client_golang/prometheus"
)

// viewCollector exports the current view at scrape time: the region's and
// every district's hospitals, beds and per-100,000 indicators, and every
// hospital's status and parts.
type viewCollector struct {
	r *Region

	hospitals, beds, per100k, target                          *prometheus.Desc
	districtHospitals, districtBeds, districtPer100k, metDesc *prometheus.Desc
	hospitalStatus, silentParts, online, age                  *prometheus.Desc
}

func newViewCollector(r *Region) *viewCollector {
	d := prometheus.NewDesc
	return &viewCollector{
		r:                 r,
		hospitals:         d("icugate_region_hospitals", "Hospitals by status (reporting, partial, silent, never) in this instance's view.", []string{"status"}, nil),
		beds:              d("icugate_region_beds", "ICU-unit beds of the contributing hospitals in this instance's view, by state.", []string{"state"}, nil),
		per100k:           d("icugate_region_per_100k", "Region: beds per 100,000 people, by indicator (icu, icu_equipped, convertible, convertible_ready).", []string{"indicator"}, nil),
		target:            d("icugate_region_target_per_100k", "The target per 100,000 people for the region's target year, by indicator (icu, convertible).", []string{"indicator"}, nil),
		districtHospitals: d("icugate_region_district_hospitals", "Hospitals of a district by status.", []string{"district", "status"}, nil),
		districtBeds:      d("icugate_region_district_beds", "ICU-unit beds of a district's contributing hospitals, by state (total, equipped, occupied, available, degraded, convertible_ready, icu, icu_equipped, convertible).", []string{"district", "state"}, nil),
		districtPer100k:   d("icugate_region_district_per_100k", "A district's beds per 100,000 people, by indicator (icu, icu_equipped, convertible, convertible_ready).", []string{"district", "indicator"}, nil),
		metDesc:           d("icugate_region_target_met", "1 when a district (or the region, district=\"all\") meets the per-100,000 target, by indicator.", []string{"district", "indicator"}, nil),
		hospitalStatus:    d("icugate_region_hospital_status", "1 for a hospital's current status (reporting, partial, silent, never), 0 for the others.", []string{"hospital", "district", "status"}, nil),
		silentParts:       d("icugate_region_hospital_silent_parts", "A hospital's parts (gateways) that are silent or never reported.", []string{"hospital"}, nil),
		online:            d("icugate_region_part_gateway_online", "1 when a part's gateway last said online on its presence topic, 0 offline; absent until it said either.", []string{"hospital", "part"}, nil),
		age:               d("icugate_region_part_report_age_seconds", "Age of a part's latest accepted report (now - as_of); absent until one is accepted.", []string{"hospital", "part"}, nil),
	}
}

func (c *viewCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hospitals, c.beds, c.per100k, c.target, c.districtHospitals, c.districtBeds, c.districtPer100k, c.metDesc, c.hospitalStatus, c.silentParts, c.online, c.age} {
		ch <- d
	}
}

var statuses = [...]string{StatusReporting, StatusPartial, StatusSilent, StatusNever}

func (c *viewCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.r.View()
	gauge := func(d *prometheus.Desc, val float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, val, labels...)
	}
	bit := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	t := v.Totals
	for status, n := range statusCounts(&t) {
		gauge(c.hospitals, float64(n), status)
	}
	for state, n := range map[string]int{"total": t.BedsTotal, "equipped": t.BedsEquipped, "occupied": t.BedsOccupied, "available": t.BedsAvailable, "degraded": t.BedsDegraded, "convertible_ready": t.ConvertibleReady} {
		gauge(c.beds, float64(n), state)
	}
	for ind, val := range per100k(&v.Indicators) {
		gauge(c.per100k, val, ind)
	}
	gauge(c.target, v.Indicators.ICUTargetPer100k, "icu")
	gauge(c.target, v.Indicators.ConvertibleTarget, "convertible")
	for ind, ok := range met(&v.Indicators) {
		gauge(c.metDesc, bit(ok), "all", ind)
	}
	for _, d := range v.Districts {
		for status, n := range statusCounts(&d.Totals) {
			gauge(c.districtHospitals, float64(n), d.ID, status)
		}
		dt := &d.Totals
		for state, n := range map[string]int{"total": dt.BedsTotal, "equipped": dt.BedsEquipped, "occupied": dt.BedsOccupied, "available": dt.BedsAvailable,
			"degraded": dt.BedsDegraded, "convertible_ready": dt.ConvertibleReady, "icu": dt.ICUBeds, "icu_equipped": dt.ICUBedsEquipped, "convertible": dt.ConvertibleBeds} {
			gauge(c.districtBeds, float64(n), d.ID, state)
		}
		for ind, val := range per100k(&d.Indicators) {
			gauge(c.districtPer100k, val, d.ID, ind)
		}
		for ind, ok := range met(&d.Indicators) {
			gauge(c.metDesc, bit(ok), d.ID, ind)
		}
	}
	for _, h := range v.Hospitals {
		if h.Status == StatusUnregistered {
			continue
		}
		for _, s := range statuses {
			gauge(c.hospitalStatus, bit(h.Status == s), h.ID, h.District, s)
		}
		gauge(c.silentParts, float64(len(h.SilentParts)), h.ID)
		for _, p := range h.Parts {
			switch p.Presence {
			case PresenceOnline:
				gauge(c.online, 1, h.ID, p.ID)
			case PresenceOffline:
				gauge(c.online, 0, h.ID, p.ID)
			}
			if p.AsOf != nil {
				gauge(c.age, v.AsOf.Sub(*p.AsOf).Seconds(), h.ID, p.ID)
			}
		}
	}
}

func statusCounts(t *Totals) map[string]int {
	return map[string]int{StatusReporting: t.Reporting, StatusPartial: t.Partial, StatusSilent: t.Silent, StatusNever: t.Never}
}

func per100k(in *Indicators) map[string]float64 {
	return map[string]float64{"icu": in.ICUBedsPer100k, "icu_equipped": in.ICUBedsEquippedPer100k, "convertible": in.ConvertiblePer100k, "convertible_ready": in.ConvertibleReadyPer100k}
}

func met(in *Indicators) map[string]bool {
	return map[string]bool{"icu": in.ICUMet, "icu_equipped": in.ICUEquippedMet, "convertible": in.ConvertibleMet, "convertible_ready": in.ConvertibleReadyMet}
}
