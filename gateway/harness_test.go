package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/influx"
	"github.com/icugate/icugate/outbox"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
	"github.com/icugate/icugate/store"
)

// eventually polls cond until it holds, failing with what and cond's last
// detail when within passes. It is the one way these tests wait on a real
// clock: for something a real server or socket does, never for time to pass.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%s)", what, within, detail)
		}
		<-tick.C
	}
}

// smallSiteYAML is a two-bed unit with a monitor and a ventilator at each
// bed, on two Modbus endpoints (one per bed), plus a central store. The
// endpoints are @EP1@ and @EP2@; nothing listens there, so a driver that
// runs only ever fails to connect. Hold is zero so bed states follow their
// devices at once.
const smallSiteYAML = `hospital:
  id: test-hospital
  name: Test Hospital
  level: tertiary
  total_beds: 100
  region: region-test
target_year: 2027
profiles_dir: @PROFILES@
hold: 0s
units:
  - id: icu
    class: general
    beds: [icu-01, icu-02]
pools:
  - central-store
devices:
  - {id: mon-1, kind: monitor, profile: generic-monitor-modbus, at: icu-01, modbus: {address: "@EP1@", unit_id: 1}}
  - {id: vent-1, kind: ventilator, profile: generic-ventilator-modbus, at: icu-01, modbus: {address: "@EP1@", unit_id: 2}}
  - {id: mon-2, kind: monitor, profile: generic-monitor-modbus, at: icu-02, modbus: {address: "@EP2@", unit_id: 1}}
  - {id: vent-2, kind: ventilator, profile: generic-ventilator-modbus, at: icu-02, modbus: {address: "@EP2@", unit_id: 2}}
outbox:
  dir: @DIR@/outbox
`

// smallSite writes smallSiteYAML, edited by edit (nil: unchanged) and
// followed by extra, into dir and loads it.
func smallSite(t testing.TB, dir string, edit func(string) string, extra string) (*config.Site, string) {
	t.Helper()
	path := writeSmallSite(t, dir, edit, extra)
	site, err := config.Load(path)
	if err != nil {
		t.Fatalf("small site does not load: %v", err)
	}
	return site, path
}

