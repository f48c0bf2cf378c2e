package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// siteView is the part of the site config the dashboard needs: names,
// classes, beds and pools. It carries no addresses of secrets.
type siteView struct {
	Hospital   hospitalView `json:"hospital"`
	TargetYear int          `json:"target_year"`
	HoldSecs   float64      `json:"hold_seconds"`
	Units      []unitView   `json:"units"`
	Pools      []poolView   `json:"pools"`
}

type hospitalView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Level     string `json:"level"`
	TotalBeds int    `json:"total_beds"`
	Region    string `json:"region,omitempty"`
}

type unitView struct {
	ID       string   `json:"id"`
	Name     string   `json:"name,omitempty"`
	Class    string   `json:"class"`
	Subtype  string   `json:"subtype,omitempty"`
	Requires []string `json:"requires"`
	Beds     []string `json:"beds"`
}

type poolView struct {
	ID string `json:"id"`
	// Unit owns the pool; "" is the hospital's store.
	Unit string `json:"unit"`
}

// DeviceInfo is what the config says about a device, beside its state.
type DeviceInfo struct {
	Transport string `json:"transport"`
	Profile   string `json:"profile"`
	Vendor    string `json:"vendor,omitempty"`
	Model     string `json:"model,omitempty"`
	Serial    string `json:"serial,omitempty"`
	// IntervalSecs is the poll interval (Modbus) or heartbeat (MQTT).
	IntervalSecs float64 `json:"interval_seconds"`
}

// DeviceRow is one device of GET /api/v1/devices.
type DeviceRow struct {
	pipeline.DeviceStatus
	DeviceInfo
}

func viewSite(site *config.Site) siteView {
	v := siteView{Units: []unitView{}, Pools: []poolView{}}
	if site == nil {
		return v
	}
	h := site.Hospital
	v.Hospital = hospitalView{ID: h.ID, Name: h.Name, Level: h.Level, TotalBeds: h.TotalBeds, Region: h.Region}
	v.TargetYear = site.TargetYear
	v.HoldSecs = site.HoldTime().Seconds()
	for i := range site.Units {
		u := &site.Units[i]
		v.Units = append(v.Units, unitView{
			ID: u.ID, Name: u.Name, Class: u.Class, Subtype: u.Subtype,
			Requires: slices.Clone(u.RequiredKinds()), Beds: slices.Clone(u.Beds),
		})
	}
	for _, p := range site.Pools {
		v.Pools = append(v.Pools, poolView{ID: p.ID, Unit: p.Unit})
	}
	return v
}

func deviceInfo(site *config.Site, id string) DeviceInfo {
	if site == nil {
		return DeviceInfo{}
	}
	for i := range site.Devices {
		d := &site.Devices[i]
		if d.ID != id {
			continue
		}
		return infoOf(site, d)
	}
	return DeviceInfo{}
}

func infoOf(site *config.Site, d *config.Device) DeviceInfo {
	info := DeviceInfo{Transport: d.Transport(), Profile: d.Profile, Serial: d.Serial, IntervalSecs: d.Interval().Seconds()}
	if p := site.Profiles[d.Profile]; p != nil {
		info.Vendor, info.Model = p.Vendor, p.Model
	}
	return info
}

func (s *Server) getSite(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, viewSite(s.backend.Site()))
}

// filter is one query parameter's accepted values; empty matches all.
type filter []string

func (f filter) match(v string) bool { return len(f) == 0 || slices.Contains(f, v) }

// parseFilters reads the query parameters named in allowed (each a list of
// known values, comma-separated or repeated) and rejects unknown
// parameters and values, naming them and what is accepted.
func parseFilters(r *http.Request, allowed map[string][]string) (map[string]filter, *requestError) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &requestError{http.StatusBadRequest, "bad query", fmt.Sprintf("%s: %v", r.URL.Path, err)}
	}
	out := make(map[string]filter, len(q))
	for name, vals := range q {
		known, ok := allowed[name]
		if !ok {
			return nil, &requestError{http.StatusBadRequest, "unknown query parameter",
				fmt.Sprintf("%s: parameter %q is not one of %s", r.URL.Path, name, strings.Join(sortedKeys(allowed), ", "))}
		}
		var f filter
		for _, v := range vals {
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p == "" {
					continue
				}
				if !slices.Contains(known, p) {
					return nil, &requestError{http.StatusBadRequest, "unknown " + name,
						fmt.Sprintf("%s: %s %q is not one of %s", r.URL.Path, name, p, strings.Join(known, ", "))}
				}
				f = append(f, p)
			}
		}
		out[name] = f
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func unitIDs(site *config.Site) []string {
	var ids []string
	if site != nil {
		for _, u := range site.Units {
			ids = append(ids, u.ID)
		}
	}
	return ids
}

