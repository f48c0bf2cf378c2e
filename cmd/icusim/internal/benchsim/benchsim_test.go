package benchsim

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
)

func TestLatenessBuckets(t *testing.T) {
	t.Parallel()
	l := NewLateness()
	iv := time.Second
	for _, gap := range []time.Duration{
		500 * time.Millisecond, // early: on time
		iv,                     // on time
		iv + 50*time.Microsecond,
		iv + 250*time.Microsecond, // bucket 2
		iv + 10*time.Millisecond,  // bucket 100
		iv + time.Hour,            // the last bucket
	} {
		l.Add(gap, iv)
	}
	want := [][2]int64{{0, 3}, {2, 1}, {100, 1}, {Buckets - 1, 1}}
	if got := l.Sparse(); !slices.Equal(got, want) {
		t.Errorf("Sparse() = %v, want %v", got, want)
	}
	p50, p99, pmax := l.Percentiles()
	if p50 != 0 || p99 != Max || pmax != Max {
		t.Errorf("percentiles %v %v %v; want 0, %v, %v", p50, p99, pmax, Max, Max)
	}
	l.Reset()
	if got := l.Sparse(); got != nil {
		t.Errorf("after Reset: %v", got)
	}
}

// TestSparsePercentilesMergesShards: pairs of several shards, a bucket
// repeated, add up; pairs outside the histogram are ignored.
func TestSparsePercentilesMergesShards(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name           string
		pairs          [][2]int64
		p50, p99, pmax time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one bucket", [][2]int64{{10, 5}}, time.Millisecond, time.Millisecond, time.Millisecond},
		{"shards repeat a bucket", [][2]int64{{0, 49}, {30, 1}, {0, 49}, {30, 1}}, 0, 3 * time.Millisecond, 3 * time.Millisecond},
		{"median in the second bucket", [][2]int64{{1, 40}, {2, 60}}, 2 * Step, 2 * Step, 2 * Step},
		{"out of range ignored", [][2]int64{{-1, 100}, {Buckets, 100}, {5, 1}, {6, -3}}, 5 * Step, 5 * Step, 5 * Step},
	} {
		p50, p99, pmax := SparsePercentiles(c.pairs)
		if p50 != c.p50 || p99 != c.p99 || pmax != c.pmax {
			t.Errorf("%s: %v %v %v; want %v %v %v", c.name, p50, p99, pmax, c.p50, c.p99, c.pmax)
		}
	}
}

func site(t *testing.T, addr string) *config.Site {
	t.Helper()
	zero := 0
	p := &config.Profile{Name: "p", Kind: "ventilator", Values: []config.Value{{Name: "status", Table: config.TableHolding, Address: &zero}}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return &config.Site{Profiles: map[string]*config.Profile{"p": p},
		Devices: []config.Device{{ID: "d", Kind: "ventilator", Profile: "p", Modbus: &config.ModbusDevice{Address: addr, UnitID: 1}}}}
}

// TestStartSimulatorWaitsForTheHeldPort: the port is still held when the
// start begins; once it is freed the simulator starts on it.
func TestStartSimulatorWaitsForTheHeldPort(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := held.Addr().String()
	type result struct {
		sim *simulator.Simulator
		err error
	}
	done := make(chan result, 1)
	opts := simulator.Options{Logger: slog.New(slog.DiscardHandler)}
	go func() {
		sim, err := StartSimulator(t.Context(), site(t, addr), opts, 20*time.Millisecond)
		done <- result{sim, err}
	}()
	// The first attempts fail on the held port; free it.
	select {
	case r := <-done:
		t.Fatalf("started on a held port: %v", r.err)
	case <-time.After(100 * time.Millisecond):
	}
	held.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.sim.Close()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("simulator not serving %s: %v", addr, err)
	}
	c.Close()
}

func TestStartSimulatorGivesUp(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	opts := simulator.Options{Logger: slog.New(slog.DiscardHandler)}
	if _, err := StartSimulator(ctx, site(t, held.Addr().String()), opts, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("held port: %v; want the deadline, with the last error", err)
	}
	bad := site(t, "127.0.0.1:1")
	bad.Devices[0].Profile = "missing"
	start := time.Now()
	if _, err := StartSimulator(context.Background(), bad, opts, time.Hour); err == nil {
		t.Error("a site with a missing profile started")
	} else if time.Since(start) > 10*time.Second {
		t.Error("a config error was retried")
	}
}
