package api

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
)

// bigBackend is a hospital at the scale of PRODUCT §8: 300 ICU beds in 15
// units, each bed with a monitor and a ventilator, and 1,400 more devices
// in unit pools: 2,000 devices.
func bigBackend(b testing.TB) *testBackend {
	b.Helper()
	hold := time.Duration(0)
	site := &config.Site{
		Hospital:   config.Hospital{ID: "big", Name: "Big Hospital", Level: config.LevelTertiary, TotalBeds: 5000},
		TargetYear: 2027, Hold: &hold,
		Profiles: map[string]*config.Profile{
			"test-monitor": testProfile(b, "monitor"), "test-ventilator": testProfile(b, "ventilator"),
			"test-ecmo": testProfile(b, "ecmo"), "test-crrt": testProfile(b, "crrt"),
		},
	}
	classes := []string{config.ClassGeneral, config.ClassSpecialty, config.ClassConvertible}
	kinds := []string{"monitor", "ventilator", "ecmo", "crrt"}
	add := func(id, kind, at string) {
		site.Devices = append(site.Devices, config.Device{ID: id, Kind: kind, Profile: "test-" + kind, At: at,
			Modbus: &config.ModbusDevice{Address: "127.0.0.1:1502", UnitID: 1, Interval: time.Second}})
	}
	for u := range 15 {
		unit := config.Unit{ID: fmt.Sprintf("u%02d", u), Class: classes[u%3]}
		for i := range 20 {
			bed := fmt.Sprintf("%s-%02d", unit.ID, i)
			unit.Beds = append(unit.Beds, bed)
			add(bed+"-mon", "monitor", bed)
			add(bed+"-vent", "ventilator", bed)
		}
		site.Units = append(site.Units, unit)
		pool := unit.ID + "-store"
		site.Pools = append(site.Pools, config.Pool{ID: pool, Unit: unit.ID})
		for i := range 1400 / 15 {
			add(fmt.Sprintf("%s-p%02d", pool, i), kinds[i%4], pool)
		}
	}
	for len(site.Devices) < 2000 {
		add(fmt.Sprintf("x%04d", len(site.Devices)), "monitor", "u00-store")
	}
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	eng, err := pipeline.New(site, start)
	if err != nil {
		b.Fatal(err)
	}
	tb := &testBackend{tb: b, site: site, eng: eng, now: start,
		want: map[string]pipeline.DeviceState{}, history: map[string][]pipeline.Transition{},
		values: map[string][]rules.Sample{}, subs: map[chan pipeline.Transition]struct{}{}}
	for _, d := range site.Devices {
		tb.want[d.ID] = pipeline.Standby
	}
	tb.step()
	return tb
}

func benchRoute(b *testing.B, path string) {
	be := bigBackend(b)
	srv, err := New(Config{}, be, Deps{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRequest(b.Context(), "GET", path, ""))
		if w.Code != 200 {
			b.Fatalf("%s: %d", path, w.Code)
		}
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size), "resp-bytes")
}

// The dashboard re-fetches these three after live events (debounced).
func BenchmarkDevices2000(b *testing.B)  { benchRoute(b, "/api/v1/devices") }
func BenchmarkBeds300(b *testing.B)      { benchRoute(b, "/api/v1/beds") }
func BenchmarkCapacity2000(b *testing.B) { benchRoute(b, "/api/v1/capacity") }
