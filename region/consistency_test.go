package region

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/report"
)

// lockedBuffer is a log destination safe for the region's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// moreBeds adds n equipped, available beds to a row: the row stays valid
// on its own (report.Check), only its relation to other rows changes.
func moreBeds(c *report.Counts, n int) {
	c.BedsTotal += n
	c.BedsEquipped += n
	c.BedsAvailable += n
}

// TestInconsistentReportsRejected sends correctly signed reports whose rows
// each pass report.Check but disagree with each other: every one is
// refused as inconsistent (422 to the poster), counted under that reason,
// and logged once for the lot.
func TestInconsistentReportsRejected(t *testing.T) {
	h := newHospitals(t, 1)[0]
	keys := writeKeys(t, t.TempDir(), []*hospital{h})
	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	r, err := New(testConfig(keys, ""), Deps{Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	// The hospital's reports have one unit per class: Units[i] is of the
	// class of Classes[i]. unitEdit applies an additive edit to a unit, its
	// class row and the totals, so every sum still holds.
	const general, convertible = 0, 2
	unitEdit := func(r *report.Report, i int, edit func(*report.Counts)) {
		edit(&r.Units[i])
		edit(&r.Classes[i])
		edit(&r.Totals)
	}
	cases := []struct {
		name   string
		tamper func(r *report.Report)
		want   string // "" for a report that must be accepted
	}{
		{"as produced", func(*report.Report) {}, ""},
		{"hospital equipped beds more than its units", func(r *report.Report) { moreBeds(&r.Totals, 5) },
			"totals: beds_total"},
		{"class equipped beds more than its units", func(r *report.Report) { moreBeds(&r.Classes[general], 2); moreBeds(&r.Totals, 2) },
			`class "general": beds_total`},
		{"a unit's beds left out of its class", func(r *report.Report) { moreBeds(&r.Units[1], 3) },
			`class "specialty": beds_total`},
		{"totals' convertible_ready more than the classes'", func(r *report.Report) { r.Totals.ConvertibleReady++ },
			"totals: convertible_ready"},
		{"class devices not its units'", func(r *report.Report) {
			class := &r.Classes[general]
			class.Devices = maps.Clone(class.Devices) // not the unit's map
			v := class.Devices["ventilator"]
			v.Standby++
			v.Total++
			class.Devices["ventilator"] = v
		}, `class "general": devices "ventilator" total`},
		{"totals missing a kind the units have", func(r *report.Report) {
			unitEdit(r, general, func(c *report.Counts) { c.Devices["ecmo"] = report.KindCount{Total: 1, Standby: 1} })
			delete(r.Totals.Devices, "ecmo")
		}, `totals: devices "ecmo" total 0, less than the 1 the class rows sum to`},
		{"totals with devices of the central store", func(r *report.Report) {
			// The store belongs to no unit: its devices count only in the
			// totals. That is how the gateway reports, and is accepted.
			r.Totals.Devices["ecmo"] = report.KindCount{Total: 2, Standby: 1, Maintenance: 1}
		}, ""},
		{"unit of a class without a class row", func(r *report.Report) { r.Units[general].Class = "neonatal" },
			`unit "general-1": its class "neonatal" has no class row`},
		{"unit listed twice", func(r *report.Report) {
			dup := r.Units[1]
			dup.Devices = map[string]report.KindCount{}
			r.Units = append(r.Units, dup)
			for _, c := range []*report.Counts{&r.Classes[1], &r.Totals} {
				c.BedsTotal += dup.BedsTotal
				c.BedsEquipped += dup.BedsEquipped
				c.BedsOccupied += dup.BedsOccupied
				c.BedsAvailable += dup.BedsAvailable
				c.BedsDegraded += dup.BedsDegraded
			}
		}, `unit "specialty-1" has two rows`},
		{"class listed twice", func(r *report.Report) {
			r.Classes = append(r.Classes, report.Counts{Unit: "all", Class: config.ClassConvertible, Devices: map[string]report.KindCount{},
				Evidence: report.Evidence{Stale: []string{}, Missing: []string{}}})
		}, `class "convertible" has two rows`},
		{"ready beds in a general unit", func(r *report.Report) {
			unitEdit(r, general, func(c *report.Counts) { c.ConvertibleReady++ })
		}, `unit "general-1": convertible_ready 1 in a general unit`},
		{"more ready beds than beds", func(r *report.Report) {
			d := r.Units[convertible].BedsTotal + 1 - r.Units[convertible].ConvertibleReady
			unitEdit(r, convertible, func(c *report.Counts) { c.ConvertibleReady += d })
		}, "is more than beds_total"},
		{"an equipped convertible bed not ready", func(r *report.Report) {
			unitEdit(r, convertible, func(c *report.Counts) { moreBeds(c, 1) })
			d := r.Units[convertible].BedsEquipped - 1 - r.Units[convertible].ConvertibleReady
			unitEdit(r, convertible, func(c *report.Counts) { c.ConvertibleReady += d })
		}, "is less than beds_equipped"},
	}
	now := time.Now()
	rejected := 0
	for _, c := range cases {
		rep := h.next("R01", now)
		c.tamper(rep)
		if err := rep.Check(); err != nil {
			t.Fatalf("%s: the tampered report must pass report.Check, or this tests the wrong thing: %v", c.name, err)
		}
		resp, err := http.Post(srv.URL+"/api/v1/reports", "application/json", bytes.NewReader(h.sign(t, rep)))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Outcome Outcome `json:"outcome"`
			Error   string  `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if c.want == "" {
			if got.Outcome != Accepted {
				t.Errorf("%s: %d %s (%s), want accepted", c.name, resp.StatusCode, got.Outcome, got.Error)
			}
			continue
		}
		rejected++
		if resp.StatusCode != http.StatusUnprocessableEntity || got.Outcome != Inconsistent || !strings.Contains(got.Error, c.want) {
			t.Errorf("%s: %d %s (%s), want 422 inconsistent naming %q", c.name, resp.StatusCode, got.Outcome, got.Error, c.want)
		}
	}
	if n := reportsCounted(t, reg, Posted, Inconsistent); int(n) != rejected {
		t.Errorf(`icugate_region_reports_total{source="http",outcome="inconsistent"} = %v, want %d`, n, rejected)
	}
	if n := strings.Count(logs.String(), "reason=inconsistent"); n != 1 {
		t.Errorf("%d log lines for %d inconsistent reports, want 1 (rate-limited):\n%s", n, rejected, logs.String())
	}
	if v := r.View(); v.Totals.Reporting != 1 {
		t.Errorf("view: %d hospitals reporting, want the one whose consistent reports were accepted", v.Totals.Reporting)
	}
}

// reportsCounted reads icugate_region_reports_total{source, outcome}.
func reportsCounted(t *testing.T, reg *prometheus.Registry, src Source, o Outcome) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "icugate_region_reports_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["source"] == string(src) && labels["outcome"] == string(o) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestEngineReportsPassRowChecks runs the real engine on the demo site
// (units of every class, unit pools and a central store) through random
// device states, maintenance and moves, and checks that every report the
// gateway would sign from it passes: the row checks hold for what the
// gateway really produces.
func TestEngineReportsPassRowChecks(t *testing.T) {
	t.Parallel()
	site, err := config.Load("../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var places []string
	for _, u := range site.Units {
		places = append(places, u.Beds...)
	}
	for _, p := range site.Pools {
		places = append(places, p.ID)
	}
	states := []string{"in_use", "standby", "standby", "fault", "maintenance"}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	// What the runs reached, so the check is not vacuously passed.
	var reports, readyViaPool, storeDevices, convEquipped int
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 12))
		e, err := pipeline.New(site, t0)
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		for step := range 1000 {
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
			d := &site.Devices[rng.IntN(len(site.Devices))]
			switch x := rng.IntN(100); {
			case x < 80:
				samples, err := site.Profiles[d.Profile].SimulatedSamples(states[rng.IntN(len(states))])
				if err != nil {
					t.Fatal(err)
				}
				_ = e.Observe(pipeline.Observation{Device: d.ID, Time: now, Values: samples, Serial: d.Serial})
			case x < 90:
				_ = e.Observe(pipeline.Observation{Device: d.ID, Time: now, Err: errors.New("timeout")})
			case x < 95:
				_ = e.SetMaintenance(d.ID, rng.IntN(2) == 0, now, "test")
			default:
				_ = e.Move(d.ID, places[rng.IntN(len(places))], now, "test")
			}
			if step%25 != 24 {
				continue
			}
			e.Advance(now)
			snap := e.Snapshot()
			reports++
			rep, err := report.Build(&snap, site, uint64(reports))
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Check(); err != nil {
				t.Fatalf("seed %d step %d: report.Check: %v", seed, step, err)
			}
			if err := CheckRows(rep); err != nil {
				t.Fatalf("seed %d step %d: the gateway's own report fails the row checks: %v", seed, step, err)
			}
			for _, rb := range snap.Readiness {
				if rb.Via == "pool" {
					readyViaPool++
				}
			}
			for kind, k := range rep.Totals.Devices {
				sum := 0
				for _, c := range rep.Classes {
					sum += c.Devices[kind].Standby
				}
				storeDevices += k.Standby - sum
			}
			convEquipped += rep.Classes[2].BedsEquipped
		}
	}
	t.Logf("%d reports: %d beds ready via pools, %d standby store devices, %d equipped convertible beds", reports, readyViaPool, storeDevices, convEquipped)
	if readyViaPool == 0 || storeDevices == 0 || convEquipped == 0 {
		t.Fatal("the runs never reached pool readiness, store devices or equipped convertible beds; the generator needs fixing")
	}
}