// The values the state and class filters accept. The state names are
// pipeline's own, so a state added there is accepted here with no list to
// keep in step.
var (
	deviceStateNames = pipeline.DeviceStateNames()
	bedStateNames    = pipeline.BedStateNames()
	classNames       = []string{config.ClassGeneral, config.ClassSpecialty, config.ClassConvertible}
)

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	snap := s.backend.Snapshot()
	site := s.backend.Site()
	f, rerr := parseFilters(r, map[string][]string{
		"kind":  sortedKeys(snap.Capacity.Hospital.Kinds),
		"unit":  unitIDs(site),
		"state": deviceStateNames,
	})
	if rerr != nil {
		writeError(w, rerr.code, rerr.what, rerr.reason)
		return
	}
	byID := make(map[string]*config.Device)
	if site != nil {
		for i := range site.Devices {
			byID[site.Devices[i].ID] = &site.Devices[i]
		}
	}
	rows := make([]DeviceRow, 0, len(snap.Devices))
	for _, d := range snap.Devices {
		if !f["kind"].match(d.Kind) || !f["unit"].match(d.Unit) || !f["state"].match(d.State.String()) {
			continue
		}
		row := DeviceRow{DeviceStatus: d}
		if c := byID[d.ID]; c != nil {
			row.DeviceInfo = infoOf(site, c)
		}
		rows = append(rows, row)
	}
	writeJSON(w, http.StatusOK, struct {
		AsOf    time.Time   `json:"as_of"`
		Devices []DeviceRow `json:"devices"`
	}{snap.AsOf, rows})
}

// deviceDetailView is GET /api/v1/devices/{id}.
type deviceDetailView struct {
	DeviceDetail
	DeviceInfo
	AsOf time.Time `json:"as_of"`
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	d, ok := s.backend.Device(id)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown device", fmt.Sprintf("device %q is not configured", id))
		return
	}
	if d.Values == nil {
		d.Values = []DeviceValue{}
	}
	if d.History == nil {
		d.History = []pipeline.Transition{}
	}
	if d.Usage == nil {
		d.Usage = []UsageDay{}
	}
	writeJSON(w, http.StatusOK, deviceDetailView{
		DeviceDetail: d,
		DeviceInfo:   deviceInfo(s.backend.Site(), id),
		AsOf:         s.backend.Snapshot().AsOf,
	})
}

func (s *Server) listBeds(w http.ResponseWriter, r *http.Request) {
	snap := s.backend.Snapshot()
	f, rerr := parseFilters(r, map[string][]string{
		"unit":  unitIDs(s.backend.Site()),
		"state": bedStateNames,
		"class": classNames,
	})
	if rerr != nil {
		writeError(w, rerr.code, rerr.what, rerr.reason)
		return
	}
	beds := make([]pipeline.BedStatus, 0, len(snap.Beds))
	for _, b := range snap.Beds {
		if f["unit"].match(b.Unit) && f["state"].match(b.State.String()) && f["class"].match(b.Class) {
			beds = append(beds, b)
		}
	}
	writeJSON(w, http.StatusOK, struct {
		AsOf time.Time            `json:"as_of"`
		Beds []pipeline.BedStatus `json:"beds"`
	}{snap.AsOf, beds})
}

// capacityView is the capacity document of PRODUCT §9: per unit, per
// class and for the hospital the bed and device counts, convertible
// readiness, verification and evidence, and the policy indicators.
//
// The counts keep the shape of pipeline.CapacityReport ("hospital",
// "classes", "units"), as in the regional report.
type capacityView struct {
	AsOf       time.Time `json:"as_of"`
	HospitalID string    `json:"hospital_id"`
	// Verified is the hospital-wide verification: every device fresh.
	Verified bool `json:"verified"`
	pipeline.CapacityReport
	Readiness []pipeline.ReadyBed `json:"readiness"`
	Policy    pipeline.Policy     `json:"policy"`
}

func (s *Server) getCapacity(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, "unknown query parameter", r.URL.Path+": takes no parameters")
		return
	}
	snap := s.backend.Snapshot()
	v := capacityView{
		AsOf:           snap.AsOf,
		HospitalID:     snap.Hospital,
		Verified:       snap.Capacity.Hospital.Verified,
		CapacityReport: snap.Capacity,
		Readiness:      snap.Readiness,
		Policy:         snap.Policy,
	}
	if v.Readiness == nil {
		v.Readiness = []pipeline.ReadyBed{}
	}
	writeJSON(w, http.StatusOK, v)
}
