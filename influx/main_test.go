package influx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/outbox"
)

func TestMain(m *testing.M) {
	if os.Getenv(killChildEnv) != "" {
		os.Exit(killChild())
	}
	goleak.VerifyTestMain(m)
}

// recordingQueue wraps the outbox and remembers the order of what was
// acknowledged, so tests can check delivery order.
type recordingQueue struct {
	*outbox.Outbox
	mu    sync.Mutex
	acked []uint64
}

func (q *recordingQueue) Ack(b outbox.Batch) error {
	q.mu.Lock()
	for _, e := range b.Entries {
		q.acked = append(q.acked, e.Seq)
	}
	q.mu.Unlock()
	return q.Outbox.Ack(b)
}

func (q *recordingQueue) checkOrder(t *testing.T) {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := 1; i < len(q.acked); i++ {
		if q.acked[i] <= q.acked[i-1] {
			t.Fatalf("delivered seq %d after %d", q.acked[i], q.acked[i-1])
		}
	}
}

type rig struct {
	srv    *influxtest.Server
	q      *recordingQueue
	w      *Writer
	dir    string
	cancel context.CancelFunc
	done   chan error
}

func fastDeps(q Queue, dir string) Deps {
	return Deps{
		Queue:          q,
		DeadLetterPath: filepath.Join(dir, "deadletter.jsonl"),
		Retry:          Backoff{Min: 20 * time.Millisecond, Max: 300 * time.Millisecond},
		Hold:           Backoff{Min: 50 * time.Millisecond, Max: 300 * time.Millisecond},
		Timeout:        5 * time.Second,
	}
}

// newRig opens an outbox and a writer against srv (not started: call run).
func newRig(t *testing.T, srv *influxtest.Server, bucket, token string, maxSize int64, adjust ...func(*Deps)) *rig {
	t.Helper()
	dir := t.TempDir()
	ob, err := outbox.Open(outbox.Options{Dir: filepath.Join(dir, "outbox"), MaxSize: maxSize})
	if err != nil {
		t.Fatal(err)
	}
	q := &recordingQueue{Outbox: ob}
	deps := withToken(fastDeps(q, dir), token)
	for _, f := range adjust {
		f(&deps)
	}
	w, err := NewWriter(&config.InfluxDB{URL: srv.URL, Bucket: bucket, BatchSize: 1000, FlushInterval: 50 * time.Millisecond}, deps)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{srv: srv, q: q, w: w, dir: dir}
	t.Cleanup(func() {
		r.stop()
		w.Close()
		ob.Close()
	})
	return r
}

func withToken(d Deps, token string) Deps {
	d.Getenv = func(k string) string {
		if k == TokenEnv {
			return token
		}
		return ""
	}
	return d
}

func (r *rig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.w.Run(ctx) }()
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

// waitCount polls InfluxDB until measurement.field counts want points.
func waitCount(t *testing.T, srv *influxtest.Server, measurement, field string, want int, within time.Duration) {
	t.Helper()
	var n int
	var err error
	waitFor(t, within, fmt.Sprintf("%d points of %s.%s in InfluxDB", want, measurement, field), func() bool {
		n, err = srv.Count(measurement, field)
		return err == nil && n == want
	}, func() string { return fmt.Sprintf(": %d points (last error %v)", n, err) })
}

// waitFor polls cond until it holds, failing the test with what it waited
// for (and, when state is set, what it saw last) if within passes first.
// Deadlines are generous: a loaded machine slows the wait, not the result.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool, state func() string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			if state != nil {
				msg = state()
			}
			t.Fatalf("timed out after %v waiting for %s%s", within, what, msg)
		}
		<-tick.C
	}
}

// waitDrained waits until q has no pending points.
func waitDrained(t testing.TB, q interface{ Pending() uint64 }, within time.Duration) {
	t.Helper()
	waitFor(t, within, "the outbox to drain", func() bool { return q.Pending() == 0 },
		func() string { return fmt.Sprintf(": %d points pending", q.Pending()) })
}

func seqPoint(m string, class Class, i int) Point {
	return NewPoint(m, class, map[string]string{"device": fmt.Sprintf("d%d", i%7)},
		time.Unix(1_700_000_000, 0).Add(time.Duration(i)*time.Millisecond), Int("i", int64(i)))
}
