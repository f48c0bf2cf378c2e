package region

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// testClock is a settable clock for a Region (Deps.Now): seeding history
// through the real ingest path needs reports "received" days ago, and
// the ledger refuses reports older than max_age of its now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// historyRegion is the hand-computed region (parts_helpers_test.go) on a
// settable clock, with a Chinese district name (exports must keep it).
type historyRegion struct {
	*handRegion
	r     *Region
	clock *testClock
}

func newHistoryRegion(t testing.TB, influx *config.InfluxDB, start time.Time) *historyRegion {
	t.Helper()
	hr := newHandRegion(t, t.TempDir())
	cfg := twoDistricts(hr.keys, "")
	cfg.Districts[1].Name = "北部县"
	cfg.InfluxDB = influx
	clock := &testClock{t: start}
	r, err := New(cfg, Deps{Log: testLog(t), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return &historyRegion{handRegion: hr, r: r, clock: clock}
}

// feed has every gateway but H004's report at asOf, through the real
// ingest path (decide: verify, ledger, InfluxDB write), with H001's
// equipped general beds lowered by drop (0..16). It returns the equipped
// ICU beds (general + specialty) of D01 and D02 in these reports.
func (h *historyRegion) feed(t testing.TB, asOf time.Time, drop int) (d01, d02 int) {
	t.Helper()
	h.clock.Set(asOf)
	b1 := bedsH001
	b1.genEq -= drop
	for _, g := range []struct {
		gw   *hospital
		part string
		b    beds
	}{{h.h001, "main", b1}, {h.h002main, "main", bedsH002Main}, {h.h002east, "east", bedsH002East}, {h.h003, "main", bedsH003}} {
		rep := g.gw.nextWith("R01", asOf, g.b)
		v := h.r.decide(context.Background(), item{topic: report.PartTopic("R01", g.gw.id, g.part), payload: g.gw.sign(t, rep), src: Live})
		if v.Outcome != Accepted {
			t.Fatalf("%s/%s at %s: %s %v", g.gw.id, g.part, asOf, v.Outcome, v.Err)
		}
	}
	d01 = b1.genEq + b1.specEq + bedsH002Main.genEq + bedsH002Main.specEq + bedsH002East.genEq + bedsH002East.specEq
	d02 = bedsH003.genEq + bedsH003.specEq
	return d01, d02
}
