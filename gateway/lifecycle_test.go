package gateway

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/outbox"
	"github.com/icugate/icugate/store"
)

// logRecorder keeps the messages logged, in order.
type logRecorder struct {
	mu   *sync.Mutex
	msgs *[]string
}

func newLogRecorder() logRecorder { return logRecorder{mu: &sync.Mutex{}, msgs: &[]string{}} }

func (r logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.msgs = append(*r.msgs, rec.Message)
	return nil
}
func (r logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r logRecorder) WithGroup(string) slog.Handler      { return r }

func (r logRecorder) index(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Index(*r.msgs, msg)
}

// unreachableInflux is an influxdb block whose server refuses connections:
// every point stays in the outbox.
const unreachableInflux = "influxdb:\n  url: http://127.0.0.1:9\n  bucket: test\n  flush_interval: 100ms\n"

// Run starts everything, and on cancel stops drivers, then the engine loop
// (after it took every queued observation), then the outputs (after the
// last points are durable): what the gateway accepted is in the outbox
// after the restart, and nothing it started outlives Run (the bubble
// fails the test if a goroutine remains).
func TestRunStopsInOrderAndLosesNothing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, unreachableInflux)
		logs := newLogRecorder()
		g, err := New(site, Options{SitePath: path, DataDir: dir, NoAPI: true, Logger: slog.New(logs)})
		if err != nil {
			t.Fatal(err)
		}
		if g.Ready() == nil {
			t.Error("ready before Run")
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		synctest.Wait()
		if err := g.Ready(); err != nil {
			t.Fatalf("not ready after start: %v", err)
		}
		if err := g.Run(ctx); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("a second Run: %v, want refused", err)
		}

		// Observations a driver handed over just before the stop.
		for i := range 200 {
			id := site.Devices[i%len(site.Devices)].ID
			if err := g.in.Offer(ctx, obs(t, site, id, time.Now(), nil)); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if g.Ready() == nil {
			t.Error("still ready after Run returned")
		}
		drivers, engine, outputs := logs.index("stopping: drivers"), logs.index("stopping: engine"), logs.index("stopping: outputs")
		if drivers < 0 || !(drivers < engine && engine < outputs) {
			t.Errorf("stop order in the log: drivers %d, engine %d, outputs %d; want increasing", drivers, engine, outputs)
		}
		if d := g.in.depth(); d != 0 {
			t.Errorf("%d observations left in the intake after Run", d)
		}
		took := g.counts.observations.Load()
		if took < 200 {
			t.Errorf("the engine took %d observations, want at least the 200 offered", took)
		}

		// The restart finds every point in the outbox, the last gateway
		// point with the final count among them.
		box, err := outbox.Open(outbox.Options{Dir: site.Outbox.Dir})
		if err != nil {
			t.Fatal(err)
		}
		defer box.Close()
		b, err := box.Next(1<<20, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		var lastGateway, states string
		for _, e := range b.Entries {
			line := string(e.Data)
			if strings.HasPrefix(line, "gateway,") {
				lastGateway = line
			}
			if strings.HasPrefix(line, "device_state,") && strings.Contains(line, `state="standby"`) {
				states += "+"
			}
		}
		if want := " observations=" + itoa(int(took)) + "i"; !strings.Contains(lastGateway, want) {
			t.Errorf("last gateway point %q lacks%s", lastGateway, want)
		}
		if len(states) < len(site.Devices) {
			t.Errorf("%d device_state standby points in the outbox, want one per device (%d)", len(states), len(site.Devices))
		}
	})
}

// Run refuses to start on a data directory another gateway holds, and
// says so.
func TestRunRefusesALockedDataDir(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		st, err := store.Open(filepath.Join(dir, "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		g, err := New(site, Options{SitePath: path, DataDir: dir, NoAPI: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "another icugate") {
			t.Errorf("Run on a locked data dir: %v, want an error naming the lock", err)
		}
	})
}

// Run fails to start, having started nothing, when an output cannot open.
func TestRunFailsOnAnUnreadableInfluxToken(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, unreachableInflux+"  token_file: @DIR@/no-such-token\n")
		g, err := New(site, Options{SitePath: path, DataDir: dir, NoAPI: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no-such-token") {
			t.Errorf("Run with a missing token file: %v, want an error naming it", err)
		}
	})
}

// New checks its site and fills in defaults.
func TestNewDefaults(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	dir := t.TempDir()
	site, path := smallSite(t, dir, nil, "")
	g, err := New(site, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.opts.SitePath != path || g.opts.DataDir != dir || g.Registry() == nil || g.log == nil || g.now == nil {
		t.Errorf("defaults: site path %q, data dir %q, registry %v; want %q, %q and a registry", g.opts.SitePath, g.opts.DataDir, g.Registry(), path, dir)
	}
	if s := g.Snapshot(); len(s.Devices) != 0 {
		t.Errorf("a snapshot before Run: %+v", s)
	}
	if g.APIAddr() != "" {
		t.Errorf("API address %q before Run", g.APIAddr())
	}
	if r := g.Degraded(); len(r) != 0 {
		t.Errorf("degraded before Run: %q", r)
	}
}
