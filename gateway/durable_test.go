package gateway

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/influx"
)

var errDiskFull = errors.New("write outbox: no space left on device")

// newOutputGateway is a gateway with an InfluxDB writer over q and nothing
// running: tests drive makeDurable and output themselves.
func newOutputGateway(t *testing.T, q *fakeQueue) *Gateway {
	t.Helper()
	dir := t.TempDir()
	site, path := smallSite(t, dir, nil, "")
	g, err := New(site, Options{SitePath: path, DataDir: dir, Logger: slog.New(slog.DiscardHandler), NoAPI: true})
	if err != nil {
		t.Fatal(err)
	}
	g.writer = newTestWriter(t, q)
	return g
}

func statePoint(name string) influx.Point {
	return influx.NewPoint("device_state", influx.State, map[string]string{"device": name}, time.Unix(1, 0), influx.String("state", "standby"))
}

// While the outbox cannot write, makeDurable retries with a growing wait,
// says why in Degraded and counts each failure; once it writes, the points
// are queued exactly once and the reason goes.
func TestMakeDurableRetriesAndReportsHealth(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		q := &fakeQueue{fail: func(n int) error {
			if n <= 3 {
				return errDiskFull
			}
			return nil
		}}
		g := newOutputGateway(t, q)
		done := make(chan bool)
		start := time.Now()
		go func() { done <- g.makeDurable(context.Background(), []influx.Point{statePoint("a"), statePoint("b")}) }()
		synctest.Wait()
		reasons := strings.Join(g.Degraded(), "\n")
		if !strings.Contains(reasons, "outbox: cannot write points") || !strings.Contains(reasons, "no space left") || !strings.Contains(reasons, "2 points held") {
			t.Errorf("Degraded while the outbox fails = %q; want the outbox, the error and the points held", reasons)
		}
		if ok := <-done; !ok {
			t.Fatal("makeDurable gave up while the gateway runs")
		}
		// Three waits: at least half of each ceiling (250ms, 500ms, 1s).
		if d := time.Since(start); d < (250+500+1000)*time.Millisecond/2 || d > (250+500+1000)*time.Millisecond {
			t.Errorf("three retries took %v, want within the backoff's [875ms, 1.75s]", d)
		}
		if got := testCounter(g.m.appendFailures); got != 3 {
			t.Errorf("icugate_outbox_append_failures_total = %v, want 3", got)
		}
		if n := len(q.lines()); n != 2 {
			t.Errorf("%d points queued, want 2 (each once)", n)
		}
		if r := g.Degraded(); len(r) != 0 {
			t.Errorf("Degraded after the outbox recovered = %q, want none", r)
		}
	})
}

// When the gateway stops while the outbox fails, makeDurable gives up: the
// points are counted as dropped by class and false says not to ack.
func TestMakeDurableGivesUpAtStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		q := &fakeQueue{fail: func(int) error { return errDiskFull }}
		g := newOutputGateway(t, q)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan bool)
		points := []influx.Point{statePoint("a"), {Measurement: "device_telemetry", Class: influx.Telemetry, Time: time.Unix(1, 0), Fields: []influx.Field{influx.Float("x", 1)}}}
		go func() { done <- g.makeDurable(ctx, points) }()
		time.Sleep(time.Minute)
		calls := q.attempts()
		cancel()
		if ok := <-done; ok {
			t.Fatal("makeDurable reported points durable that the outbox never took")
		}
		if n := q.attempts(); n > calls+1 {
			t.Errorf("%d more attempts after the stop, want at most one", n-calls)
		}
		if s, tm := g.spool.droppedOf(influx.State), g.spool.droppedOf(influx.Telemetry); s != 1 || tm != 1 {
			t.Errorf("dropped state %d, telemetry %d; want 1 and 1", s, tm)
		}
		// Waits of 250ms doubling to a 5s cap, each with up to half of it
		// jittered away: a minute holds 16 to 28 attempts.
		if calls < 16 || calls > 28 {
			t.Errorf("%d attempts in a minute, want a capped backoff (16..28)", calls)
		}
	})
}

// A point the encoder refuses is not retried: the others were queued, and
// a retry would queue them twice.
func TestMakeDurableDoesNotRetryRefusedPoints(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	g := newOutputGateway(t, q)
	bad := influx.NewPoint("device_telemetry", influx.Telemetry, nil, time.Unix(1, 0), influx.Float("x", math.NaN()))
	if !g.makeDurable(context.Background(), []influx.Point{statePoint("a"), bad, statePoint("b")}) {
		t.Fatal("makeDurable failed on a refused point")
	}
	if q.attempts() != 1 || len(q.lines()) != 2 {
		t.Errorf("%d appends of %d points, want 1 append of the 2 good points", q.attempts(), len(q.lines()))
	}
}

// The output releases acks only once their points are durable, in order;
// points the outbox never took at a stop release no ack (an MQTT message is
// then redelivered after the restart).
func TestOutputAcksAfterDurable(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var failing atomic.Bool
		failing.Store(true)
		q := &fakeQueue{fail: func(int) error {
			if failing.Load() {
				return errDiskFull
			}
			return nil
		}}
		g := newOutputGateway(t, q)
		var mu sync.Mutex
		var ackedList []int
		ack := func(i int) func() {
			return func() { mu.Lock(); ackedList = append(ackedList, i); mu.Unlock() }
		}
		acks := func() []int { mu.Lock(); defer mu.Unlock(); return slices.Clone(ackedList) }
		g.spool.push(outBatch{points: []influx.Point{statePoint("a")}, acks: []func(){ack(1)}})
		g.spool.push(outBatch{acks: []func(){ack(2)}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); g.output(ctx) }()
		time.Sleep(10 * time.Second)
		if acked := acks(); len(acked) != 0 {
			t.Fatalf("acks %v released while the outbox fails", acked)
		}
		failing.Store(false)
		time.Sleep(10 * time.Second)
		if acked := acks(); !slices.Equal(acked, []int{1, 2}) {
			t.Fatalf("acks %v once durable, want [1 2]", acked)
		}

		// The outbox fails again and the gateway stops: no ack.
		failing.Store(true)
		g.spool.push(outBatch{points: []influx.Point{statePoint("b")}, acks: []func(){ack(3)}})
		time.Sleep(time.Second)
		g.spool.close()
		cancel()
		<-done
		if acked := acks(); len(acked) != 2 {
			t.Errorf("acks %v after a stop with points not durable, want [1 2]", acked)
		}
	})
}

// Without InfluxDB nothing needs to be durable: acks are released at once.
func TestOutputWithoutInfluxAcksAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		g, err := New(site, Options{SitePath: path, DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		var acked atomic.Int32
		g.spool.push(outBatch{points: []influx.Point{statePoint("a")}, acks: []func(){func() { acked.Add(1) }}})
		g.spool.close()
		g.output(context.Background())
		if acked.Load() != 1 {
			t.Errorf("%d acks released, want 1", acked.Load())
		}
	})
}
