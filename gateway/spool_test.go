package gateway

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/icugate/icugate/influx"
)

func pts(state, telemetry int) []influx.Point {
	var out []influx.Point
	for range state {
		out = append(out, influx.Point{Class: influx.State})
	}
	for range telemetry {
		out = append(out, influx.Point{Class: influx.Telemetry})
	}
	return out
}

// Over its limit the spool drops telemetry first, then the oldest state,
// counts every drop by class, and keeps every ack in order.
func TestSpoolShedsTelemetryFirstAndCounts(t *testing.T) {
	t.Parallel()
	s := newSpool(10)
	var acked []int
	for i := range 4 {
		s.push(outBatch{points: pts(2, 2), acks: []func(){func() { acked = append(acked, i) }}})
	}
	// 16 points for a limit of 10: 6 telemetry dropped, no state.
	if s.held() != 10 || s.droppedOf(influx.Telemetry) != 6 || s.droppedOf(influx.State) != 0 {
		t.Fatalf("held %d, dropped telemetry %d state %d; want 10, 6, 0", s.held(), s.droppedOf(influx.Telemetry), s.droppedOf(influx.State))
	}
	s.push(outBatch{points: pts(6, 0)})
	// 16 again: the last 2 telemetry, then the 4 oldest state points.
	if s.held() != 10 || s.droppedOf(influx.Telemetry) != 8 || s.droppedOf(influx.State) != 4 {
		t.Fatalf("held %d, dropped telemetry %d state %d; want 10, 8, 4", s.held(), s.droppedOf(influx.Telemetry), s.droppedOf(influx.State))
	}
	s.close()
	var states int
	for {
		bs, ok := s.pop(context.Background())
		if !ok {
			break
		}
		for _, b := range bs {
			for _, p := range b.points {
				if p.Class != influx.State {
					t.Fatal("telemetry survived while state was dropped")
				}
				states++
			}
			for _, a := range b.acks {
				a()
			}
		}
	}
	if states != 10 || len(acked) != 4 || acked[0] != 0 || acked[3] != 3 {
		t.Fatalf("popped %d state points and acks %v; want 10 and [0 1 2 3]", states, acked)
	}
}

// pop waits for a batch, takes every queued one at once, and ends with its
// context or once the spool is closed and empty; a batch whose points were
// all shed still carries its acks.
func TestSpoolPopWaitsAndEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newSpool(2)
		got := make(chan []outBatch)
		go func() {
			bs, _ := s.pop(context.Background())
			got <- bs
		}()
		synctest.Wait()
		select {
		case bs := <-got:
			t.Fatalf("pop returned %v from an empty spool", bs)
		default:
		}
		acked := false
		s.push(outBatch{points: pts(0, 3), acks: []func(){func() { acked = true }}})
		bs := <-got
		if len(bs) != 1 || len(bs[0].points) != 2 || len(bs[0].acks) != 1 {
			t.Fatalf("popped %+v, want one batch of 2 points (1 shed) and its ack", bs)
		}
		bs[0].acks[0]()
		if !acked || s.held() != 0 {
			t.Errorf("acked %v, held %d after pop; want true, 0", acked, s.held())
		}
		s.push(outBatch{points: pts(3, 0)})
		s.push(outBatch{acks: []func(){func() {}}})
		if s.held() != 2 || s.droppedOf(influx.State) != 1 {
			t.Errorf("held %d, dropped state %d; want 2, 1", s.held(), s.droppedOf(influx.State))
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if bs, ok := s.pop(ctx); !ok || len(bs) != 2 {
			t.Errorf("pop with batches queued and an ended context: %d batches, %v; want both", len(bs), ok)
		}
		if _, ok := s.pop(ctx); ok {
			t.Error("pop of an empty spool with an ended context returned true")
		}
		s.close()
		if !s.isClosed() {
			t.Error("not closed after close")
		}
		if _, ok := s.pop(context.Background()); ok {
			t.Error("pop of a closed, empty spool returned true")
		}
		s.drop(pts(1, 2))
		if s.droppedOf(influx.State) != 2 || s.droppedOf(influx.Telemetry) != 3 {
			t.Errorf("dropped state %d telemetry %d after drop, want 2, 3", s.droppedOf(influx.State), s.droppedOf(influx.Telemetry))
		}
	})
}