// writeSmallSite writes the site file only (a reload reads it again).
func writeSmallSite(t testing.TB, dir string, edit func(string) string, extra string) string {
	t.Helper()
	profiles, err := filepath.Abs("../configs/profiles")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(
		"@PROFILES@", profiles,
		"@DIR@", dir,
		// Port 9 (discard) on loopback: nothing listens, a dial is refused.
		"@EP1@", "127.0.0.1:9",
		"@EP2@", "127.0.0.2:9",
	).Replace(smallSiteYAML)
	if edit != nil {
		text = edit(text)
	}
	text += strings.ReplaceAll(extra, "@DIR@", dir)
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sample builds a device's values, positioned as its profile's, from names;
// unnamed values are zero.
func sample(t testing.TB, site *config.Site, device string, named map[string]float64) []rules.Sample {
	t.Helper()
	dev := deviceByID(site, device)
	if dev == nil {
		t.Fatalf("no device %s", device)
	}
	prof := site.Profiles[dev.Profile]
	out := make([]rules.Sample, len(prof.Values))
	for i, v := range prof.Values {
		out[i].Num = named[v.Name]
	}
	return out
}

// loopHarness runs what Run runs between the drivers and the outputs (the
// engine loop and the output goroutine) on a real state store, without
// drivers or an API, so that tests can offer observations and commands
// themselves. Used inside a synctest bubble, its clock is the bubble's.
type loopHarness struct {
	g      *Gateway
	eng    *pipeline.Engine
	cancel context.CancelFunc
	done   chan struct{}
}

// loopOptions are the gateway's options plus what the harness wires
// instead of Run.
type loopOptions struct {
	Options
	// queue, when set, is the outbox behind an InfluxDB writer (the loop
	// then writes points).
	queue influx.Queue
	// noOutput leaves the spool to the test: it pops what the loop pushed.
	noOutput bool
}

// startLoop builds a gateway for site, opens data/state.db, restores what
// it holds, and runs the loop and the output until stop (or the test's end).
func startLoop(t testing.TB, site *config.Site, path, data string, lo loopOptions) *loopHarness {
	t.Helper()
	opts := lo.Options
	opts.SitePath, opts.DataDir, opts.NoAPI = path, data, true
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g, err := New(site, opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(data, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	g.store = st
	if lo.queue != nil {
		g.writer = newTestWriter(t, lo.queue)
	}
	eng, err := pipeline.New(site, g.now())
	if err != nil {
		t.Fatal(err)
	}
	g.restore(eng)
	// As in Run, the output outlives the loop: it takes the loop's last
	// batch after the loop stopped.
	ctx, cancel := context.WithCancel(context.Background())
	outCtx, stopOut := context.WithCancel(context.Background())
	h := &loopHarness{g: g, eng: eng, cancel: cancel, done: make(chan struct{})}
	outDone := make(chan struct{})
	if lo.noOutput {
		close(outDone)
	} else {
		go func() { defer close(outDone); g.output(outCtx) }()
	}
	go func() {
		defer close(h.done)
		g.loop(ctx, eng)
		g.spool.close()
		<-outDone
		stopOut()
		st.Close()
	}()
	t.Cleanup(h.stop)
	return h
}

// stop ends the loop (which takes what is queued first) and the output,
// and closes the store.
func (h *loopHarness) stop() {
	h.cancel()
	<-h.done
}

// offer hands observations to the intake as a driver would.
func (h *loopHarness) offer(t testing.TB, os ...pipeline.Observation) {
	t.Helper()
	for _, o := range os {
		if err := h.g.in.Offer(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// sync waits until the loop has taken everything offered so far and the
// served snapshot shows it: a command runs after the observations queued
// before it.
func (h *loopHarness) sync(t testing.TB) pipeline.Snapshot {
	t.Helper()
	for h.g.in.depth() > 0 {
		if err := h.g.do(context.Background(), func(*pipeline.Engine) {}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.g.do(context.Background(), func(*pipeline.Engine) {}); err != nil {
		t.Fatal(err)
	}
	return h.g.Snapshot()
}

// device finds a device in a snapshot.
func device(t testing.TB, s pipeline.Snapshot, id string) pipeline.DeviceStatus {
	t.Helper()
	for _, d := range s.Devices {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("device %s not in the snapshot", id)
	return pipeline.DeviceStatus{}
}

// bed finds a bed in a snapshot.
func bed(t testing.TB, s pipeline.Snapshot, id string) pipeline.BedStatus {
	t.Helper()
	for _, b := range s.Beds {
		if b.ID == id {
			return b
		}
	}
	t.Fatalf("bed %s not in the snapshot", id)
	return pipeline.BedStatus{}
}

// obs is one answer of device at time at with named values.
func obs(t testing.TB, site *config.Site, device string, at time.Time, named map[string]float64) pipeline.Observation {
	t.Helper()
	return pipeline.Observation{Device: device, Time: at, Values: sample(t, site, device, named)}
}

// allStandby offers one good, idle observation from every device of site.
func allStandby(t testing.TB, h *loopHarness, site *config.Site) {
	t.Helper()
	for _, d := range site.Devices {
		h.offer(t, pipeline.Observation{Device: d.ID, Time: time.Now(), Values: sample(t, site, d.ID, nil)})
	}
}

// newTestWriter is an InfluxDB writer over q that is never run: tests use
// it for Append (what makeDurable calls) only.
func newTestWriter(t testing.TB, q influx.Queue) *influx.Writer {
	t.Helper()
	w, err := influx.NewWriter(&config.InfluxDB{URL: "http://127.0.0.1:9", Bucket: "test"}, influx.Deps{
		Queue: q, DeadLetterPath: filepath.Join(t.TempDir(), "dead-letter.jsonl"),
		Getenv: func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// fakeQueue stands for the outbox behind a writer: it keeps what is
// appended, and fails an append while fail says so.
type fakeQueue struct {
	mu      sync.Mutex
	fail    func(attempt int) error
	calls   int
	records []outbox.Record
}

func (q *fakeQueue) Append(ctx context.Context, recs ...outbox.Record) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.fail != nil {
		if err := q.fail(q.calls); err != nil {
			return err
		}
	}
	q.records = append(q.records, recs...)
	return nil
}

func (q *fakeQueue) Next(int, int) (outbox.Batch, error) { return outbox.Batch{}, nil }
func (q *fakeQueue) Ack(outbox.Batch) error              { return nil }
func (q *fakeQueue) Rewind()                             {}
func (q *fakeQueue) Notify() <-chan struct{}             { return nil }
func (q *fakeQueue) Pending() uint64                     { return 0 }

// attempts is how many appends were tried.
func (q *fakeQueue) attempts() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

// lines is what was appended, as line protocol.
func (q *fakeQueue) lines() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]string, len(q.records))
	for i, r := range q.records {
		out[i] = strings.TrimSpace(string(r.Data))
	}
	return out
}

func TestSmallSiteLoads(t *testing.T) {
	t.Parallel()
	site, _ := smallSite(t, t.TempDir(), nil, "")
	if got := fmt.Sprint(len(site.Devices), len(site.Units)); got != "4 1" {
		t.Fatalf("devices, units = %s, want 4 1", got)
	}
}
