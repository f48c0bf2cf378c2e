package gateway

import (
	"context"
	"testing"

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
