package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

// benchSite is 300 beds in 6 units and 2,000 devices (the size PRODUCT §8
// names for one edge box): a monitor, a ventilator and 4 pumps at every
// bed, and 200 pumps in the central store.
func benchSite(b *testing.B) (*config.Site, []string) {
	sb := newSiteBuilder(b, 15*time.Second)
	classes := []string{config.ClassGeneral, config.ClassGeneral, config.ClassSpecialty,
		config.ClassSpecialty, config.ClassConvertible, config.ClassConvertible}
	var beds []string
	for u, cl := range classes {
		id := fmt.Sprintf("u%d", u)
		sb.unit(id, cl, 50)
		sb.pool(id+"-store", id)
		beds = append(beds, sb.site.Units[u].Beds...)
	}
	sb.pool("central", "")
	for i, bed := range beds {
		sb.device(fmt.Sprintf("mon-%03d", i), "monitor", bed)
		sb.device(fmt.Sprintf("vent-%03d", i), "ventilator", bed)
	}
	for i := 0; len(sb.site.Devices) < 2000; i++ {
		where := beds[i%len(beds)]
		if i >= 4*len(beds) {
			where = "central"
		}
		sb.device(fmt.Sprintf("pump-%04d", i), "pump", where)
	}
	ids := make([]string, len(sb.site.Devices))
	for i, d := range sb.site.Devices {
		ids[i] = d.ID
	}
	return sb.site, ids
}

// steadyEngine returns an engine where every device has answered and every
// hold has passed, and the observations that keep it so.
func steadyEngine(b *testing.B) (*Engine, []Observation) {
	site, ids := benchSite(b)
	e, err := New(site, t0)
	if err != nil {
		b.Fatal(err)
	}
	obs := make([]Observation, len(ids))
	for i, id := range ids {
		s := Standby
		if i%3 == 0 {
			s = InUse
		}
		obs[i] = Observation{Device: id, Values: values(s)}
	}
	step := time.Second / time.Duration(len(obs))
	now := t0
	for range 20 { // 20 polling rounds: past the 15s hold
		for i := range obs {
			now = now.Add(step)
			obs[i].Time = now
			if err := e.Observe(obs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	e.Transitions(nil)
	return e, obs
}

// BenchmarkObserve measures the steady state: every device answers once a
// second with unchanged values.
func BenchmarkObserve(b *testing.B) {
	e, obs := steadyEngine(b)
	step := time.Second / time.Duration(len(obs))
	now := obs[len(obs)-1].Time
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := &obs[i%len(obs)]
		now = now.Add(step)
		o.Time = now
		_ = e.Observe(*o)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
	if tr := e.Transitions(nil); len(tr) != 0 {
		b.Fatalf("steady state produced %d transitions, first %+v", len(tr), tr[0])
	}
}

// BenchmarkSnapshot measures a full snapshot of the 2,000-device site.
func BenchmarkSnapshot(b *testing.B) {
	e, _ := steadyEngine(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := e.Snapshot()
		if s.Capacity.Hospital.BedsEquipped != 300 {
			b.Fatalf("equipped %d, want 300", s.Capacity.Hospital.BedsEquipped)
		}
	}
}

// BenchmarkObserveChanging measures observations whose values differ from
// the previous ones, so the state rules run every time (the slow path).
func BenchmarkObserveChanging(b *testing.B) {
	e, obs := steadyEngine(b)
	step := time.Second / time.Duration(len(obs))
	now := obs[len(obs)-1].Time
	// Each round alternates every device between its values and the same
	// values with a different string sample: same condition, new samples.
	alt := make([][2][]rules.Sample, len(obs))
	for i := range obs {
		alt[i][0] = obs[i].Values
		alt[i][1] = append([]rules.Sample(nil), obs[i].Values...)
		alt[i][1][0].Str = "x"
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := obs[i%len(obs)]
		now = now.Add(step)
		o.Time = now
		o.Values = alt[i%len(obs)][(i/len(obs))%2]
		_ = e.Observe(o)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
	if tr := e.Transitions(nil); len(tr) != 0 {
		b.Fatalf("unchanged conditions produced %d transitions", len(tr))
	}
}
