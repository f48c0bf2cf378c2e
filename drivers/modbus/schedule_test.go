package modbus

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// fakeConn answers every read with zeroed registers after a delay, or,
// for a dead unit, times out after the timeout as a real line would.
type fakeConn struct {
	delay time.Duration
	dead  map[byte]bool
	reads *[]byte // units read, in order
}

func (f *fakeConn) read(unit byte, r Request, timeout time.Duration) ([]byte, error) {
	*f.reads = append(*f.reads, unit)
	if f.dead[unit] {
		time.Sleep(timeout)
		return nil, os.ErrDeadlineExceeded
	}
	time.Sleep(f.delay)
	return make([]byte, 2*int(r.Quantity)), nil
}

func (f *fakeConn) close() {}

// timeIntake records when each device's observations arrive.
type timeIntake struct {
	mu   sync.Mutex
	at   map[string][]time.Time
	errs map[string]int
}

func (in *timeIntake) Offer(ctx context.Context, o pipeline.Observation) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.at[o.Device] = append(in.at[o.Device], o.Time)
	if o.Err != nil {
		in.errs[o.Device]++
	}
	return ctx.Err()
}

// TestEndpointSchedule runs one endpoint worker in a bubble: four devices
// behind one address, one of them dead, two intervals. Each healthy device
// keeps its own interval and the endpoint's phase, waits for the dead
// unit's timeout at most once (then the dead unit is polled last), and the
// dead unit is backed off.
func TestEndpointSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prof := &config.Profile{Name: "p", Kind: "ventilator", Values: []config.Value{
			{Name: "status", Table: config.TableHolding, Address: ptr(0), Type: config.TypeUint16},
		}}
		if err := prof.Compile(); err != nil {
			t.Fatal(err)
		}
		plan, err := NewPlan(prof)
		if err != nil {
			t.Fatal(err)
		}
		const timeout = 100 * time.Millisecond
		mb := &config.ModbusDevice{Address: "10.0.0.1:502"}
		ep := newEndpoint("modbus-tcp "+mb.Address, mb)
		intervals := []time.Duration{time.Second, time.Second, 3 * time.Second, time.Second}
		for i, iv := range intervals {
			d := &config.Device{ID: "dev-" + string(rune('a'+i)), Modbus: &config.ModbusDevice{
				Address: mb.Address, UnitID: 1 + i, Interval: iv, Timeout: timeout}}
			ep.add(newDevice(d, prof, plan, ep, nil, Options{MaxUnitBackoff: 4 * time.Second}))
		}
		var reads []byte
		fake := &fakeConn{delay: time.Millisecond, dead: map[byte]bool{1: true}, reads: &reads}
		ep.dial = func(context.Context, *config.ModbusDevice, time.Duration) (conn, error) { return fake, nil }
		in := &timeIntake{at: map[string][]time.Time{}, errs: map[string]int{}}
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		ep.start(start)
		done := make(chan struct{})
		go func() {
			ep.work(ctx, ep.conns[0], in, slog.New(slog.NewTextHandler(io.Discard, nil)))
			close(done)
		}()
		const run = 12 * time.Second
		time.Sleep(run)
		cancel()
		<-done

		for i, iv := range intervals {
			phase := start.Add(startOffset(ep.key, iv))
			id := "dev-" + string(rune('a'+i))
			at := in.at[id]
			if want := int(run / iv); len(at) < want-1 || len(at) > want {
				t.Errorf("%s (interval %v): %d observations in %v, want about %d", id, iv, len(at), run, want)
			}
			if i == 0 {
				continue // the dead unit: only its failures matter
			}
			delayed := 0
			for k, ti := range at {
				late := ti.Sub(phase) % iv
				if late > timeout+10*time.Millisecond {
					t.Errorf("%s observation %d: %v after its tick, want at most one timeout", id, k, late)
				}
				if late > 10*time.Millisecond {
					delayed++
				}
			}
			// Only the first tick, before the unit is known to time out,
			// may make its neighbours wait: then it is polled last.
			if delayed > 1 {
				t.Errorf("%s: %d of %d observations delayed by the dead unit, want at most 1", id, delayed, len(at))
			}
		}
		if in.errs["dev-a"] != len(in.at["dev-a"]) || in.errs["dev-b"]+in.errs["dev-c"]+in.errs["dev-d"] != 0 {
			t.Errorf("errors %v: want only the dead unit failing", in.errs)
		}
		dead := 0
		for _, u := range reads {
			if u == 1 {
				dead++
			}
		}
		if dead > len(in.at["dev-a"])/2 {
			t.Errorf("dead unit read %d times in %d polls: not backed off", dead, len(in.at["dev-a"]))
		}
	})
}

// TestRescheduleSkipsMissedTicks checks that a device polled late keeps
// its phase and is not polled again for the ticks it missed.
func TestRescheduleSkipsMissedTicks(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ep := newEndpoint("k", &config.ModbusDevice{})
	for _, tc := range []struct {
		done time.Duration // when the poll of the tick at t0 ended
		want time.Duration
	}{
		{10 * time.Millisecond, time.Second},
		{999 * time.Millisecond, time.Second},
		{time.Second, 2 * time.Second},
		{2500 * time.Millisecond, 3 * time.Second},
	} {
		dv := &device{interval: time.Second, due: t0}
		ep.due = ep.due[:0]
		ep.reschedule(dv, t0.Add(tc.done))
		if got := dv.due.Sub(t0); got != tc.want {
			t.Errorf("poll ended at +%v: next tick at +%v, want +%v", tc.done, got, tc.want)
		}
		if d, wait := ep.next(t0.Add(tc.done)); d != nil || wait != tc.want-tc.done {
			t.Errorf("poll ended at +%v: next gives %v, wait %v", tc.done, d, wait)
		}
	}
}
