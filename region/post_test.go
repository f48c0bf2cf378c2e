package region

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/report"
)

// snapshotOf is an engine snapshot with one general unit of beds beds,
// equipped of them equipped and occupied of those occupied.
func snapshotOf(at time.Time, beds, equipped, occupied int) *pipeline.Snapshot {
	ev := pipeline.Evidence{Stale: []string{}, Missing: []string{}, Fresh: 2 * beds, Configured: 2 * beds, Coverage: 1}
	c := pipeline.Capacity{
		Unit: "gicu", Class: config.ClassGeneral, BedsTotal: beds, BedsEquipped: equipped, BedsOccupied: occupied,
		BedsAvailable: equipped - occupied, BedsDegraded: beds - equipped,
		Kinds:    map[string]pipeline.KindCount{"ventilator": {Total: beds, InUse: occupied, Standby: beds - occupied}},
		Verified: true, Evidence: ev,
	}
	class := c
	class.Unit = pipeline.All
	hosp := class
	hosp.Class = pipeline.All
	empty := func(cl string) pipeline.Capacity {
		return pipeline.Capacity{Unit: pipeline.All, Class: cl, Kinds: map[string]pipeline.KindCount{}, Verified: true, Evidence: pipeline.Evidence{Stale: []string{}, Missing: []string{}, Coverage: 1}}
	}
	return &pipeline.Snapshot{
		AsOf: at, Hospital: "H001",
		Capacity: pipeline.CapacityReport{Hospital: hosp, Classes: []pipeline.Capacity{class, empty(config.ClassSpecialty), empty(config.ClassConvertible)}, Units: []pipeline.Capacity{c}},
		Policy:   pipeline.Policy{Level: config.LevelTertiary, TargetYear: 2025, TargetsYear: 2025, TargetsKnown: true, TotalBeds: 100},
	}
}

// The gateway's publishing path (report.Publisher with the HTTP transport)
// into the aggregator's POST endpoint.
func TestGatewayPostsReportsToAggregator(t *testing.T) {
	dir := t.TempDir()
	if _, err := report.GenerateKeyFiles(dir); err != nil {
		t.Fatal(err)
	}
	key, err := report.LoadPrivateKey(filepath.Join(dir, report.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "hospitals.yaml")
	os.WriteFile(keys, []byte("hospitals:\n  - id: H001\n    public_key_file: "+report.PublicKeyFile+"\n"), 0o644)
	r, err := New(testConfig(keys, ""), Deps{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	site := &config.Site{
		Hospital: config.Hospital{ID: "H001", Name: "First", Level: config.LevelTertiary, TotalBeds: 100, Region: "R01"},
		Report:   config.Report{Interval: time.Minute, GatewayID: "gw-1"},
		Units:    []config.Unit{{ID: "gicu", Class: config.ClassGeneral}},
	}
	tr := &report.HTTPTransport{URL: srv.URL + "/api/v1/reports", Client: srv.Client(), Backoff: time.Millisecond}
	pub, err := report.NewPublisher(site, key, tr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	if _, err := pub.Publish(ctx, snapshotOf(now, 10, 8, 3), 1); err != nil {
		t.Fatal(err)
	}
	m2, err := pub.Publish(ctx, snapshotOf(now.Add(time.Second), 10, 7, 4), 2)
	if err != nil {
		t.Fatal(err)
	}
	// The same report again: 200, not an error for the sender.
	if err := tr.Send(ctx, m2); err != nil {
		t.Fatalf("resend: %v", err)
	}
	// An older sequence: 409, final.
	old, err := pub.Prepare(snapshotOf(now, 10, 10, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(ctx, old); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("replayed POST: %v", err)
	}
	// Signed by a key the region does not know: 422.
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	spub, _ := report.NewPublisher(site, stranger)
	forged, _ := spub.Prepare(snapshotOf(now, 10, 10, 0), 3)
	if err := tr.Send(ctx, forged); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("unknown key POST: %v", err)
	}
	c := r.Counts()[Posted]
	if c[Accepted] != 2 || c[Duplicate] != 1 || c[Replay] != 1 || c[UnknownKey] != 1 {
		t.Fatalf("counts = %v", c)
	}
	v := r.View()
	if v.Totals.Reporting != 1 || v.Totals.BedsEquipped != 7 || v.Totals.BedsOccupied != 4 || v.Totals.ICUBeds != 10 {
		t.Fatalf("view totals = %+v", v.Totals)
	}
}
